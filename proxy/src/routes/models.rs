//! `GET /v1/models` and `GET /v1/models/{id}`: the upstream's list (when it answers) with every
//! mapped alias added as a model of its own, so clients can pick the names they know.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, Method, Response, StatusCode, Uri};
use axum::response::IntoResponse;
use bytes::Bytes;
use serde_json::{json, Value};

use crate::model_mapping::ModelMapping;
use crate::pending_record::PendingRecord;
use crate::record::{Outcome, RequestRecord, ResponseCapture};
use crate::routes::forward::{forward, upstream_path};
use crate::startup::AppState;
use crate::upstream;

fn alias_entry(alias: &str, target: &str) -> Value {
    json!({"id": alias, "object": "model", "created": 0, "owned_by": "tokenslipper", "upstream_model": target})
}

/// The upstream's list with the aliases it lacks appended; just the aliases when there is no list.
fn merged_list(upstream_list: Option<Value>, mapping: &ModelMapping) -> Value {
    let mut list = upstream_list
        .filter(|l| l.get("data").is_some_and(Value::is_array))
        .unwrap_or_else(|| json!({"object": "list", "data": []}));
    let data = list["data"].as_array_mut().expect("checked to be an array");
    for (alias, target) in mapping.aliases() {
        if !data.iter().any(|m| m.get("id").and_then(Value::as_str) == Some(alias)) {
            data.push(alias_entry(alias, target));
        }
    }
    list
}

pub async fn list_models(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
) -> Response<Body> {
    let mut pending = PendingRecord::start(&state.log, RequestRecord::for_client("GET", uri.path(), peer, &headers));
    if !state.client_auth.allows(&headers) {
        return pending.fail(crate::error::ProxyError::InvalidClientKey).into_response();
    }
    let path = upstream_path(&state.config.upstream_base_url, &uri);
    let upstream_headers = upstream::request_headers(&headers, &state.config.upstream_api_key);
    let upstream_list = state
        .upstream
        .send(Method::GET, &path, upstream_headers, Bytes::new())
        .await
        .ok()
        .filter(|r| r.status.is_success());
    let upstream_list = match upstream_list {
        Some(response) => response.body.collect().await.ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok()),
        None => None,
    };
    if upstream_list.is_none() {
        tracing::info!("upstream model list unavailable; answering with the mapped aliases only");
    }
    let list = merged_list(upstream_list, &state.config.model_mapping);
    let body = serde_json::to_vec(&list).expect("a JSON value serialises");
    pending.record().http_status = 200;
    pending.record().response = ResponseCapture::Body(body.clone().into());
    pending.finish(Outcome::Ok);
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub async fn retrieve_model(
    state: State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response<Body> {
    if !state.config.model_mapping.is_alias(&id) || !state.client_auth.allows(&headers) {
        return forward(state, peer, Method::GET, uri, headers, Body::empty()).await;
    }
    let target = state.config.model_mapping.upstream_name(&id).to_string();
    let mut pending = PendingRecord::start(&state.log, RequestRecord::for_client("GET", uri.path(), peer.0, &headers));
    let body = serde_json::to_vec(&alias_entry(&id, &target)).expect("a JSON value serialises");
    let record = pending.record();
    record.client_model = Some(id);
    record.upstream_model = Some(target);
    record.http_status = StatusCode::OK.as_u16();
    record.response = ResponseCapture::Body(body.clone().into());
    pending.finish(Outcome::Ok);
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn aliases_are_added_once_to_the_upstream_list() {
        let mapping = ModelMapping::with_defaults_and(BTreeMap::new());
        let upstream = json!({"data": [{"id": "claude-3-5-sonnet-20241022"}, {"id": "gpt-4"}], "has_more": false});
        let list = merged_list(Some(upstream), &mapping);
        let ids: Vec<&str> = list["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["claude-3-5-sonnet-20241022", "gpt-4", "gpt-4-turbo", "gpt-4o", "gpt-4o-mini"]);
        assert_eq!(list["has_more"], false);
        let alone = merged_list(None, &mapping);
        assert_eq!(alone["object"], "list");
        assert_eq!(alone["data"].as_array().unwrap().len(), 4);
    }
}
