//! GraphQL errors with an `extensions.code` a client can act on. Causes go to the log; the message
//! a client sees never carries SQL or internals.

use async_graphql::{Error, ErrorExtensions};

pub fn bad_user_input(message: impl Into<String>) -> Error {
    Error::new(message).extend_with(|_, e| e.set("code", "BAD_USER_INPUT"))
}

/// Logs the cause once and answers with a generic message.
pub fn internal(cause: impl std::fmt::Display) -> Error {
    tracing::error!(%cause, "admin query failed");
    Error::new("Internal error; see the admin service's log.").extend_with(|_, e| e.set("code", "INTERNAL"))
}
