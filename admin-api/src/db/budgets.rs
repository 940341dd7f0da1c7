//! Budgets (the admin API's configuration: written here) and the alerts the proxies recorded
//! (read only). Usage is summed as the proxies' watcher sums it, from `billing_hourly`.

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
    pub webhook_format: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A budget as written; `id` is set by the database.
#[derive(Debug, Clone)]
pub struct NewBudget {
    pub name: String,
    pub metric: &'static str,
    pub period: &'static str,
    pub model: Option<String>,
    pub client_key: Option<String>,
    pub amount: i64,
    pub thresholds: String,
    pub hard_limit: bool,
    pub webhook_url: Option<String>,
    pub webhook_format: &'static str,
}

const COLUMNS: &str = "id, name, metric, period, model, client_key, amount, thresholds, hard_limit, webhook_url, \
    webhook_format, created_at, updated_at";

pub async fn all(pool: &MySqlPool) -> sqlx::Result<Vec<BudgetRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM budgets ORDER BY id")).fetch_all(pool).await
}

pub async fn one(pool: &MySqlPool, id: i64) -> sqlx::Result<Option<BudgetRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM budgets WHERE id = ?")).bind(id).fetch_optional(pool).await
}

pub async fn create(pool: &MySqlPool, budget: &NewBudget) -> sqlx::Result<i64> {
    let done = sqlx::query(
        "INSERT INTO budgets (name, metric, period, model, client_key, amount, thresholds, hard_limit, webhook_url, \
         webhook_format) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&budget.name)
    .bind(budget.metric)
    .bind(budget.period)
    .bind(&budget.model)
    .bind(&budget.client_key)
    .bind(budget.amount)
    .bind(&budget.thresholds)
    .bind(budget.hard_limit)
    .bind(&budget.webhook_url)
    .bind(budget.webhook_format)
    .execute(pool)
    .await?;
    Ok(done.last_insert_id() as i64)
}

/// Whether a budget with this id existed.
pub async fn update(pool: &MySqlPool, id: i64, budget: &NewBudget) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE budgets SET name = ?, metric = ?, period = ?, model = ?, client_key = ?, amount = ?, thresholds = ?, \
         hard_limit = ?, webhook_url = ?, webhook_format = ?, updated_at = CURRENT_TIMESTAMP(6) WHERE id = ?",
    )
    .bind(&budget.name)
    .bind(budget.metric)
    .bind(budget.period)
    .bind(&budget.model)
    .bind(&budget.client_key)
    .bind(budget.amount)
    .bind(&budget.thresholds)
    .bind(budget.hard_limit)
    .bind(&budget.webhook_url)
    .bind(budget.webhook_format)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0 || one(pool, id).await?.is_some())
}

/// Removes a budget (its alerts stay, as history). Whether there was one.
pub async fn delete(pool: &MySqlPool, id: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM budgets WHERE id = ?").bind(id).execute(pool).await?.rows_affected() > 0)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UsageRow {
    pub day: NaiveDateTime,
    pub client_model: String,
    pub upstream_model: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_tokens: i64,
    pub cache_write_tokens: i64,
}

/// The budget's usage since `since`, by day and model (measured and estimated alike).
pub async fn usage_since(pool: &MySqlPool, budget: &BudgetRow, since: DateTime<Utc>) -> sqlx::Result<Vec<UsageRow>> {
    let mut query = QueryBuilder::new(
        "SELECT CAST(DATE(hour) AS DATETIME) AS day, client_model, upstream_model, \
         CAST(SUM(prompt_tokens) AS SIGNED) AS prompt_tokens, CAST(SUM(completion_tokens) AS SIGNED) AS completion_tokens, \
         CAST(SUM(cached_tokens) AS SIGNED) AS cached_tokens, CAST(SUM(cache_write_tokens) AS SIGNED) AS cache_write_tokens \
         FROM billing_hourly WHERE usage_source <> 'none' AND hour >= ",
    );
    query.push_bind(since.naive_utc());
    if let Some(model) = &budget.model {
        query.push(" AND (upstream_model = ").push_bind(model).push(" OR client_model = ").push_bind(model).push(")");
    }
    if let Some(key) = &budget.client_key {
        query.push(" AND client_key = ").push_bind(key);
    }
    query.push(" GROUP BY 1, 2, 3");
    query.build_query_as().fetch_all(pool).await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AlertRow {
    pub id: i64,
    pub budget_id: i64,
    pub budget_name: Option<String>,
    pub metric: Option<String>,
    pub period_start: DateTime<Utc>,
    pub threshold: i32,
    pub fired_at: DateTime<Utc>,
    pub used: i64,
    pub amount: i64,
    pub delivery: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// The newest alerts first.
pub async fn alerts(pool: &MySqlPool, limit: i64) -> sqlx::Result<Vec<AlertRow>> {
    sqlx::query_as(
        "SELECT a.id, a.budget_id, b.name AS budget_name, b.metric, a.period_start, a.threshold, a.fired_at, a.used, \
         a.amount, a.delivery, a.attempts, a.last_error, a.delivered_at \
         FROM budget_alerts a LEFT JOIN budgets b ON b.id = a.budget_id ORDER BY a.fired_at DESC, a.id DESC LIMIT ?",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}
