//! The admin token. Every GraphQL request must carry `Authorization: Bearer <ADMIN_TOKEN>`; the
//! comparison is of SHA-256 digests in constant time, so timing tells nothing about the token.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

#[derive(Clone)]
pub struct AdminToken {
    digest: [u8; 32],
}

impl AdminToken {
    pub fn new(token: &str) -> Self {
        AdminToken { digest: Sha256::digest(token.as_bytes()).into() }
    }

    /// 32 random bytes as hex, for when `ADMIN_TOKEN` is not set.
    pub fn generate() -> String {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system provides randomness");
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn matches(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.digest.iter().zip(digest).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

/// Middleware: lets a request through only with the right bearer token. Anything else is a 401 in
/// GraphQL's error shape, with no data.
pub async fn require_admin_token(State(token): State<AdminToken>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match presented {
        Some(candidate) if token.matches(candidate) => next.run(request).await,
        _ => unauthenticated(),
    }
}

fn unauthenticated() -> Response {
    let body = serde_json::json!({"errors": [{
        "message": "A valid admin token is required: send `Authorization: Bearer <ADMIN_TOKEN>`.",
        "extensions": {"code": "UNAUTHENTICATED"}
    }]});
    (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_matches() {
        let token = AdminToken::new("correct-horse-battery");
        assert!(token.matches("correct-horse-battery"));
        assert!(!token.matches("correct-horse-batter"));
        assert!(!token.matches(""));
    }

    #[test]
    fn generated_tokens_are_long_and_different() {
        let (a, b) = (AdminToken::generate(), AdminToken::generate());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}
