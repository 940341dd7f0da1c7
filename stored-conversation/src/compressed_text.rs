//! A message's text compressed for storage, in the layout of MySQL's `COMPRESS()`: the text's length
//! in bytes (4 bytes, least significant first), then a zlib stream. So `UNCOMPRESS(content_compressed)`
//! gives the text back inside MySQL and MariaDB too, for anyone who queries the tables directly.
//!
//! Coding agents send kilobytes of source code and command output per turn; deflated they take less
//! than half the space (`../shared/data/traces`: 1.80 MB of texts of 512 bytes or more → 0.77 MB).

/// Shorter texts are stored as they are: they gain little, and most messages are short.
pub const MIN_COMPRESSED_LEN: usize = 512;

// miniz_oxide's fastest level: on the same texts the default level (6) saves another 12 % of the
// compressed bytes for twice the CPU, and this runs for every new message logged.
const LEVEL: u8 = 1;

/// `text` compressed, when it is long enough and compressing makes it smaller.
pub fn compress_text(text: &str) -> Option<Vec<u8>> {
    if text.len() < MIN_COMPRESSED_LEN {
        return None;
    }
    let length = u32::try_from(text.len()).ok()?;
    let deflated = miniz_oxide::deflate::compress_to_vec_zlib(text.as_bytes(), LEVEL);
    if deflated.len() + 4 >= text.len() {
        return None;
    }
    let mut stored = Vec::with_capacity(deflated.len() + 4);
    stored.extend_from_slice(&length.to_le_bytes());
    stored.extend_from_slice(&deflated);
    Some(stored)
}

/// The text [`compress_text`] (or MySQL's `COMPRESS()`) stored; `None` when the bytes are not such a
/// text (cut short, another format, or not UTF-8).
pub fn decompress_text(stored: &[u8]) -> Option<String> {
    let (length, deflated) = stored.split_first_chunk::<4>()?;
    let length = usize::try_from(u32::from_le_bytes(*length)).ok()?;
    let text = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(deflated, length).ok()?;
    (text.len() == length).then_some(())?;
    String::from_utf8(text).ok()
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
