//! A message's text or raw JSON compressed for storage, in the layout of MySQL's `COMPRESS()`: the
//! length in bytes (4 bytes, least significant first), then a zlib stream. So `UNCOMPRESS(…)` gives
//! the bytes back inside MySQL and MariaDB too, for anyone who queries the tables directly.
//!
//! Coding agents send kilobytes of source code and command output per turn; deflated they take less
//! than half the space (`../shared/data/traces`: 1.58 MB of unique texts of 1 KB or more → 0.62 MB).
//! What is left of a message besides its text can be as long: an assistant message's tool calls
//! (a whole file to write, as arguments), or what a client keeps beside it (mini-swe-agent's copy of
//! the provider's response): 1.48 MB of such messages of 1 KB or more in the traces → 0.67 MB.

use std::cell::RefCell;

use libdeflater::{CompressionLvl, Compressor};

/// Shorter texts are stored as they are: most messages are short, and below 1 KB deflating costs the
/// writer more CPU than it saves MySQL. Each call sets up 128 KB of match-finder tables and a
/// Huffman code whatever the length: on 1 KB records deflating an ~840-byte text took 9 µs of the
/// writer's ~40 µs, and storing the text plain cost MariaDB only ~6 µs more (`bench-log-writer`,
/// BENCHMARKS.md). The texts of 512 bytes to 1 KB in the traces are 0.19 MB of 1.77 MB.
pub const MIN_COMPRESSED_LEN: usize = 1024;

thread_local! {
    // One compressor per thread, made once: making one allocates its tables. libdeflate's fastest
    // level, on the traces' prose cut into texts of 600 / 1,500 / 8,000 bytes: 8.7 / 12.8 / 36.4 µs
    // per text and 52 / 42 / 29 % of the size, where miniz_oxide's fastest took 12.7 / 17.8 / 48.9 µs
    // for 54 / 45 / 33 % (most of its time on a short text went to resetting ~300 KB of tables);
    // libdeflate's default level is slower than miniz_oxide's fastest for a tenth less.
    static COMPRESSOR: RefCell<Option<Compressor>> = const { RefCell::new(None) };
}

/// libdeflate's fastest level that compresses (`CompressionLvl::fastest()` is level 0, which only
/// stores).
fn level_one() -> CompressionLvl {
    CompressionLvl::new(1).expect("1 is a compression level")
}

/// `bytes` compressed, when they are long enough and compressing makes them smaller.
pub fn compress(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.len() < MIN_COMPRESSED_LEN {
        return None;
    }
    let length = u32::try_from(bytes.len()).ok()?;
    // Room for less than the bytes themselves, length included: a zlib stream that does not fit
    // would not make them smaller.
    let mut stored = vec![0; bytes.len() - 1];
    stored[..4].copy_from_slice(&length.to_le_bytes());
    let written = COMPRESSOR.with_borrow_mut(|compressor| {
        let compressor = compressor.get_or_insert_with(|| Compressor::new(level_one()));
        compressor.zlib_compress(bytes, &mut stored[4..]).ok()
    })?;
    stored.truncate(4 + written);
    Some(stored)
}

/// The bytes [`compress`] (or MySQL's `COMPRESS()`) stored; `None` when `stored` is not such a
/// value (cut short, or another format).
pub fn decompress(stored: &[u8]) -> Option<Vec<u8>> {
    let (length, deflated) = stored.split_first_chunk::<4>()?;
    let length = usize::try_from(u32::from_le_bytes(*length)).ok()?;
    let bytes = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(deflated, length).ok()?;
    (bytes.len() == length).then_some(bytes)
}

/// [`compress`] for a text.
pub fn compress_text(text: &str) -> Option<Vec<u8>> {
    compress(text.as_bytes())
}

/// The text [`compress_text`] stored; `None` when the bytes are not such a text (see [`decompress`],
/// or not UTF-8).
pub fn decompress_text(stored: &[u8]) -> Option<String> {
    String::from_utf8(decompress(stored)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_text_comes_back_exactly() {
        let text = "fn main() {\n    println!(\"héllo {}\", 1);\n}\n".repeat(40);
        let stored = compress_text(&text).unwrap();
        assert!(stored.len() < text.len() / 4, "{} bytes", stored.len());
        assert_eq!(&stored[..4], &(text.len() as u32).to_le_bytes());
        assert_eq!(decompress_text(&stored).as_deref(), Some(text.as_str()));
    }

    #[test]
    fn the_reused_compressor_gives_what_a_new_one_gives_and_only_when_smaller() {
        // Letters of a small pseudo-random generator deflate to ~3/4 of their length; bytes of all
        // 256 values do not deflate at all.
        let mut state = 7u32;
        let mut next = || {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (state >> 16) as u8
        };
        let letters: Vec<u8> = (0..20_000).map(|_| b'a' + next() % 26).collect();
        let noise: Vec<u8> = (0..5_000).map(|_| next()).collect();
        let code = "fn main() {\n    println!(\"héllo {}\", 1);\n}\n".repeat(400).into_bytes();
        for input in [&code, &letters, &code, &noise, &letters[..MIN_COMPRESSED_LEN + 100].to_vec()] {
            let mut fresh = Compressor::new(level_one());
            let mut deflated = vec![0; fresh.zlib_compress_bound(input.len())];
            let written = fresh.zlib_compress(input, &mut deflated).unwrap();
            let expected = (written + 4 < input.len())
                .then(|| [&(input.len() as u32).to_le_bytes()[..], &deflated[..written]].concat());
            let stored = compress(input);
            assert_eq!(stored, expected, "{} bytes", input.len());
            if let Some(stored) = stored {
                assert_eq!(decompress(&stored).as_ref(), Some(input));
            }
        }
        assert!(compress(&letters).unwrap().len() > letters.len() / 2);
        assert_eq!(compress(&noise), None);
    }

    #[test]
    fn short_texts_are_left_as_they_are() {
        assert_eq!(compress_text(&"a".repeat(MIN_COMPRESSED_LEN - 1)), None);
        assert!(compress_text(&"a".repeat(MIN_COMPRESSED_LEN)).is_some());
    }

    #[test]
    fn damaged_bytes_are_not_a_text() {
        let text = "x".repeat(MIN_COMPRESSED_LEN);
        let stored = compress_text(&text).unwrap();
        assert_eq!(decompress_text(&stored[..stored.len() - 3]), None);
        assert_eq!(decompress_text(&stored[..3]), None);
        let mut longer = stored.clone();
        longer[..4].copy_from_slice(&(2 * MIN_COMPRESSED_LEN as u32).to_le_bytes());
        assert_eq!(decompress_text(&longer), None);
    }
}
