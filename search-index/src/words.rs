//! Which words a text holds, as the hashes the index stores. Writer and reader must agree on every
//! rule here: a change makes older rows unfindable, so it needs a migration that rebuilds the index.

use std::collections::HashSet;

/// Shorter words are not indexed: single letters match everything and say nothing.
pub const MIN_WORD_CHARS: usize = 2;
/// Longer runs (hashes, base64, minified code) are not indexed: nobody types them in a search box,
/// and they would make a posting row per request.
pub const MAX_WORD_BYTES: usize = 64;

/// The distinct words of `text`, each hashed, in no particular order. A word is a run of letters,
/// digits and underscores (so `snake_case_name` is one word and `user-id` two), compared without
/// case.
pub fn word_hashes(text: &str, into: &mut HashSet<u64>) {
    let mut lowered = String::new();
    for word in text.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        if word.len() > MAX_WORD_BYTES || word.is_empty() {
            continue;
        }
        if word.is_ascii() {
            if word.len() < MIN_WORD_CHARS {
                continue;
            }
            if word.bytes().any(|b| b.is_ascii_uppercase()) {
                lowered.clear();
                lowered.push_str(word);
                lowered.make_ascii_lowercase();
                into.insert(fnv1a(lowered.as_bytes()));
            } else {
                into.insert(fnv1a(word.as_bytes()));
            }
        } else {
            if word.chars().count() < MIN_WORD_CHARS {
                continue;
            }
            into.insert(fnv1a(word.to_lowercase().as_bytes()));
        }
    }
}

/// A request's attribute (model, outcome, stream) as a word of its own, so that a search with other
/// filters intersects them like words. It cannot equal a word's hash: words hold no `\0` or `=`.
/// Lowercased, as MySQL's collation compares the same columns without case.
pub fn attribute_hash(name: &str, value: &str) -> u64 {
    fnv1a(format!("\0{name}={}", value.to_lowercase()).as_bytes())
}

/// 64-bit FNV-1a: stable across versions and platforms (the hashes are stored), and fast on short
/// inputs. Two words share a hash with odds of about one in 10^19 per pair.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(text: &str) -> HashSet<u64> {
        let mut set = HashSet::new();
        word_hashes(text, &mut set);
        set
    }

    #[test]
    fn words_are_runs_of_letters_digits_and_underscores_without_case() {
        assert_eq!(hashes("Timeout in parse_config(); user-id 429"), hashes("timeout IN PARSE_CONFIG user id 429"));
        assert_eq!(hashes("Timeout in parse_config(); user-id 429").len(), 6);
        assert!(hashes("parse_config").is_disjoint(&hashes("parse config")));
    }

    #[test]
    fn non_ascii_words_are_lowered_and_counted_in_characters() {
        assert_eq!(hashes("Überprüfung ÉCOLE"), hashes("überprüfung école"));
        // Two characters, four bytes: indexed. One character of three bytes: not.
        assert_eq!(hashes("日本").len(), 1);
        assert!(hashes("日").is_empty());
    }

    #[test]
    fn single_characters_and_overlong_runs_are_left_out() {
        assert!(hashes("a b c - + 1").is_empty());
        assert!(hashes(&"x".repeat(MAX_WORD_BYTES + 1)).is_empty());
        assert_eq!(hashes(&"x".repeat(MAX_WORD_BYTES)).len(), 1);
    }

    #[test]
    fn attributes_are_not_words_and_ignore_case() {
        assert_eq!(attribute_hash("model", "GPT-4o"), attribute_hash("model", "gpt-4o"));
        assert_ne!(attribute_hash("model", "gpt-4o"), attribute_hash("client_model", "gpt-4o"));
        assert!(!hashes("model gpt 4o model=gpt-4o").contains(&attribute_hash("model", "gpt-4o")));
    }

    #[test]
    fn the_hash_is_fixed() {
        // Stored in the database: a change here would need a migration.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
