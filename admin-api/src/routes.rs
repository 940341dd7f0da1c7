//! HTTP routes: `POST /graphql` and `/api/*` (admin token required), GraphiQL on `GET /graphql`,
//! `GET /health`, and the admin SPA under `/admin`.

use std::time::Duration;

use async_graphql::http::GraphiQLSource;
use async_graphql::{ErrorExtensionValues, ServerError};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{middleware, Json, Router};
use serde_json::json;
use sqlx::MySqlPool;

use crate::admin_site::AdminSite;
use crate::auth::{require_admin_token, AdminToken};
use crate::graphql::AdminSchema;

#[derive(Clone)]
pub struct AppState {
    pub schema: AdminSchema,
    pub pool: MySqlPool,
    pub query_timeout: Duration,
}

pub fn router(state: AppState, token: AdminToken, site: &AdminSite) -> Router {
    let graphql = Router::new()
        .route("/graphql", axum::routing::post(graphql))
        .merge(crate::report_export::router())
        .route_layer(middleware::from_fn_with_state(token, require_admin_token));
    Router::new()
        .route("/graphql", get(graphiql))
        .merge(graphql)
        .route("/health", get(health))
        .merge(site.router())
        .with_state(state)
}

async fn graphql(State(state): State<AppState>, request: GraphQLRequest) -> GraphQLResponse {
    match tokio::time::timeout(state.query_timeout, state.schema.execute(request.into_inner())).await {
        Ok(response) => response.into(),
        Err(_elapsed) => {
            let message = format!("The query took longer than {} s and was stopped.", state.query_timeout.as_secs());
            let mut error = ServerError::new(message, None);
            let mut extensions = ErrorExtensionValues::default();
            extensions.set("code", "TIMEOUT");
            error.extensions = Some(extensions);
            async_graphql::Response::from_errors(vec![error]).into()
        }
    }
}

/// The GraphiQL page holds no data; its queries go to `POST /graphql` with the token set in its
/// headers panel.
async fn graphiql() -> Html<String> {
    Html(GraphiQLSource::build().endpoint("/graphql").title("TokenSlipper GraphQL").finish())
}

async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let reachable = matches!(
        tokio::time::timeout(Duration::from_secs(2), sqlx::query("SELECT 1").execute(&state.pool)).await,
        Ok(Ok(_))
    );
    if reachable {
        (StatusCode::OK, Json(json!({"status": "ok", "database": "reachable"})))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "degraded", "database": "unreachable"})))
    }
}
