//! Budgets and alerts in the schema. Cost amounts are US dollars (stored as µ$), token amounts
//! prompt + completion tokens.

use async_graphql::{Enum, InputObject, SimpleObject, ID};
use chrono::{DateTime, Utc};
use pricing::{budget_used, Period, PriceBook, ScopedUsage, TokenCounts};

use sqlx::MySqlPool;

use crate::db::budgets::{self, AlertRow, BudgetRow, NewBudget, UsageRow};

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum BudgetMetric {
    /// US dollars, at the stored prices (measured and estimated usage both count).
    Cost,
    /// Prompt + completion tokens.
    Tokens,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum BudgetPeriod {
    /// UTC calendar day.
    Day,
    /// Monday to Sunday, UTC.
    Week,
    /// UTC calendar month.
    Month,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum WebhookFormat {
    /// JSON with the facts and a Slack-compatible `text`.
    Generic,
    /// Feishu/Lark bot text message.
    Feishu,
    /// DingTalk bot text message.
    Dingtalk,
}

#[derive(InputObject, Clone, Debug)]
pub struct BudgetInput {
    pub name: String,
    pub metric: BudgetMetric,
    pub period: BudgetPeriod,
    /// Only calls to this model (upstream or client name); null: every model.
    pub model: Option<String>,
    /// Only calls made with this client key label (`key-xxxxxxxx`); null: every caller.
    pub client_key: Option<String>,
    /// Dollars for COST, tokens for TOKENS.
    pub amount: f64,
    /// Percentages that send an alert once per period.
    #[graphql(default_with = "vec![50, 80, 100]")]
    pub thresholds: Vec<i32>,
    /// Past 100 %, the proxy answers 429 `insufficient_quota` instead of forwarding.
    #[graphql(default = false)]
    pub hard_limit: bool,
    pub webhook_url: Option<String>,
    #[graphql(default_with = "WebhookFormat::Generic")]
    pub webhook_format: WebhookFormat,
}

impl BudgetInput {
    pub fn validate(&self) -> Result<NewBudget, String> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 255 {
            return Err("name must be 1 to 255 characters".into());
        }
        let amount = match self.metric {
            BudgetMetric::Cost => pricing::micros_from_usd(self.amount),
            BudgetMetric::Tokens => (self.amount.is_finite() && self.amount >= 0.0 && self.amount < 9e18)
                .then(|| self.amount.round() as i64),
        };
        let amount =
            amount.filter(|a| *a > 0).ok_or_else(|| format!("amount must be above 0 (got {})", self.amount))?;
        let mut thresholds = self.thresholds.clone();
        thresholds.sort_unstable();
        thresholds.dedup();
        if thresholds.is_empty() || thresholds.len() > 10 || thresholds.iter().any(|t| !(1..=1000).contains(t)) {
            return Err("thresholds must be 1 to 10 percentages from 1 to 1000".into());
        }
        let webhook_url = self.webhook_url.as_deref().map(str::trim).filter(|u| !u.is_empty());
        if let Some(url) = webhook_url {
            let ok = url.len() <= 1024 && (url.starts_with("https://") || url.starts_with("http://"));
            if !ok {
                return Err("webhookUrl must be an http(s) URL of up to 1024 characters".into());
            }
        }
        let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(String::from);
        let model = text(&self.model);
        if model.as_ref().is_some_and(|m| m.chars().count() > 255) {
            return Err("model must be up to 255 characters".into());
        }
        let client_key = text(&self.client_key);
        if client_key.as_ref().is_some_and(|k| k.len() > 64) {
            return Err("clientKey must be a key label such as key-0a1b2c3d".into());
        }
        Ok(NewBudget {
            name: name.to_string(),
            metric: match self.metric {
                BudgetMetric::Cost => "cost",
                BudgetMetric::Tokens => "tokens",
            },
            period: match self.period {
                BudgetPeriod::Day => "day",
                BudgetPeriod::Week => "week",
                BudgetPeriod::Month => "month",
            },
            model,
            client_key,
            amount,
            thresholds: thresholds.iter().map(i32::to_string).collect::<Vec<_>>().join(","),
            hard_limit: self.hard_limit,
            webhook_url: webhook_url.map(String::from),
            webhook_format: match self.webhook_format {
                WebhookFormat::Generic => "generic",
                WebhookFormat::Feishu => "feishu",
                WebhookFormat::Dingtalk => "dingtalk",
            },
        })
    }
}

/// Where a budget stands in its current period.
#[derive(SimpleObject, Clone, Debug)]
pub struct BudgetStatus {
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    /// In the budget's unit: dollars or tokens.
    pub used: f64,
    pub used_percent: f64,
    /// Used up with a hard limit: the proxies refuse the calls it covers.
    pub blocking: bool,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct Budget {
    pub id: ID,
    pub name: String,
    pub metric: BudgetMetric,
    pub period: BudgetPeriod,
    pub model: Option<String>,
    pub client_key: Option<String>,
    /// Dollars for COST, tokens for TOKENS.
    pub amount: f64,
    pub thresholds: Vec<i32>,
    pub hard_limit: bool,
    pub webhook_url: Option<String>,
    pub webhook_format: WebhookFormat,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub status: BudgetStatus,
}

fn period_of(row: &BudgetRow) -> Period {
    Period::parse(&row.period).unwrap_or(Period::Month)
}

fn in_unit(metric: &str, amount: i64) -> f64 {
    if metric == "cost" {
        pricing::usd_from_micros(amount)
    } else {
        amount as f64
    }
}

impl Budget {
    /// A stored budget with its use of the period holding `now`.
    pub async fn load(pool: &MySqlPool, row: BudgetRow, prices: &PriceBook, now: DateTime<Utc>) -> sqlx::Result<Self> {
        let usage = budgets::usage_since(pool, &row, period_of(&row).bounds(now).0).await?;
        Ok(Budget::new(row, &usage, prices, now))
    }

    fn new(row: BudgetRow, usage: &[UsageRow], prices: &PriceBook, now: DateTime<Utc>) -> Self {
        let period = period_of(&row);
        let (start, end) = period.bounds(now);
        let used = budget_used(
            row.metric == "cost",
            usage.iter().map(|u| ScopedUsage {
                at: u.day,
                model: if u.upstream_model.is_empty() { &u.client_model } else { &u.upstream_model },
                tokens: TokenCounts {
                    prompt: u.prompt_tokens,
                    completion: u.completion_tokens,
                    cache_read: u.cached_tokens,
                    cache_write: u.cache_write_tokens,
                },
            }),
            prices,
        );
        Budget {
            id: ID(row.id.to_string()),
            status: BudgetStatus {
                period_start: start,
                period_end: end,
                used: in_unit(&row.metric, used),
                used_percent: if row.amount > 0 { used as f64 * 100.0 / row.amount as f64 } else { 0.0 },
                blocking: row.hard_limit && used >= row.amount,
            },
            metric: if row.metric == "tokens" { BudgetMetric::Tokens } else { BudgetMetric::Cost },
            period: match period {
                Period::Day => BudgetPeriod::Day,
                Period::Week => BudgetPeriod::Week,
                Period::Month => BudgetPeriod::Month,
            },
            amount: in_unit(&row.metric, row.amount),
            thresholds: row.thresholds.split(',').filter_map(|t| t.trim().parse().ok()).collect(),
            webhook_format: match row.webhook_format.as_str() {
                "feishu" => WebhookFormat::Feishu,
                "dingtalk" => WebhookFormat::Dingtalk,
                _ => WebhookFormat::Generic,
            },
            name: row.name,
            model: row.model,
            client_key: row.client_key,
            hard_limit: row.hard_limit,
            webhook_url: row.webhook_url,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum AlertDelivery {
    /// Waiting for its (next) webhook attempt.
    Pending,
    Delivered,
    /// Given up after repeated webhook failures.
    Failed,
    /// The budget has no webhook: recorded only.
    None,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct BudgetAlert {
    pub id: ID,
    pub budget_id: ID,
    /// Null when the budget was deleted since.
    pub budget_name: Option<String>,
    pub period_start: DateTime<Utc>,
    pub threshold: i32,
    pub fired_at: DateTime<Utc>,
    /// In the budget's unit when it fired: dollars or tokens.
    pub used: f64,
    pub amount: f64,
    pub delivery: AlertDelivery,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<AlertRow> for BudgetAlert {
    fn from(row: AlertRow) -> Self {
        let metric = row.metric.clone().unwrap_or_else(|| "cost".into());
        BudgetAlert {
            id: ID(row.id.to_string()),
            budget_id: ID(row.budget_id.to_string()),
            budget_name: row.budget_name,
            period_start: row.period_start,
            threshold: row.threshold,
            fired_at: row.fired_at,
            used: in_unit(&metric, row.used),
            amount: in_unit(&metric, row.amount),
            delivery: match row.delivery.as_str() {
                "pending" => AlertDelivery::Pending,
                "delivered" => AlertDelivery::Delivered,
                "failed" => AlertDelivery::Failed,
                _ => AlertDelivery::None,
            },
            attempts: row.attempts,
            last_error: row.last_error,
            delivered_at: row.delivered_at,
        }
    }
}
