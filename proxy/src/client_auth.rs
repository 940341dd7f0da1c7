//! Client keys, checked when `VERIFY_CLIENT_AUTH` is on. Keys are compared as SHA-256 digests in
//! constant time, so neither a key's length nor its first differing byte shows in the timing.
//! A request made with a key is recorded with the key's label, `key-` and the first 8 hex digits of
//! its SHA-256: enough to tell keys apart in cost reports, useless for calling the API.

use axum::http::HeaderMap;

use crate::sha256::Sha256;

#[derive(Clone)]
pub struct ClientAuth {
    /// `None` accepts any client; otherwise the digests of the accepted keys.
    accepted: Option<Vec<[u8; 32]>>,
}

impl ClientAuth {
    pub fn new(verify: bool, keys: &[String]) -> Self {
        let accepted = verify.then(|| keys.iter().map(|k| Sha256::digest(k.as_bytes())).collect());
        ClientAuth { accepted }
    }

    pub fn allows(&self, headers: &HeaderMap) -> bool {
        self.check(headers) != Access::Refused
    }

    pub fn check(&self, headers: &HeaderMap) -> Access {
        let Some(accepted) = &self.accepted else {
            return Access::Open;
        };
        let Some(key) = bearer_token(headers) else {
            return Access::Refused;
        };
        let digest = Sha256::digest(key.as_bytes());
        // Look at every accepted key, whatever matched, so the count of keys tried does not leak either.
        if accepted.iter().fold(false, |found, candidate| found | constant_time_eq(candidate, &digest)) {
            Access::Key { label: label_of(&digest) }
        } else {
            Access::Refused
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Client authentication is off.
    Open,
    /// An accepted key, by its label.
    Key {
        label: String,
    },
    Refused,
}

fn label_of(digest: &[u8; 32]) -> String {
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("key-{hex}")
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
    fn an_accepted_key_is_known_by_its_label_only() {
        let auth = ClientAuth::new(true, &["sk-team-a".into()]);
        // printf %s sk-team-a | sha256sum | cut -c1-8
        let expected = format!("key-{}", &format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(b"sk-team-a"))[..8]);
        assert_eq!(auth.check(&headers("Bearer sk-team-a")), Access::Key { label: expected.clone() });
        assert!(!expected.contains("team"));
        assert_eq!(ClientAuth::new(false, &[]).check(&headers("Bearer sk-team-a")), Access::Open);
    }

    #[test]
    fn anything_passes_when_verification_is_off() {
        assert!(ClientAuth::new(false, &[]).allows(&HeaderMap::new()));
    }
}
