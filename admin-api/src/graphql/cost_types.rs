//! The GraphQL (and `/api/reports` JSON) types of costs. Money is US dollars as `Float`; measured
//! and estimated amounts are separate fields and never added together by the API.

use async_graphql::{Enum, InputObject, SimpleObject, ID};
use chrono::{DateTime, NaiveDate, Utc};
use pricing::{usd_from_micros, usd_from_pico, Price};
use serde::{Deserialize, Serialize};

use crate::costing::{self, CostSums, Grouping};
use crate::db::prices::StoredPrice;
use crate::graphql::types::ResolvedRange;

/// Costs of a set of calls.
#[derive(SimpleObject, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CostSummary {
    /// From token counts the upstream reported.
    pub measured_usd: f64,
    /// From token counts the proxy estimated (the upstream reported none): shown apart.
    pub estimated_usd: f64,
    pub requests: i64,
    /// Calls with usage whose model had no price on their day: their cost is unknown, not $0.
    pub unpriced_requests: i64,
    pub unpriced_models: Vec<String>,
}

impl From<&CostSums> for CostSummary {
    fn from(sums: &CostSums) -> Self {
        CostSummary {
            measured_usd: usd_from_pico(sums.measured),
            estimated_usd: usd_from_pico(sums.estimated),
            requests: sums.requests,
            unpriced_requests: sums.unpriced_requests,
            unpriced_models: sums.unpriced_models.iter().cloned().collect(),
        }
    }
}

/// How a request's cost is known.
#[derive(Enum, Serialize, Copy, Clone, Debug, Eq, PartialEq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CostStatus {
    /// From the upstream's token counts.
    Measured,
    /// From token counts the proxy estimated.
    Estimated,
    /// Token counts are known, but the model has no price for that day.
    NoPrice,
    /// No token counts (the call was refused or failed before the upstream answered).
    NoUsage,
}

#[derive(SimpleObject, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RequestCost {
    pub status: CostStatus,
    /// Null unless MEASURED or ESTIMATED.
    pub usd: Option<f64>,
    /// Input that was neither read from nor written to the prompt cache.
    pub input_usd: Option<f64>,
    pub cached_input_usd: Option<f64>,
    pub cache_write_usd: Option<f64>,
    pub output_usd: Option<f64>,
    /// The price applied.
    pub price: Option<ModelPrice>,
}

impl From<costing::RequestCost> for RequestCost {
    fn from(cost: costing::RequestCost) -> Self {
        let status = match cost.status {
            costing::CostStatus::Measured => CostStatus::Measured,
            costing::CostStatus::Estimated => CostStatus::Estimated,
            costing::CostStatus::NoPrice => CostStatus::NoPrice,
            costing::CostStatus::NoUsage => CostStatus::NoUsage,
        };
        let part = |f: fn(&pricing::CostBreakdown) -> i128| cost.breakdown.as_ref().map(|b| usd_from_pico(f(b)));
        RequestCost {
            status,
            usd: part(|b| b.total()),
            input_usd: part(|b| b.input),
            cached_input_usd: part(|b| b.cache_read),
            cache_write_usd: part(|b| b.cache_write),
            output_usd: part(|b| b.output),
            price: cost.price.map(|price| ModelPrice::new(price, None)),
        }
    }
}

/// A model's list price from a day on, in US dollars per 1M tokens.
#[derive(SimpleObject, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ModelPrice {
    /// The upstream model name; its snapshots (`-20250929`, `-2024-08-06`, `-latest`) without
    /// entries of their own use it too.
    pub model: String,
    /// First UTC day the price applies; it applies until the model's next entry.
    pub effective_from: NaiveDate,
    #[graphql(name = "inputPerMTokUsd")]
    #[serde(rename = "inputPerMTokUsd")]
    pub input_per_mtok_usd: f64,
    #[graphql(name = "outputPerMTokUsd")]
    #[serde(rename = "outputPerMTokUsd")]
    pub output_per_mtok_usd: f64,
    /// Cached input read; null: billed as input.
    #[graphql(name = "cacheReadPerMTokUsd")]
    #[serde(rename = "cacheReadPerMTokUsd")]
    pub cache_read_per_mtok_usd: Option<f64>,
    /// Input written to the prompt cache; null: billed as input.
    #[graphql(name = "cacheWritePerMTokUsd")]
    #[serde(rename = "cacheWritePerMTokUsd")]
    pub cache_write_per_mtok_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

impl ModelPrice {
    pub fn new(price: Price, updated_at: Option<DateTime<Utc>>) -> Self {
        ModelPrice {
            model: price.model,
            effective_from: price.effective_from,
            input_per_mtok_usd: usd_from_micros(price.input),
            output_per_mtok_usd: usd_from_micros(price.output),
            cache_read_per_mtok_usd: price.cache_read.map(usd_from_micros),
            cache_write_per_mtok_usd: price.cache_write.map(usd_from_micros),
            updated_at,
        }
    }
}

impl From<StoredPrice> for ModelPrice {
    fn from(stored: StoredPrice) -> Self {
        ModelPrice::new(stored.price, Some(stored.updated_at))
    }
}

/// A price to add or replace (same model and day). Also the format of `GET/POST /api/prices`.
#[derive(InputObject, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PriceInput {
    pub model: String,
    pub effective_from: NaiveDate,
    #[graphql(name = "inputPerMTokUsd")]
    #[serde(rename = "inputPerMTokUsd")]
    pub input_per_mtok_usd: f64,
    #[graphql(name = "outputPerMTokUsd")]
    #[serde(rename = "outputPerMTokUsd")]
    pub output_per_mtok_usd: f64,
    #[serde(default)]
    #[graphql(name = "cacheReadPerMTokUsd")]
    #[serde(rename = "cacheReadPerMTokUsd")]
    pub cache_read_per_mtok_usd: Option<f64>,
    #[serde(default)]
    #[graphql(name = "cacheWritePerMTokUsd")]
    #[serde(rename = "cacheWritePerMTokUsd")]
    pub cache_write_per_mtok_usd: Option<f64>,
}

impl PriceInput {
    /// The stored form, or what is wrong with it.
    pub fn to_price(&self) -> Result<Price, String> {
        let model = self.model.trim();
        if model.is_empty() || model.chars().count() > 255 {
            return Err("model must be 1 to 255 characters".into());
        }
        let micros = |field: &str, usd: f64| {
            pricing::micros_from_usd(usd).ok_or_else(|| {
                format!("{field} of {model} must be a number of dollars per 1M tokens from 0 to 1000000 (got {usd})")
            })
        };
        Ok(Price {
            model: model.to_string(),
            effective_from: self.effective_from,
            input: micros("inputPerMTokUsd", self.input_per_mtok_usd)?,
            output: micros("outputPerMTokUsd", self.output_per_mtok_usd)?,
            cache_read: self.cache_read_per_mtok_usd.map(|v| micros("cacheReadPerMTokUsd", v)).transpose()?,
            cache_write: self.cache_write_per_mtok_usd.map(|v| micros("cacheWritePerMTokUsd", v)).transpose()?,
        })
    }
}

/// What a cost report groups by. Times are UTC.
#[derive(Enum, Serialize, Deserialize, Copy, Clone, Debug, Eq, PartialEq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CostGrouping {
    /// The model the upstream was asked for (the one priced).
    Model,
    /// The model name the client sent.
    ClientModel,
    Hour,
    Day,
    /// Weeks starting on Monday.
    Week,
    Month,
    /// The client key's label (`key-` + 8 hex digits of its SHA-256); "" when client
    /// authentication was off.
    ClientKey,
    Endpoint,
}

impl CostGrouping {
    pub fn grouping(self) -> Grouping {
        match self {
            CostGrouping::Model => Grouping::Model,
            CostGrouping::ClientModel => Grouping::ClientModel,
            CostGrouping::Hour => Grouping::Hour,
            CostGrouping::Day => Grouping::Day,
            CostGrouping::Week => Grouping::Week,
            CostGrouping::Month => Grouping::Month,
            CostGrouping::ClientKey => Grouping::ClientKey,
            CostGrouping::Endpoint => Grouping::Endpoint,
        }
    }
}

#[derive(SimpleObject, Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct CostReportRow {
    /// The group: a model, key label or endpoint, or for time groupings the bucket start (RFC 3339).
    pub key: String,
    /// For time groupings, the bucket start.
    pub bucket_start: Option<DateTime<Utc>>,
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_tokens: i64,
    pub cache_write_tokens: i64,
    pub cost: CostSummary,
}

impl CostReportRow {
    pub fn new(key: &costing::GroupKey, sums: &CostSums) -> Self {
        CostReportRow {
            key: key.label(),
            bucket_start: match key {
                costing::GroupKey::Start(start) => Some(*start),
                costing::GroupKey::Name(_) => None,
            },
            requests: sums.requests,
            prompt_tokens: sums.tokens.prompt,
            completion_tokens: sums.tokens.completion,
            cached_tokens: sums.tokens.cache_read,
            cache_write_tokens: sums.tokens.cache_write,
            cost: CostSummary::from(sums),
        }
    }
}

#[derive(SimpleObject, Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct CostReport {
    pub range: ResolvedRange,
    pub group_by: CostGrouping,
    /// Time groupings oldest first; other groupings costliest (measured + estimated) first.
    pub rows: Vec<CostReportRow>,
    pub total: CostReportRow,
}

/// A conversation's cost within a range: its requests there, priced one by one.
#[derive(SimpleObject, Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ConversationCost {
    /// Hex id, as `RequestDetail.conversationId`.
    pub conversation_id: String,
    /// The start of its first user message.
    pub title: Option<String>,
    pub first_started_at: DateTime<Utc>,
    pub last_started_at: DateTime<Utc>,
    /// Its newest request in the range, for a link to the whole conversation.
    pub latest_request_id: ID,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost: CostSummary,
}
