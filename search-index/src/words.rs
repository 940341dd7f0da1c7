//! Which words a text holds, as the hashes the index stores. Writer and reader must agree on every
//! rule here: a change makes older rows unfindable, so it needs a migration that rebuilds the index.

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// Shorter words are not indexed: single letters match everything and say nothing.
pub const MIN_WORD_CHARS: usize = 2;
/// Longer runs (hashes, base64, minified code) are not indexed: nobody types them in a search box,
/// and they would make a posting row per request.
pub const MAX_WORD_BYTES: usize = 64;

/// The distinct words of `text`, each hashed, in no particular order. A word is a run of letters,
/// digits and underscores (so `snake_case_name` is one word and `user-id` two), compared without
/// case.
///
/// Runs in one pass over the bytes, hashing ASCII words as it reads them (the common case: code,
/// logs, English); a word holding any other character is lowered and hashed as a `str`, which gives
/// the same hash for its ASCII letters.
pub fn word_hashes<S: BuildHasher>(text: &str, into: &mut HashSet<u64, S>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] >= 0x80 {
            let c = text[i..].chars().next().expect("a char starts here");
            if is_word_char(c) {
                i = other_word(text, i, into);
            } else {
                i += c.len_utf8();
            }
            continue;
        }
        if !is_ascii_word_byte(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        let mut hash = FNV_OFFSET;
        while i < bytes.len() && is_ascii_word_byte(bytes[i]) {
            hash = fnv1a_step(hash, bytes[i].to_ascii_lowercase());
            i += 1;
        }
        if i < bytes.len() && bytes[i] >= 0x80 {
            // Maybe a letter such as `é`: the word may go on.
            i = other_word(text, start, into);
            continue;
        }
        if (MIN_WORD_CHARS..=MAX_WORD_BYTES).contains(&(i - start)) {
            into.insert(hash);
        }
    }
}

/// A set of word hashes, placed by a cheap keyed mix of each hash instead of hashing it again with
/// std's SipHash (most of the cost of collecting a long text's words).
pub type WordSet = HashSet<u64, BuildHasherDefault<WordHashMixer>>;

/// Mixes a word hash with a key drawn once per process (a folded multiply, as foldhash does). The
/// hash itself would be a poor place in the table: FNV-1a's low bits depend only on the low bits
/// of the text's bytes, so a client could write a message of many distinct words that agree in
/// them, and every word of it would land in one probe chain — work quadratic in the message (up to
/// 32 MB) on the log writer's thread. The key keeps such words from being worked out in advance.
/// Only a word's place in the in-memory table is mixed; the hashes stored stay FNV-1a's. The proxy
/// places its sets of message ids (SHA-256 output, 32 bytes) with it too.
#[derive(Default)]
pub struct WordHashMixer(u64);

impl Hasher for WordHashMixer {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64`s go in a `WordSet`; other keys (the proxy's 32-byte message ids) are folded in
        // eight bytes at a time, the rest byte by byte.
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let word: [u8; 8] = word.try_into().expect("chunks of eight");
            self.write_u64(self.0 ^ u64::from_le_bytes(word));
        }
        for &byte in words.remainder() {
            self.write_u64(self.0 ^ u64::from(byte));
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = folded_multiply(value ^ process_key(), MIX);
    }
}

/// An odd constant with its bits spread (the fractional digits of pi, as foldhash uses).
const MIX: u64 = 0x243f_6a88_85a3_08d3;

fn folded_multiply(x: u64, y: u64) -> u64 {
    let product = u128::from(x) * u128::from(y);
    (product as u64) ^ ((product >> 64) as u64)
}

/// Random for each process: std's `RandomState` draws its keys from the operating system.
fn process_key() -> u64 {
    static KEY: OnceLock<u64> = OnceLock::new();
    *KEY.get_or_init(|| RandomState::new().hash_one(0u64))
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_ascii_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The word starting at byte `start`, taken as chars; returns where it ends.
fn other_word<S: BuildHasher>(text: &str, start: usize, into: &mut HashSet<u64, S>) -> usize {
    let rest = &text[start..];
    let end = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
    let word = &rest[..end];
    if word.len() <= MAX_WORD_BYTES && word.chars().count() >= MIN_WORD_CHARS {
        into.insert(fnv1a(word.to_lowercase().as_bytes()));
    }
    start + end
}

/// A request's attribute (model, outcome, stream) as a word of its own, so that a search with other
/// filters intersects them like words. It cannot equal a word's hash: words hold no `\0` or `=`.
/// Lowercased, as MySQL's collation compares the same columns without case.
///
/// The hash of `"\0{name}={value lowercased}"`, taken piece by piece: the log writer takes six per
/// request, and building each text first was ~1 % of its instructions (callgrind).
pub fn attribute_hash(name: &str, value: &str) -> u64 {
    let prefix = fnv1a_on(fnv1a_on(fnv1a_on(FNV_OFFSET, b"\0"), name.as_bytes()), b"=");
    if value.is_ascii() {
        value.bytes().fold(prefix, |hash, byte| fnv1a_step(hash, byte.to_ascii_lowercase()))
    } else {
        fnv1a_on(prefix, value.to_lowercase().as_bytes())
    }
}

/// 64-bit FNV-1a: stable across versions and platforms (the hashes are stored), and fast on short
/// inputs. Two words share a hash with odds of about one in 10^19 per pair.
fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_on(FNV_OFFSET, bytes)
}

/// FNV-1a of what `hash` is the hash of, followed by `bytes`.
fn fnv1a_on(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |hash, &byte| fnv1a_step(hash, byte))
}

fn fnv1a_step(hash: u64, byte: u8) -> u64 {
    (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

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
    fn an_attribute_hashes_as_its_text_stored_before() {
        // The rule as rows already hold it: the hash of the whole text, the value lowered.
        let stored = |name: &str, value: &str| fnv1a(format!("\0{name}={}", value.to_lowercase()).as_bytes());
        for value in ["gpt-4o", "Claude-3.5-SONNET", "", "ok", "true", "Straße-ÄÖÜ", "ΟΔΟΣ", "İstanbul", "模型"]
        {
            for name in ["model", "client_model", "outcome"] {
                assert_eq!(attribute_hash(name, value), stored(name, value), "{name}={value}");
            }
        }
    }

    /// The rules written plainly: split on every other character, lower, hash.
    fn reference(text: &str) -> HashSet<u64> {
        text.split(|c: char| !is_word_char(c))
            .filter(|word| word.len() <= MAX_WORD_BYTES && word.chars().count() >= MIN_WORD_CHARS)
            .map(|word| fnv1a(word.to_lowercase().as_bytes()))
            .collect()
    }

    #[test]
    fn the_one_pass_reader_follows_the_plain_rules() {
        let pieces = ["Ab", "x", "_", "é", "É", "日本", "—", " ", "-", "9", "ß", "İ", "\n", "𝔘", "a\u{301}", "ǅ", "Σ"];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..5_000 {
            let mut text = String::new();
            for _ in 0..(state % 12) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push_str(pieces[(state % pieces.len() as u64) as usize]);
            }
            assert_eq!(hashes(&text), reference(&text), "{text:?}");
        }
        let long = format!("{} {} é{}", "y".repeat(64), "z".repeat(65), "w".repeat(63));
        assert_eq!(hashes(&long), reference(&long));
    }

    #[test]
    fn hashes_that_agree_in_their_low_bits_take_many_places_in_a_word_set() {
        // A client can write words whose hashes agree in their low 20 bits (see `WordHashMixer`).
        let mixer = BuildHasherDefault::<WordHashMixer>::default();
        let places: HashSet<u64> = (0..1_000u64).map(|i| mixer.hash_one((i << 20) | 0x5_a5a5) & 1023).collect();
        assert!(places.len() > 400, "1,000 such hashes took {} of 1,024 places", places.len());
        let mut words = WordSet::default();
        words.extend((0..1_000u64).map(|i| (i << 20) | 0x5_a5a5));
        assert!(words.contains(&((999 << 20) | 0x5_a5a5)) && !words.contains(&0x5_a5a5_0000));
    }

    #[test]
    fn the_hash_is_fixed() {
        // Stored in the database: a change here would need a migration.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
