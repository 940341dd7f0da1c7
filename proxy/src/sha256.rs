//! SHA-256 as ring computes it. The log writer hashes every request body and every message it has
//! not stored yet (a message's id is the hash of its parent's id and its JSON). On CPUs without
//! the SHA extensions `sha2` falls back to portable code, which was 13-14 % of the writer's CPU
//! samples on an Intel Xeon VM; ring's assembly (its AVX code there, the SHA extensions where
//! present) took 0.55× its time for a 1 KB message and 9 % of the samples (BENCHMARKS.md). ring is
//! in the tree already, through rustls.

use ring::digest::{Context, SHA256};

/// A SHA-256 being computed over pieces given in turn.
pub struct Sha256(Context);

impl Sha256 {
    pub fn new() -> Self {
        Sha256(Context::new(&SHA256))
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> [u8; 32] {
        self.0.finish().as_ref().try_into().expect("SHA-256 is 32 bytes")
    }

    /// The SHA-256 of `bytes`.
    pub fn digest(bytes: &[u8]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(bytes);
        hasher.finish()
    }
}

impl Default for Sha256 {
    fn default() -> Self {
        Sha256::new()
    }
}

#[cfg(test)]
mod tests {
    use sha2::Digest;

    use super::Sha256;

    #[test]
    fn gives_what_sha2_gives_for_every_length_and_split() {
        let bytes: Vec<u8> = (0..600u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        for length in (0..=200).chain([255, 256, 511, 512, 513, 600]) {
            let input = &bytes[..length];
            let expected: [u8; 32] = sha2::Sha256::digest(input).into();
            assert_eq!(Sha256::digest(input), expected, "{length} bytes");
            // In pieces, as a message's id is hashed (its parent's id, then its JSON).
            let split = length / 3;
            let mut hasher = Sha256::new();
            hasher.update(&input[..split]);
            hasher.update(&input[split..]);
            assert_eq!(hasher.finish(), expected, "{length} bytes split at {split}");
        }
    }
}
