//! TokenSlipper's proxy: forwards OpenAI-compatible calls to the upstream API, maps model names,
//! and records every call in MySQL without making the call wait for the database.

pub mod budget_gate;
pub mod budget_watch;
pub mod client_auth;
pub mod config;
pub mod conversation;
pub mod db;
pub mod error;
pub mod log_writer;
pub mod metrics;
pub mod model_mapping;
pub mod pending_record;
pub mod record;
pub mod reply;
pub mod request_body;
pub mod rollup;
pub mod routes;
pub mod search_backfill;
pub mod search_block;
pub mod self_wake;
pub mod sha256;
pub mod spool;
pub mod sse;
pub mod startup;
pub mod stored_request;
pub mod stream_chunk;
pub mod telemetry;
pub mod token_estimate;
pub mod upstream;
pub mod upstream_client;
pub mod usage_chunk;
pub mod webhook;
pub mod whole_reply;
