//! The GraphQL types of the admin schema. Names are part of the public interface: change them only
//! with a new name beside the old one.

use async_graphql::{Enum, InputObject, SimpleObject, ID};
use chrono::{DateTime, Utc};
use pricing::{PriceBook, TokenCounts};
use serde::Serialize;

use crate::costing::{self, CallUsage, CostSums};
use crate::db::aggregates::Sums;
use crate::db::requests::{MessageRow, SummaryRow};
use crate::graphql::cost_types::{CostSummary, RequestCost};

/// How a request ended.
#[derive(Enum, Serialize, Copy, Clone, Debug, Eq, PartialEq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// Answered (HTTP status below 400, no error mid-stream).
    Ok,
    /// Refused by the proxy, failed upstream, or broken off by an upstream error.
    Error,
    /// The client went away before the answer was complete.
    Cancelled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Cancelled => "cancelled",
        }
    }
    fn parse(text: &str) -> Outcome {
        match text {
            "ok" => Outcome::Ok,
            "cancelled" => Outcome::Cancelled,
            _ => Outcome::Error,
        }
    }
}

/// Where a request's token counts came from. Counts of different sources are never mixed in one row.
#[derive(Enum, Serialize, Copy, Clone, Debug, Eq, PartialEq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UsageSource {
    /// Reported by the upstream API.
    Upstream,
    /// Estimated by the proxy because the upstream answered without counts (e.g. a stream the
    /// client broke off): about four characters of English per token, one per CJK character.
    Estimated,
    /// Not known: the upstream reported none.
    None,
}

impl UsageSource {
    fn parse(text: &str) -> UsageSource {
        match text {
            "upstream" => UsageSource::Upstream,
            "estimated" => UsageSource::Estimated,
            _ => UsageSource::None,
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum TimeBucket {
    Hour,
    Day,
}

/// A time range `[from, to)`. A missing `from` means from the first record, a missing `to` means now.
#[derive(InputObject, Clone, Debug, Default)]
pub struct TimeRange {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Filters of the request list; all given filters must match.
#[derive(InputObject, Clone, Debug, Default)]
pub struct RequestFilter {
    /// Matches the client model or the upstream model.
    pub model: Option<String>,
    pub client_model: Option<String>,
    pub upstream_model: Option<String>,
    pub outcome: Option<Outcome>,
    pub stream: Option<bool>,
    pub range: Option<TimeRange>,
    /// Words that must all occur, as whole words and in any case, in the request's reply or in the
    /// messages it sent first: a message a chat's earlier turn already sent is found at that turn,
    /// not at every later one. A word is a run of letters, digits and underscores of 2 to 64 bytes;
    /// system prompts are not searched. Newest first; at most 10,000 matches are listed (see
    /// `RequestPage.totalCountIsLowerBound`).
    pub search: Option<String>,
}

/// The range an aggregate covered, after defaults were applied.
#[derive(SimpleObject, Serialize, Clone, Debug)]
pub struct ResolvedRange {
    pub from: Option<DateTime<Utc>>,
    pub to: DateTime<Utc>,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct Totals {
    pub requests: i64,
    /// Messages sent, summed over requests (a conversation's history counts with every turn that sent it).
    pub messages: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cached_tokens: i64,
    pub average_latency_ms: Option<f64>,
    /// From a histogram with eight buckets per doubling: at most 9 % above the exact value.
    pub p95_latency_ms: Option<f64>,
    pub errors: i64,
    pub cancelled: i64,
    /// errors / requests, 0 when there were none.
    pub error_rate: f64,
    pub cost: CostSummary,
}

impl Totals {
    pub fn new(sums: &Sums, p95_latency_ms: Option<f64>, cost: &CostSums) -> Self {
        Totals {
            cost: CostSummary::from(cost),
            requests: sums.requests,
            messages: sums.messages,
            prompt_tokens: sums.prompt_tokens,
            completion_tokens: sums.completion_tokens,
            total_tokens: sums.total_tokens,
            cached_tokens: sums.cached_tokens,
            average_latency_ms: sums.average_latency_ms(),
            p95_latency_ms,
            errors: sums.errors,
            cancelled: sums.cancelled,
            error_rate: if sums.requests > 0 { sums.errors as f64 / sums.requests as f64 } else { 0.0 },
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct ModelStats {
    /// The model name clients asked for ("" when a request named none).
    pub model: String,
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cached_tokens: i64,
    pub average_latency_ms: Option<f64>,
    pub errors: i64,
    pub cost: CostSummary,
}

impl ModelStats {
    pub fn new(model: String, sums: &Sums, cost: Option<&CostSums>) -> Self {
        ModelStats {
            cost: cost.map(CostSummary::from).unwrap_or_default(),
            model,
            requests: sums.requests,
            prompt_tokens: sums.prompt_tokens,
            completion_tokens: sums.completion_tokens,
            total_tokens: sums.total_tokens,
            cached_tokens: sums.cached_tokens,
            average_latency_ms: sums.average_latency_ms(),
            errors: sums.errors,
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct Overview {
    pub range: ResolvedRange,
    pub totals: Totals,
    /// The newest requests of the range, newest first.
    pub recent_requests: Vec<RequestSummary>,
    /// Per client model, most requests first.
    pub models: Vec<ModelStats>,
}

/// One point of a usage series: a bucket of time and one client model.
#[derive(SimpleObject, Clone, Debug)]
pub struct UsagePoint {
    pub bucket_start: DateTime<Utc>,
    pub model: String,
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cached_tokens: i64,
    pub errors: i64,
}

impl UsagePoint {
    pub fn new(bucket_start: DateTime<Utc>, model: String, sums: &Sums) -> Self {
        UsagePoint {
            bucket_start,
            model,
            requests: sums.requests,
            prompt_tokens: sums.prompt_tokens,
            completion_tokens: sums.completion_tokens,
            total_tokens: sums.total_tokens,
            cached_tokens: sums.cached_tokens,
            errors: sums.errors,
        }
    }
}

#[derive(SimpleObject, Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct RequestSummary {
    pub id: ID,
    pub started_at: DateTime<Utc>,
    pub method: String,
    pub endpoint: String,
    pub client_model: Option<String>,
    pub upstream_model: Option<String>,
    pub stream: bool,
    pub http_status: i32,
    pub outcome: Outcome,
    pub error_type: Option<String>,
    pub latency_ms: f64,
    /// Time to the upstream's first byte.
    pub ttfb_ms: Option<f64>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub total_tokens: Option<i64>,
    pub cached_tokens: Option<i64>,
    /// Input written to the prompt cache.
    pub cache_write_tokens: Option<i64>,
    pub usage_source: UsageSource,
    pub message_count: i32,
    /// The start of the last user message (up to 200 characters).
    pub preview: Option<String>,
    /// The label of the client key used (`key-` + 8 hex digits of its SHA-256), when client
    /// authentication was on.
    pub client_key: Option<String>,
    /// At the price stored for the model on the request's day.
    pub cost: RequestCost,
}

impl RequestSummary {
    pub fn new(row: SummaryRow, book: &PriceBook) -> Self {
        let cost = costing::request_cost(
            &CallUsage {
                client_model: row.client_model.as_deref(),
                upstream_model: row.upstream_model.as_deref(),
                started_at: row.started_at,
                usage_source: &row.usage_source,
                tokens: TokenCounts::from_columns(
                    row.prompt_tokens,
                    row.completion_tokens,
                    row.cached_tokens,
                    row.cache_write_tokens,
                ),
            },
            book,
        );
        RequestSummary {
            cost: RequestCost::from(cost),
            cache_write_tokens: row.cache_write_tokens.map(i64::from),
            client_key: row.client_key,
            id: ID(format_id(&row.id)),
            started_at: row.started_at,
            method: row.method,
            endpoint: row.endpoint,
            client_model: row.client_model,
            upstream_model: row.upstream_model,
            stream: row.is_stream,
            http_status: i32::from(row.http_status),
            outcome: Outcome::parse(&row.outcome),
            error_type: row.error_type,
            latency_ms: row.latency_us as f64 / 1000.0,
            ttfb_ms: row.ttfb_us.map(|t| t as f64 / 1000.0),
            prompt_tokens: row.prompt_tokens.map(i64::from),
            completion_tokens: row.completion_tokens.map(i64::from),
            total_tokens: row.total_tokens.map(i64::from),
            cached_tokens: row.cached_tokens.map(i64::from),
            usage_source: UsageSource::parse(&row.usage_source),
            message_count: row.message_count,
            preview: row.last_user_message_preview,
        }
    }
}

pub fn format_id(bytes: &[u8]) -> String {
    uuid::Uuid::from_slice(bytes).map(|u| u.to_string()).unwrap_or_default()
}

#[derive(SimpleObject, Clone, Debug)]
pub struct RequestPage {
    pub items: Vec<RequestSummary>,
    /// Requests matching the filter. With a text search, at most 10,000 are counted and listed.
    pub total_count: i64,
    /// True when a text search stopped before looking at every request holding its words (more
    /// than 10,000 matches, or a word in more than 100,000 requests that the other words and
    /// filters mostly reject): `totalCount` then counts the newest matches, and older ones may exist.
    pub total_count_is_lower_bound: bool,
    /// 1-based.
    pub page: i32,
    pub page_size: i32,
    pub page_count: i64,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct ToolCall {
    pub id: Option<String>,
    pub name: String,
    /// The arguments as the model wrote them (usually JSON text).
    pub arguments: String,
}

impl ToolCall {
    /// Reads OpenAI-shaped tool calls (`[{id, type, function: {name, arguments}}]`).
    pub fn list_from_json(text: Option<&str>) -> Vec<ToolCall> {
        let Some(value) = text.and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok()) else {
            return Vec::new();
        };
        value
            .as_array()
            .into_iter()
            .flatten()
            .map(|call| ToolCall {
                id: call.get("id").and_then(|v| v.as_str()).map(String::from),
                name: call["function"]["name"].as_str().unwrap_or_default().to_string(),
                arguments: call["function"]["arguments"].as_str().unwrap_or_default().to_string(),
            })
            .collect()
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct Message {
    /// 0-based place in the conversation.
    pub position: i32,
    pub role: String,
    pub name: Option<String>,
    /// The text: the content string, or the text parts of a multimodal message joined.
    pub content: Option<String>,
    /// The content parts (text, images, audio) as JSON, when the content was not a plain string.
    pub content_parts_json: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub tool_call_id: Option<String>,
}

impl From<MessageRow> for Message {
    fn from(row: MessageRow) -> Self {
        Message {
            position: row.position,
            role: row.role,
            name: row.name,
            content: row.content_text,
            content_parts_json: row.content_parts,
            tool_calls: ToolCall::list_from_json(row.tool_calls.as_deref()),
            tool_call_id: row.tool_call_id,
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct Reply {
    pub text: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: Option<String>,
}

/// Everything recorded for one request.
#[derive(SimpleObject, Clone, Debug)]
pub struct RequestDetail {
    pub summary: RequestSummary,
    pub finished_at: DateTime<Utc>,
    pub error_message: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// SHA-256 (hex) of the body as forwarded upstream.
    pub body_sha256: Option<String>,
    /// Hex id of the conversation: the node of its first user message (with the system prompt
    /// before it). The requests of one chat share it.
    pub conversation_id: Option<String>,
    pub messages: Vec<Message>,
    pub reply: Reply,
    /// The request body exactly as the client sent it.
    pub raw_request: String,
    /// The upstream's response body; for streams, the object assembled from the deltas.
    pub raw_response: Option<String>,
}
