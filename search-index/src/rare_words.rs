//! A full block's rare words: those that find a single request of the block. Most of a block's
//! words are such (typically half of its posting rows), and a row of its own for one position is
//! what costs MySQL, not the bytes; so they are kept instead in shared rows, one per block and
//! bucket of word hashes, each holding its words' postings in the layout of
//! [`encode_block_postings`](crate::encode_block_postings). A search for a word reads the word's own
//! rows and its bucket's shared rows.

/// A word that finds at most this many requests of a full block is kept in its bucket's shared row.
pub const RARE_WORD_MAX_REQUESTS: usize = 1;

/// The bucket of shared rows a word's rare postings go to, one of 256, so that a bucket's row holds
/// about 1/256 of a block's rare words. FNV-1a's top byte alone is not spread evenly for similar
/// words ("word0" … "word1999" fell into 22 buckets): the hash is first multiplied by 2⁶⁴/φ
/// (Fibonacci hashing), which carries every bit of it into the top byte.
pub fn rare_word_bucket(word: u64) -> u8 {
    (word.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
}

/// Whether a word with these positions in a full block goes to its bucket's shared row.
pub fn is_rare(positions: &[u32]) -> bool {
    positions.len() <= RARE_WORD_MAX_REQUESTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_words_spread_over_the_buckets() {
        let mut used = std::collections::HashSet::new();
        for i in 0..2_000 {
            let mut words = std::collections::HashSet::new();
            crate::word_hashes(&format!("word{i}"), &mut words);
            used.extend(words.into_iter().map(rare_word_bucket));
        }
        // 2,000 words thrown at random into 256 buckets leave none empty but by a rare chance.
        assert!(used.len() > 250, "{} buckets used", used.len());
    }

    #[test]
    fn only_a_word_of_one_request_is_rare() {
        assert!(is_rare(&[7]));
        assert!(!is_rare(&[1, 7]));
    }
}
