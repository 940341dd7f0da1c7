//! A recent block's postings, kept inline in its `search_recent` row until the writer merges recent
//! blocks into one (see the proxy's `search_block`): for each word, its hash (8 bytes, little
//! endian), the length of its positions (a LEB128 varint) and the positions (`encode_positions`).

use crate::positions::{decode_positions, encode_positions};
use crate::varint::{push_varint, read_varint};

pub fn encode_block_postings<'a>(postings: impl IntoIterator<Item = (u64, &'a [u32])>) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (word, positions) in postings {
        let encoded = encode_positions(positions);
        bytes.extend_from_slice(&word.to_le_bytes());
        push_varint(&mut bytes, encoded.len() as u64);
        bytes.extend_from_slice(&encoded);
    }
    bytes
}

/// The postings back; `None` when the bytes are not what `encode_block_postings` wrote.
pub fn decode_block_postings(mut bytes: &[u8]) -> Option<Vec<(u64, Vec<u32>)>> {
    let mut postings = Vec::new();
    while !bytes.is_empty() {
        let (word, rest) = bytes.split_first_chunk::<8>()?;
        let (length, rest) = read_varint(rest, 5)?;
        let length = usize::try_from(length).ok()?;
        let positions = decode_positions(rest.get(..length)?)?;
        postings.push((u64::from_le_bytes(*word), positions));
        bytes = &rest[length..];
    }
    Some(postings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_postings_round_trip() {
        let postings = vec![(u64::MAX, vec![0, 3]), (7, (0..300).collect()), (0, vec![])];
        let encoded = encode_block_postings(postings.iter().map(|(word, positions)| (*word, &positions[..])));
        assert_eq!(decode_block_postings(&encoded), Some(postings));
        assert_eq!(decode_block_postings(&[]), Some(vec![]));
    }

    #[test]
    fn cut_bytes_are_refused() {
        let bytes = encode_block_postings([(1, &[1, 2, 3][..])]);
        for end in 1..bytes.len() {
            assert_eq!(decode_block_postings(&bytes[..end]), None, "{end}");
        }
    }
}
