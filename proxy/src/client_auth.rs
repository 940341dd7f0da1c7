//! Client keys, checked when `VERIFY_CLIENT_AUTH` is on. Keys are compared as SHA-256 digests in
//! constant time, so neither a key's length nor its first differing byte shows in the timing.

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

#[derive(Clone)]
pub struct ClientAuth {
    /// `None` accepts any client; otherwise the digests of the accepted keys.
    accepted: Option<Vec<[u8; 32]>>,
}

impl ClientAuth {
    pub fn new(verify: bool, keys: &[String]) -> Self {
        let accepted = verify.then(|| keys.iter().map(|k| Sha256::digest(k.as_bytes()).into()).collect());
        ClientAuth { accepted }
    }

    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(accepted) = &self.accepted else {
            return true;
        };
        let Some(key) = bearer_token(headers) else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        // Look at every accepted key, whatever matched, so the count of keys tried does not leak either.
        accepted.iter().fold(false, |found, candidate| found | constant_time_eq(candidate, &digest))
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", value.parse().unwrap());
        headers
    }

    #[test]
    fn only_listed_keys_pass_when_verification_is_on() {
        let auth = ClientAuth::new(true, &["k1".into(), "k2".into()]);
        assert!(auth.allows(&headers("Bearer k2")));
        assert!(auth.allows(&headers("bearer k1")));
        assert!(!auth.allows(&headers("Bearer k3")));
        assert!(!auth.allows(&headers("Basic k1")));
        assert!(!auth.allows(&HeaderMap::new()));
    }

    #[test]
    fn anything_passes_when_verification_is_off() {
        assert!(ClientAuth::new(false, &[]).allows(&HeaderMap::new()));
    }
}
