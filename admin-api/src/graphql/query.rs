//! The query root: thin resolvers that validate arguments, call `db`, and shape the answer.

use async_graphql::{Context, Object, Result, ID};
use chrono::{TimeDelta, Utc};
use sqlx::MySqlPool;
use stored_conversation::{ReplyCuts, ReplyParts};

use std::collections::BTreeMap;

use crate::costing::CostSums;
use crate::db::aggregates::{self, GroupBy, RollupFilter};
use crate::db::{budgets, prices, requests};
use crate::graphql::budget_types::{Budget, BudgetAlert};
use crate::graphql::cost_types::{ConversationCost, CostGrouping, CostReport, ModelPrice};
use crate::graphql::errors::{bad_user_input, internal};
use crate::graphql::types::*;
use crate::reports;
use crate::time_window::Window;

/// Page sizes the list offers; anything else is refused so no query can ask for unbounded rows.
pub const PAGE_SIZES: [i32; 5] = [10, 20, 50, 100, 200];
/// The window of aggregates when no range is given.
const DEFAULT_RANGE: TimeDelta = TimeDelta::days(30);

pub struct Query;

pub fn window(range: Option<TimeRange>) -> Result<Window> {
    let now = Utc::now();
    let window = match range {
        None => Window { from: Some(now - DEFAULT_RANGE), to: now },
        Some(range) => Window { from: range.from, to: range.to.unwrap_or(now) },
    };
    if window.from.is_some_and(|from| from > window.to) {
        return Err(bad_user_input("range.from must not be after range.to"));
    }
    Ok(window)
}

pub fn pool<'a>(ctx: &Context<'a>) -> &'a MySqlPool {
    ctx.data_unchecked::<MySqlPool>()
}

async fn model_stats_of(
    pool: &MySqlPool,
    window: &Window,
    costs: &BTreeMap<String, CostSums>,
) -> Result<Vec<ModelStats>> {
    let groups = aggregates::sums(pool, &window.split(), GroupBy::ClientModel, &RollupFilter::default())
        .await
        .map_err(internal)?;
    let mut stats: Vec<ModelStats> = groups
        .iter()
        .map(|((_, model), sums)| {
            let model = model.clone().unwrap_or_default();
            let cost = costs.get(&model);
            ModelStats::new(model, sums, cost)
        })
        .collect();
    stats.sort_by(|a, b| b.requests.cmp(&a.requests).then_with(|| a.model.cmp(&b.model)));
    Ok(stats)
}

#[Object]
impl Query {
    /// Totals, the newest requests and per-model statistics for a range (default: the last 30 days).
    async fn overview(
        &self,
        ctx: &Context<'_>,
        range: Option<TimeRange>,
        #[graphql(default = 20, validator(minimum = 0, maximum = 200))] recent_limit: i32,
    ) -> Result<Overview> {
        let pool = pool(ctx);
        let window = window(range)?;
        let split = window.split();
        // Independent queries, run side by side on separate connections.
        let no_filter = RollupFilter::default();
        let book = prices::book(pool).await.map_err(internal)?;
        let (totals, histogram, recent, (total_cost, model_costs)) = tokio::try_join!(
            async { aggregates::sums(pool, &split, GroupBy::Nothing, &no_filter).await.map_err(internal) },
            async { aggregates::latency_histogram(pool, &split).await.map_err(internal) },
            async { requests::fetch_recent(pool, &window, recent_limit as u64).await.map_err(internal) },
            async { reports::costs_by_client_model(pool, &window, &book).await.map_err(internal) },
        )?;
        let models = model_stats_of(pool, &window, &model_costs).await?;
        let totals = totals.into_values().next().unwrap_or_default();
        Ok(Overview {
            range: ResolvedRange { from: window.from, to: window.to },
            totals: Totals::new(&totals, aggregates::percentile_ms(&histogram, 0.95), &total_cost),
            recent_requests: recent.into_iter().map(|row| RequestSummary::new(row, &book)).collect(),
            models,
        })
    }

    /// Recorded requests, newest first, a page at a time.
    async fn requests(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 1)] page: i32,
        #[graphql(default = 20)] page_size: i32,
        filter: Option<RequestFilter>,
    ) -> Result<RequestPage> {
        if !PAGE_SIZES.contains(&page_size) {
            return Err(bad_user_input(format!("pageSize must be one of 10, 20, 50, 100, 200 (got {page_size})")));
        }
        if page < 1 {
            return Err(bad_user_input(format!("page starts at 1 (got {page})")));
        }
        let filter = filter.unwrap_or_default();
        let range = filter.range.clone().unwrap_or_default();
        if let (Some(from), Some(to)) = (range.from, range.to) {
            if from > to {
                return Err(bad_user_input("range.from must not be after range.to"));
            }
        }
        let search = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(String::from);
        let db_filter = requests::RequestFilter {
            rollup: RollupFilter {
                client_model: filter.client_model,
                upstream_model: filter.upstream_model,
                any_model: filter.model,
                outcome: filter.outcome.map(Outcome::as_str),
                is_stream: filter.stream,
            },
            from: range.from,
            to: range.to,
            search,
        };
        let pool = pool(ctx);
        let offset = (page as u64 - 1) * page_size as u64;
        let (found, book) = tokio::try_join!(
            async { requests::fetch_requests_page(pool, &db_filter, offset, page_size as u64).await.map_err(internal) },
            async { prices::book(pool).await.map_err(internal) },
        )?;
        let total_count = found.total;
        let page_count = (total_count + i64::from(page_size) - 1) / i64::from(page_size);
        Ok(RequestPage {
            items: found.rows.into_iter().map(|row| RequestSummary::new(row, &book)).collect(),
            total_count,
            total_count_is_lower_bound: found.total_is_lower_bound,
            page,
            page_size,
            page_count,
            has_next_page: i64::from(page) < page_count,
            has_previous_page: page > 1,
        })
    }

    /// Everything recorded for one request; `null` when there is none with this id.
    async fn request(&self, ctx: &Context<'_>, id: ID) -> Result<Option<RequestDetail>> {
        let uuid = uuid::Uuid::parse_str(&id)
            .map_err(|_| bad_user_input(format!("{:?} is not a request id (a UUID)", id.as_str())))?;
        let pool = pool(ctx);
        let Some(row) = requests::fetch_request(pool, uuid.as_bytes()).await.map_err(internal)? else {
            return Ok(None);
        };
        let messages = match &row.last_message_id {
            Some(last) => requests::fetch_conversation(pool, last).await.map_err(internal)?,
            None => Vec::new(),
        };
        let book = prices::book(pool).await.map_err(internal)?;
        let raws: Vec<_> = messages.iter().map(requests::MessageRow::raw_json).collect();
        let raw_request =
            stored_conversation::reassemble(&row.request_envelope, row.messages_offset.map(|o| o as usize), &raws);
        let raw_response = row.response_json.as_deref().map(|stored| {
            let cuts = ReplyCuts::from_columns(row.response_reply_offset, row.response_tool_calls_offset);
            let parts = ReplyParts { text: row.reply_text.as_deref(), tool_calls: row.reply_tool_calls.as_deref() };
            String::from_utf8_lossy(&stored_conversation::response_json(stored, cuts, parts)).into_owned()
        });
        let hex = |bytes: &Vec<u8>| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        Ok(Some(RequestDetail {
            finished_at: row.finished_at,
            error_message: row.error_message,
            client_ip: row.client_ip,
            user_agent: row.user_agent,
            body_sha256: row.body_sha256.as_ref().map(hex),
            conversation_id: row.conversation_id.as_ref().map(hex),
            reply: Reply {
                text: row.reply_text,
                tool_calls: ToolCall::list_from_json(row.reply_tool_calls.as_deref()),
                finish_reason: row.finish_reason,
            },
            raw_request: String::from_utf8_lossy(&raw_request).into_owned(),
            raw_response,
            messages: messages.into_iter().map(Message::from).collect(),
            summary: RequestSummary::new(row.summary, &book),
        }))
    }

    /// Usage per time bucket and client model, oldest first, for charts (default: the last 30 days).
    async fn usage_series(
        &self,
        ctx: &Context<'_>,
        bucket: TimeBucket,
        range: Option<TimeRange>,
        model: Option<String>,
    ) -> Result<Vec<UsagePoint>> {
        let window = window(range)?;
        let group_by = match bucket {
            TimeBucket::Hour => GroupBy::HourAndModel,
            TimeBucket::Day => GroupBy::DayAndModel,
        };
        let filter = RollupFilter { client_model: model, ..Default::default() };
        let groups = aggregates::sums(pool(ctx), &window.split(), group_by, &filter).await.map_err(internal)?;
        Ok(groups
            .iter()
            .filter_map(|((start, model), sums)| {
                Some(UsagePoint::new((*start)?, model.clone().unwrap_or_default(), sums))
            })
            .collect())
    }

    /// Per client model: requests, tokens, average latency, errors, cost (default: the last 30 days).
    async fn model_stats(&self, ctx: &Context<'_>, range: Option<TimeRange>) -> Result<Vec<ModelStats>> {
        let window = window(range)?;
        let book = prices::book(pool(ctx)).await.map_err(internal)?;
        let (_, costs) = reports::costs_by_client_model(pool(ctx), &window, &book).await.map_err(internal)?;
        model_stats_of(pool(ctx), &window, &costs).await
    }

    /// Cost and tokens grouped by model, time, client key or endpoint (default: the last 30 days).
    /// Also at `GET /api/reports/cost?groupBy=…&from=…&to=…&format=csv|json`.
    async fn cost_report(
        &self,
        ctx: &Context<'_>,
        group_by: CostGrouping,
        range: Option<TimeRange>,
    ) -> Result<CostReport> {
        reports::cost_report(pool(ctx), &window(range)?, group_by).await.map_err(internal)
    }

    /// The costliest requests of a range, costliest first (default: the last 30 days). Requests
    /// whose model has no price are not ranked.
    async fn top_requests(
        &self,
        ctx: &Context<'_>,
        range: Option<TimeRange>,
        #[graphql(default = 10, validator(minimum = 1, maximum = 100))] limit: i32,
    ) -> Result<Vec<RequestSummary>> {
        reports::top_requests(pool(ctx), &window(range)?, limit).await.map_err(internal)
    }

    /// The costliest conversations of a range, by the cost of their requests in it.
    async fn top_conversations(
        &self,
        ctx: &Context<'_>,
        range: Option<TimeRange>,
        #[graphql(default = 10, validator(minimum = 1, maximum = 100))] limit: i32,
    ) -> Result<Vec<ConversationCost>> {
        reports::top_conversations(pool(ctx), &window(range)?, limit).await.map_err(internal)
    }

    /// Every budget with where it stands in its current period.
    async fn budgets(&self, ctx: &Context<'_>) -> Result<Vec<Budget>> {
        let pool = pool(ctx);
        let (rows, prices) = tokio::try_join!(async { budgets::all(pool).await.map_err(internal) }, async {
            prices::book(pool).await.map_err(internal)
        },)?;
        let now = Utc::now();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(Budget::load(pool, row, &prices, now).await.map_err(internal)?);
        }
        Ok(out)
    }

    /// Alerts the budgets fired, newest first.
    async fn budget_alerts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 500))] limit: i32,
    ) -> Result<Vec<BudgetAlert>> {
        let rows = budgets::alerts(pool(ctx), i64::from(limit)).await.map_err(internal)?;
        Ok(rows.into_iter().map(BudgetAlert::from).collect())
    }

    /// Every price entry, by model and effective date. Also at `GET /api/prices` (JSON, the
    /// format `POST /api/prices` and `importPrices` take).
    async fn prices(&self, ctx: &Context<'_>) -> Result<Vec<ModelPrice>> {
        let stored = prices::all(pool(ctx)).await.map_err(internal)?;
        Ok(stored.into_iter().map(ModelPrice::from).collect())
    }
}
