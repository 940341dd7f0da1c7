//! Budgets (configuration, written by the admin API) and their alerts (written here). Every proxy
//! sharing the database reads the same budgets and usage, and an alert row is unique per budget,
//! period and threshold, so whichever proxy inserts it first is the one that delivers it.

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::{MySqlPool, QueryBuilder};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BudgetRow {
    pub id: i64,
    pub name: String,
    pub metric: String,
    pub period: String,
    pub model: Option<String>,
    pub client_key: Option<String>,
    pub amount: i64,
    pub thresholds: String,
    pub hard_limit: bool,
    pub webhook_url: Option<String>,
}

pub async fn load(pool: &MySqlPool) -> sqlx::Result<Vec<BudgetRow>> {
    sqlx::query_as(
        "SELECT id, name, metric, period, model, client_key, amount, thresholds, hard_limit, webhook_url \
         FROM budgets ORDER BY id",
    )
    .fetch_all(pool)
    .await
}

/// Token sums since `since` by day, models and usage source, within a budget's scope.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UsageRow {
    pub day: NaiveDateTime,
    pub client_model: String,
    pub upstream_model: String,
    pub usage_source: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_tokens: i64,
    pub cache_write_tokens: i64,
}

/// The rollup holds every stored row, the current hour included, so it alone answers.
pub async fn usage_since(
    pool: &MySqlPool,
    since: DateTime<Utc>,
    model: Option<&str>,
    client_key: Option<&str>,
) -> sqlx::Result<Vec<UsageRow>> {
    let mut query = QueryBuilder::new(
        "SELECT CAST(DATE(hour) AS DATETIME) AS day, client_model, upstream_model, \
         CAST(usage_source AS CHAR) AS usage_source, CAST(SUM(prompt_tokens) AS SIGNED) AS prompt_tokens, \
         CAST(SUM(completion_tokens) AS SIGNED) AS completion_tokens, \
         CAST(SUM(cached_tokens) AS SIGNED) AS cached_tokens, \
         CAST(SUM(cache_write_tokens) AS SIGNED) AS cache_write_tokens \
         FROM billing_hourly WHERE usage_source <> 'none' AND hour >= ",
    );
    query.push_bind(since.naive_utc());
    if let Some(model) = model {
        query.push(" AND (upstream_model = ").push_bind(model).push(" OR client_model = ").push_bind(model).push(")");
    }
    if let Some(key) = client_key {
        query.push(" AND client_key = ").push_bind(key);
    }
    query.push(" GROUP BY 1, 2, 3, 4");
    query.build_query_as().persistent(false).fetch_all(pool).await
}

/// Records a crossing; true for the one caller whose insert made the row.
pub async fn record_alert(
    pool: &MySqlPool,
    budget: &BudgetRow,
    period_start: DateTime<Utc>,
    threshold: i32,
    used: i64,
) -> sqlx::Result<bool> {
    let delivery = if budget.webhook_url.is_some() { "pending" } else { "none" };
    let done = sqlx::query(
        "INSERT IGNORE INTO budget_alerts (budget_id, period_start, threshold, fired_at, used, amount, delivery, \
         next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(budget.id)
    .bind(period_start.naive_utc())
    .bind(threshold)
    .bind(Utc::now().naive_utc())
    .bind(used)
    .bind(budget.amount)
    .bind(delivery)
    .bind(Utc::now().naive_utc())
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueAlert {
    pub id: i64,
    pub attempts: i32,
    pub period_start: NaiveDateTime,
    pub threshold: i32,
    pub used: i64,
    pub amount: i64,
    pub name: String,
    pub metric: String,
    pub period: String,
    pub model: Option<String>,
    pub client_key: Option<String>,
    pub webhook_url: Option<String>,
    pub webhook_format: String,
}

/// Alerts waiting for (another) delivery attempt.
pub async fn due_alerts(pool: &MySqlPool) -> sqlx::Result<Vec<DueAlert>> {
    sqlx::query_as(
        "SELECT a.id, a.attempts, a.period_start, a.threshold, a.used, a.amount, b.name, b.metric, b.period, \
         b.model, b.client_key, b.webhook_url, b.webhook_format \
         FROM budget_alerts a JOIN budgets b ON b.id = a.budget_id \
         WHERE a.delivery = 'pending' AND a.next_attempt_at <= ? ORDER BY a.id LIMIT 50",
    )
    .bind(Utc::now().naive_utc())
    .fetch_all(pool)
    .await
}

/// Takes an alert for one attempt (pushing its next attempt out by `lease`); false when another
/// proxy took it first.
pub async fn claim(pool: &MySqlPool, alert: &DueAlert, lease: chrono::TimeDelta) -> sqlx::Result<bool> {
    let now = Utc::now().naive_utc();
    let done = sqlx::query(
        "UPDATE budget_alerts SET next_attempt_at = ?, attempts = attempts + 1 \
         WHERE id = ? AND delivery = 'pending' AND attempts = ?",
    )
    .bind(now + lease)
    .bind(alert.id)
    .bind(alert.attempts)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delivered(pool: &MySqlPool, id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE budget_alerts SET delivery = 'delivered', delivered_at = ?, last_error = NULL WHERE id = ?")
        .bind(Utc::now().naive_utc())
        .bind(id)
        .execute(pool)
        .await
        .map(|_| ())
}

/// A failed attempt: tried again at `retry_at`, or given up (`None`).
pub async fn failed(pool: &MySqlPool, id: i64, error: &str, retry_at: Option<NaiveDateTime>) -> sqlx::Result<()> {
    let error: String = error.chars().take(500).collect();
    let (delivery, next) = match retry_at {
        Some(at) => ("pending", at),
        None => ("failed", Utc::now().naive_utc()),
    };
    sqlx::query("UPDATE budget_alerts SET delivery = ?, next_attempt_at = ?, last_error = ? WHERE id = ?")
        .bind(delivery)
        .bind(next)
        .bind(error)
        .bind(id)
        .execute(pool)
        .await
        .map(|_| ())
}
