//! Runs the typed GraphQL operations against admin-api (`POST /graphql`, same origin) with the session's token.

use graphql_client::{GraphQLQuery, QueryBody, Response};
use std::fmt;

use crate::i18n::Texts;
use crate::session::Session;

const ENDPOINT: &str = "/graphql";

#[derive(Clone, Debug, PartialEq)]
pub enum ApiError {
    /// The token was missing or refused (HTTP 401).
    Unauthorized,
    /// No HTTP answer at all (server down, network gone).
    Network(String),
    /// An HTTP status other than 200 or 401, without a GraphQL body.
    Status(u16),
    /// admin-api answered with GraphQL errors; `code` is `extensions.code` (e.g. `BAD_USER_INPUT`, `TIMEOUT`).
    Graphql { code: Option<String>, message: String },
}

impl ApiError {
    pub fn describe(&self, texts: &Texts) -> String {
        match self {
            ApiError::Unauthorized => texts.login_refused.to_owned(),
            ApiError::Network(detail) => format!("{}: {detail}", texts.network_error),
            ApiError::Status(status) => format!("HTTP {status}"),
            ApiError::Graphql { code: Some(code), message } => format!("{message} ({code})"),
            ApiError::Graphql { code: None, message } => message.clone(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self)
    }
}

impl std::error::Error for ApiError {}

/// Runs one operation with the session's token. A 401 ends the session, which returns the app to the login form.
pub async fn run<Q: GraphQLQuery>(session: Session, variables: Q::Variables) -> Result<Q::ResponseData, ApiError> {
    let token = session.token_untracked().ok_or(ApiError::Unauthorized)?;
    let result = run_with_token::<Q>(&token, variables).await;
    if matches!(result, Err(ApiError::Unauthorized)) {
        session.refused();
    }
    result
}

/// Runs one operation with the given token, leaving the session alone (the login form tests a token this way).
pub async fn run_with_token<Q: GraphQLQuery>(
    token: &str,
    variables: Q::Variables,
) -> Result<Q::ResponseData, ApiError> {
    let body: QueryBody<Q::Variables> = Q::build_query(variables);
    let request = gloo_net::http::Request::post(ENDPOINT)
        .header("Authorization", &format!("Bearer {token}"))
        .json(&body)
        .map_err(|e| ApiError::Network(e.to_string()))?;
    let response = request.send().await.map_err(|e| ApiError::Network(e.to_string()))?;
    if response.status() == 401 {
        return Err(ApiError::Unauthorized);
    }
    let status = response.status();
    let parsed: Response<Q::ResponseData> = match response.json().await {
        Ok(parsed) => parsed,
        Err(_) => return Err(ApiError::Status(status)),
    };
    if let Some(error) = parsed.errors.and_then(|errors| errors.into_iter().next()) {
        let code =
            error.extensions.as_ref().and_then(|ext| ext.get("code")).and_then(|c| c.as_str()).map(str::to_owned);
        if code.as_deref() == Some("UNAUTHENTICATED") {
            return Err(ApiError::Unauthorized);
        }
        return Err(ApiError::Graphql { code, message: error.message });
    }
    parsed.data.ok_or(ApiError::Status(status))
}

/// `GET path` (same origin) with the session's token, as text: the CSV and JSON exports.
pub async fn fetch_text(session: Session, path: &str) -> Result<String, ApiError> {
    let token = session.token_untracked().ok_or(ApiError::Unauthorized)?;
    let response = gloo_net::http::Request::get(path)
        .header("Authorization", &format!("Bearer {token}"))
        .send()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    match response.status() {
        200 => response.text().await.map_err(|e| ApiError::Network(e.to_string())),
        401 => {
            session.refused();
            Err(ApiError::Unauthorized)
        }
        status => Err(ApiError::Status(status)),
    }
}
