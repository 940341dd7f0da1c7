//! Costs from token counts and the price table, computed when they are read: a figure always
//! matches the prices stored at that moment. Calls are priced by the model the upstream was asked
//! for (the client's model when there was none); measured (upstream-reported) and estimated usage
//! are summed apart, and usage without a price is counted as unpriced, never as $0.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use pricing::{cost_of, CostBreakdown, Price, PriceBook, TokenCounts};

use crate::db::billing::BillingGroup;

pub const MEASURED: &str = "upstream";
pub const ESTIMATED: &str = "estimated";

/// The model whose price applies.
pub fn priced_model<'a>(client_model: &'a str, upstream_model: &'a str) -> &'a str {
    if upstream_model.is_empty() {
        client_model
    } else {
        upstream_model
    }
}

/// Costs and tokens of a set of calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CostSums {
    pub requests: i64,
    pub tokens: TokenCounts,
    /// Picodollars, from usage the upstream reported.
    pub measured: i128,
    /// Picodollars, from usage the proxy estimated.
    pub estimated: i128,
    /// Calls with usage whose model has no price on their day.
    pub unpriced_requests: i64,
    pub unpriced_models: BTreeSet<String>,
}

impl CostSums {
    pub fn add_group(&mut self, group: &BillingGroup, book: &PriceBook) {
        let tokens = TokenCounts {
            prompt: group.prompt_tokens,
            completion: group.completion_tokens,
            cache_read: group.cached_tokens,
            cache_write: group.cache_write_tokens,
        };
        self.requests += group.requests;
        self.tokens.add(&tokens);
        if group.usage_source != MEASURED && group.usage_source != ESTIMATED {
            return;
        }
        let model = priced_model(&group.client_model, &group.upstream_model);
        match book.price_at(model, group.bucket.naive_utc()) {
            Some(price) => {
                let cost = cost_of(&tokens, price).total();
                if group.usage_source == MEASURED {
                    self.measured += cost;
                } else {
                    self.estimated += cost;
                }
            }
            None => {
                self.unpriced_requests += group.requests;
                self.unpriced_models.insert(model.to_string());
            }
        }
    }

    /// One call, priced on its own (for sums over individual rows rather than rollup groups).
    pub fn add_call(&mut self, call: &CallUsage<'_>, book: &PriceBook) {
        self.requests += 1;
        self.tokens.add(&call.tokens);
        let cost = request_cost(call, book);
        match (cost.status, cost.breakdown) {
            (CostStatus::Measured, Some(parts)) => self.measured += parts.total(),
            (CostStatus::Estimated, Some(parts)) => self.estimated += parts.total(),
            (CostStatus::NoPrice, _) => {
                self.unpriced_requests += 1;
                let model =
                    priced_model(call.client_model.unwrap_or_default(), call.upstream_model.unwrap_or_default());
                self.unpriced_models.insert(model.to_string());
            }
            _ => {}
        }
    }
}

/// What a cost report groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grouping {
    /// The priced (upstream) model.
    Model,
    ClientModel,
    Hour,
    Day,
    /// ISO weeks, Monday to Sunday (UTC).
    Week,
    Month,
    ClientKey,
    Endpoint,
}

impl Grouping {
    pub fn is_time(self) -> bool {
        matches!(self, Grouping::Hour | Grouping::Day | Grouping::Week | Grouping::Month)
    }

    /// The group a billing group falls in: a name, or a bucket start for time groupings.
    pub fn key_of(self, group: &BillingGroup) -> GroupKey {
        let day = group.bucket.date_naive();
        match self {
            Grouping::Model => GroupKey::Name(priced_model(&group.client_model, &group.upstream_model).to_string()),
            Grouping::ClientModel => GroupKey::Name(group.client_model.clone()),
            Grouping::ClientKey => GroupKey::Name(group.client_key.clone()),
            Grouping::Endpoint => GroupKey::Name(group.endpoint.clone()),
            Grouping::Hour => GroupKey::Start(group.bucket),
            Grouping::Day => GroupKey::Start(start_of(day)),
            Grouping::Week => {
                GroupKey::Start(start_of(day - TimeDelta::days(i64::from(day.weekday().num_days_from_monday()))))
            }
            Grouping::Month => GroupKey::Start(start_of(day.with_day(1).unwrap_or(day))),
        }
    }
}

fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum GroupKey {
    Start(DateTime<Utc>),
    Name(String),
}

impl GroupKey {
    pub fn label(&self) -> String {
        match self {
            GroupKey::Start(start) => start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            GroupKey::Name(name) => name.clone(),
        }
    }
}

pub fn group_costs(groups: &[BillingGroup], grouping: Grouping, book: &PriceBook) -> BTreeMap<GroupKey, CostSums> {
    let mut out: BTreeMap<GroupKey, CostSums> = BTreeMap::new();
    for group in groups {
        out.entry(grouping.key_of(group)).or_default().add_group(group, book);
    }
    out
}

pub fn total_costs(groups: &[BillingGroup], book: &PriceBook) -> CostSums {
    let mut sums = CostSums::default();
    for group in groups {
        sums.add_group(group, book);
    }
    sums
}

/// How a single call's cost is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostStatus {
    Measured,
    Estimated,
    /// Usage is known but the model has no price on that day.
    NoPrice,
    /// No usage was recorded (refused or failed before the upstream answered).
    NoUsage,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestCost {
    pub status: CostStatus,
    pub breakdown: Option<CostBreakdown>,
    pub price: Option<Price>,
}

pub struct CallUsage<'a> {
    pub client_model: Option<&'a str>,
    pub upstream_model: Option<&'a str>,
    pub started_at: DateTime<Utc>,
    pub usage_source: &'a str,
    pub tokens: TokenCounts,
}

pub fn request_cost(call: &CallUsage<'_>, book: &PriceBook) -> RequestCost {
    let status = match call.usage_source {
        MEASURED => CostStatus::Measured,
        ESTIMATED => CostStatus::Estimated,
        _ => return RequestCost { status: CostStatus::NoUsage, breakdown: None, price: None },
    };
    let model = priced_model(call.client_model.unwrap_or_default(), call.upstream_model.unwrap_or_default());
    match book.price_at(model, call.started_at.naive_utc()) {
        Some(price) => {
            RequestCost { status, breakdown: Some(cost_of(&call.tokens, price)), price: Some(price.clone()) }
        }
        None => RequestCost { status: CostStatus::NoPrice, breakdown: None, price: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn group(bucket: &str, upstream: &str, source: &str, prompt: i64, completion: i64) -> BillingGroup {
        BillingGroup {
            bucket: at(bucket),
            client_model: "gpt-4o".into(),
            upstream_model: upstream.into(),
            usage_source: source.into(),
            endpoint: "/v1/chat/completions".into(),
            client_key: String::new(),
            requests: 1,
            prompt_tokens: prompt,
            completion_tokens: completion,
            cached_tokens: 0,
            cache_write_tokens: 0,
        }
    }

    fn book() -> PriceBook {
        let price = |from: &str, input: i64| Price {
            model: "o3".into(),
            effective_from: from.parse().unwrap(),
            input,
            output: input * 4,
            cache_read: None,
            cache_write: None,
        };
        PriceBook::new([price("2025-04-16", 10_000_000), price("2025-06-10", 2_000_000)])
    }

    #[test]
    fn measured_estimated_and_unpriced_are_kept_apart_and_a_range_spans_a_price_change() {
        let groups = [
            // 1M in + 1M out at $10/$40, then at $2/$8.
            group("2025-06-09T00:00:00Z", "o3", MEASURED, 1_000_000, 1_000_000),
            group("2025-06-10T00:00:00Z", "o3", MEASURED, 1_000_000, 1_000_000),
            group("2025-06-10T00:00:00Z", "o3", ESTIMATED, 500_000, 0),
            group("2025-06-10T00:00:00Z", "mystery-model", MEASURED, 10, 10),
            group("2025-06-10T00:00:00Z", "o3", "none", 0, 0),
        ];
        let total = total_costs(&groups, &book());
        assert_eq!(pricing::usd_from_pico(total.measured), 50.0 + 10.0);
        assert_eq!(pricing::usd_from_pico(total.estimated), 1.0);
        assert_eq!(total.requests, 5);
        assert_eq!(total.unpriced_requests, 1);
        assert_eq!(total.unpriced_models, BTreeSet::from(["mystery-model".to_string()]));

        let by_day = group_costs(&groups, Grouping::Day, &book());
        let days: Vec<(String, f64)> =
            by_day.iter().map(|(k, s)| (k.label(), pricing::usd_from_pico(s.measured))).collect();
        assert_eq!(days, [("2025-06-09T00:00:00Z".to_string(), 50.0), ("2025-06-10T00:00:00Z".to_string(), 10.0)]);
        let by_week = group_costs(&groups, Grouping::Week, &book());
        assert_eq!(by_week.keys().map(GroupKey::label).collect::<Vec<_>>(), ["2025-06-09T00:00:00Z"], "Monday");
        let by_month = group_costs(&groups, Grouping::Month, &book());
        assert_eq!(by_month.keys().map(GroupKey::label).collect::<Vec<_>>(), ["2025-06-01T00:00:00Z"]);
    }

    #[test]
    fn a_call_without_usage_or_price_has_no_cost_rather_than_zero() {
        let call = |source, model| CallUsage {
            client_model: Some("gpt-4o"),
            upstream_model: Some(model),
            started_at: at("2025-07-01T10:00:00Z"),
            usage_source: source,
            tokens: TokenCounts { prompt: 1_000, completion: 100, ..Default::default() },
        };
        let measured = request_cost(&call(MEASURED, "o3"), &book());
        assert_eq!(measured.status, CostStatus::Measured);
        assert_eq!(measured.breakdown.unwrap().total(), 1_000 * 2_000_000 + 100 * 8_000_000);
        assert_eq!(request_cost(&call(ESTIMATED, "o3"), &book()).status, CostStatus::Estimated);
        let unpriced = request_cost(&call(MEASURED, "mystery"), &book());
        assert_eq!((unpriced.status, unpriced.breakdown), (CostStatus::NoPrice, None));
        assert_eq!(request_cost(&call("none", "o3"), &book()).status, CostStatus::NoUsage);
    }
}
