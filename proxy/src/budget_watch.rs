//! The budget watcher: every `BUDGET_CHECK_INTERVAL_MS` it re-reads the budgets, sums each one's
//! usage in its current period from `billing_hourly` (cost at the stored prices of each day,
//! measured and estimated alike: both are spent), records each threshold crossed — once per period,
//! whichever proxy sees it first — tells the request path which hard limits are used up, and
//! delivers pending alerts to their webhooks with retries. State lives in MySQL, so it is the same
//! after a restart and across proxies.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use pricing::{budget_used, Period, PriceBook, ScopedUsage, TokenCounts};
use sqlx::MySqlPool;

use crate::budget_gate::{BudgetGate, Exhausted};
use crate::db::budgets::{self, BudgetRow, UsageRow};
use crate::db::prices::load_price_book;
use crate::log_writer::LogSender;
use crate::webhook;

/// Attempts before an alert's delivery is given up (backoff 2, 4, … 256 s between them).
const MAX_ATTEMPTS: i32 = 8;
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);

pub struct BudgetWatch {
    pub pool: MySqlPool,
    pub gate: BudgetGate,
    pub client: reqwest::Client,
    pub interval: Duration,
    /// The log writer applies the migrations; until it has, the budget tables may not exist.
    pub log: LogSender,
}

impl BudgetWatch {
    pub async fn run(self) {
        let mut failing = false;
        loop {
            // Read before the check: a check that failed while the migrations were still to come
            // (a fresh database has no budget tables yet) is expected, and a first start should not
            // warn about it. It runs all the same, so that a proxy started on a database that has
            // them applies its hard limits at once.
            let schema_ready = self.log.migrations_applied();
            match self.check_once().await {
                Ok(()) => failing = false,
                // While MySQL is down, or before the migrations: keep the last verdict.
                Err(error) if schema_ready && !std::mem::replace(&mut failing, true) => {
                    tracing::warn!(%error, "budgets cannot be checked; keeping the last state");
                }
                Err(_) => {}
            }
            self.deliver_due().await;
            tokio::time::sleep(self.interval).await;
        }
    }

    pub async fn check_once(&self) -> sqlx::Result<()> {
        let list = budgets::load(&self.pool).await?;
        if list.is_empty() {
            self.gate.set(Vec::new());
            return Ok(());
        }
        let prices = load_price_book(&self.pool).await?;
        let now = Utc::now();
        let mut exhausted = Vec::new();
        for budget in &list {
            let Some(period) = Period::parse(&budget.period) else {
                continue;
            };
            let (start, end) = period.bounds(now);
            let rows =
                budgets::usage_since(&self.pool, start, budget.model.as_deref(), budget.client_key.as_deref()).await?;
            let used = used(budget, &rows, &prices);
            for threshold in thresholds(&budget.thresholds) {
                if i128::from(used) * 100 >= i128::from(threshold) * i128::from(budget.amount)
                    && budgets::record_alert(&self.pool, budget, start, threshold, used).await?
                {
                    tracing::info!(budget = %budget.name, threshold, used, amount = budget.amount, "budget threshold crossed");
                }
            }
            if budget.hard_limit && used >= budget.amount {
                exhausted.push(Exhausted {
                    name: budget.name.clone(),
                    period: period.as_str(),
                    model: budget.model.clone(),
                    client_key: budget.client_key.clone(),
                    until: end,
                });
            }
        }
        self.gate.set(exhausted);
        Ok(())
    }

    async fn deliver_due(&self) {
        let Ok(due) = budgets::due_alerts(&self.pool).await else {
            return;
        };
        for alert in due {
            // The lease keeps other proxies off this alert while the attempt runs.
            match budgets::claim(&self.pool, &alert, TimeDelta::seconds(60)).await {
                Ok(true) => {}
                _ => continue,
            }
            let Some(url) = alert.webhook_url.clone() else {
                continue;
            };
            let body = webhook::payload(&alert).to_string();
            let sent = self
                .client
                .post(&url)
                .timeout(WEBHOOK_TIMEOUT)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await;
            let outcome = match sent {
                Ok(response) if response.status().is_success() => Ok(()),
                Ok(response) => Err(format!("HTTP {}", response.status())),
                Err(error) => Err(if error.is_timeout() { "timed out".into() } else { "unreachable".into() }),
            };
            let attempts = alert.attempts + 1;
            let written = match outcome {
                Ok(()) => budgets::delivered(&self.pool, alert.id).await,
                Err(error) => {
                    tracing::warn!(budget = %alert.name, attempts, %error, "budget alert webhook failed");
                    let retry_at = (attempts < MAX_ATTEMPTS)
                        .then(|| Utc::now().naive_utc() + TimeDelta::seconds(1 << attempts.min(8)));
                    budgets::failed(&self.pool, alert.id, &error, retry_at).await
                }
            };
            if let Err(error) = written {
                tracing::warn!(%error, "cannot record a webhook attempt");
            }
        }
    }
}

fn used(budget: &BudgetRow, rows: &[UsageRow], prices: &PriceBook) -> i64 {
    let usage = rows.iter().map(|row| ScopedUsage {
        at: row.day,
        model: if row.upstream_model.is_empty() { &row.client_model } else { &row.upstream_model },
        tokens: TokenCounts {
            prompt: row.prompt_tokens,
            completion: row.completion_tokens,
            cache_read: row.cached_tokens,
            cache_write: row.cache_write_tokens,
        },
    });
    budget_used(budget.metric == "cost", usage, prices)
}

/// `"50,80,100"` → `[50, 80, 100]`; anything unreadable is skipped.
fn thresholds(text: &str) -> Vec<i32> {
    text.split(',').filter_map(|t| t.trim().parse().ok()).filter(|t| *t > 0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_read_leniently() {
        assert_eq!(thresholds("50,80,100"), [50, 80, 100]);
        assert_eq!(thresholds(" 90 , x, 0,120"), [90, 120]);
    }
}
