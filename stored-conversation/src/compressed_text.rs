//! A message's text or raw JSON compressed for storage, in the layout of MySQL's `COMPRESS()`: the
//! length in bytes (4 bytes, least significant first), then a zlib stream. So `UNCOMPRESS(…)` gives
//! the bytes back inside MySQL and MariaDB too, for anyone who queries the tables directly.
//!
//! Coding agents send kilobytes of source code and command output per turn; deflated they take less
//! than half the space (`../shared/data/traces`: 1.80 MB of texts of 512 bytes or more → 0.77 MB).
//! What is left of a message besides its text can be as long: an assistant message's tool calls
//! (a whole file to write, as arguments), or what a client keeps beside it (mini-swe-agent's copy of
//! the provider's response): 1.89 MB of such messages in the traces → 0.90 MB.

use std::cell::RefCell;

use miniz_oxide::deflate::core::{compress as deflate, CompressorOxide, TDEFLFlush, TDEFLStatus};
use miniz_oxide::DataFormat;

/// Shorter texts are stored as they are: they gain little, and most messages are short.
pub const MIN_COMPRESSED_LEN: usize = 512;

// miniz_oxide's fastest level: on the same texts the default level (6) saves another 12 % of the
// compressed bytes for twice the CPU, and this runs for every new message logged.
const LEVEL: u8 = 1;

thread_local! {
    // A compressor holds ~300 KB of tables. A new one for each text (as `compress_to_vec_zlib`
    // makes) spent a tenth of the log writer's CPU allocating and zeroing them; a reset one is only
    // zeroed.
    static COMPRESSOR: RefCell<Option<Box<CompressorOxide>>> = const { RefCell::new(None) };
}

/// `bytes` compressed, when they are long enough and compressing makes them smaller.
pub fn compress(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.len() < MIN_COMPRESSED_LEN {
        return None;
    }
    let length = u32::try_from(bytes.len()).ok()?;
    let mut stored = vec![0; 4 + bytes.len() / 2];
    stored[..4].copy_from_slice(&length.to_le_bytes());
    let mut written = 4;
    COMPRESSOR.with_borrow_mut(|compressor| {
        let compressor = compressor.get_or_insert_with(|| {
            let mut compressor = Box::<CompressorOxide>::default();
            compressor.set_format_and_level(DataFormat::Zlib, LEVEL);
            compressor
        });
        compressor.reset();
        let mut input = bytes;
        loop {
            let (status, read, wrote) = deflate(compressor, input, &mut stored[written..], TDEFLFlush::Finish);
            written += wrote;
            input = &input[read..];
            match status {
                TDEFLStatus::Done => return Some(()),
                // Out of room: worth going on only while the result can still come out smaller.
                TDEFLStatus::Okay if stored.len() < bytes.len() => {
                    let more = stored.len().min(bytes.len() - stored.len()).max(64);
                    stored.resize(stored.len() + more, 0);
                }
                _ => return None,
            }
        }
    })?;
    if written >= bytes.len() {
        return None;
    }
    stored.truncate(written);
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
    fn the_reused_compressor_gives_what_a_new_one_gives() {
        // Letters of a small pseudo-random generator deflate to ~3/4 of their length: more than the
        // first output buffer holds. Bytes of all 256 values do not deflate at all.
        let mut state = 7u32;
        let mut next = || {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (state >> 16) as u8
        };
        let letters: Vec<u8> = (0..20_000).map(|_| b'a' + next() % 26).collect();
        let noise: Vec<u8> = (0..5_000).map(|_| next()).collect();
        let code = "fn main() {\n    println!(\"héllo {}\", 1);\n}\n".repeat(400).into_bytes();
        for input in [&code, &letters, &code, &noise, &letters[..600].to_vec()] {
            let deflated = miniz_oxide::deflate::compress_to_vec_zlib(input, LEVEL);
            let expected = (deflated.len() + 4 < input.len())
                .then(|| [&(input.len() as u32).to_le_bytes()[..], &deflated].concat());
            assert_eq!(compress(input), expected, "{} bytes", input.len());
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
        let text = "x".repeat(1_000);
        let stored = compress_text(&text).unwrap();
        assert_eq!(decompress_text(&stored[..stored.len() - 3]), None);
        assert_eq!(decompress_text(&stored[..3]), None);
        let mut longer = stored.clone();
        longer[..4].copy_from_slice(&2_000u32.to_le_bytes());
        assert_eq!(decompress_text(&longer), None);
    }
}
