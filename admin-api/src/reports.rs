//! Cost reports, shared by GraphQL and the plain-HTTP export (`report_export.rs`).

use std::collections::BTreeMap;

use async_graphql::ID;
use pricing::{PriceBook, TokenCounts};
use sqlx::MySqlPool;

use crate::costing::{self, CallUsage, CostSums, GroupKey};
use crate::db::{billing, prices, requests, top_costs};
use crate::graphql::cost_types::{ConversationCost, CostGrouping, CostReport, CostReportRow, CostSummary};
use crate::graphql::types::{format_id, RequestSummary, ResolvedRange};
use crate::time_window::Window;

/// Longest top-N list.
pub const MAX_TOP: i32 = 100;

pub async fn cost_report(pool: &MySqlPool, window: &Window, group_by: CostGrouping) -> sqlx::Result<CostReport> {
    let grouping = group_by.grouping();
    let detail = billing::Detail {
        hourly: grouping == costing::Grouping::Hour,
        endpoint: grouping == costing::Grouping::Endpoint,
        client_key: grouping == costing::Grouping::ClientKey,
    };
    let split = window.split();
    let (book, groups) = tokio::try_join!(prices::book(pool), billing::groups(pool, &split, detail))?;
    let grouped = costing::group_costs(&groups, grouping, &book);
    let mut rows: Vec<CostReportRow> = grouped.iter().map(|(key, sums)| CostReportRow::new(key, sums)).collect();
    if !grouping.is_time() {
        let spent = |row: &CostReportRow| row.cost.measured_usd + row.cost.estimated_usd;
        rows.sort_by(|a, b| spent(b).total_cmp(&spent(a)).then_with(|| b.requests.cmp(&a.requests)));
    }
    let total = costing::total_costs(&groups, &book);
    Ok(CostReport {
        range: ResolvedRange { from: window.from, to: window.to },
        group_by,
        rows,
        total: CostReportRow::new(&GroupKey::Name("total".into()), &total),
    })
}

/// Costs of the whole window and per client model, for the overview and model statistics.
pub async fn costs_by_client_model(
    pool: &MySqlPool,
    window: &Window,
    book: &PriceBook,
) -> sqlx::Result<(CostSums, BTreeMap<String, CostSums>)> {
    let groups = billing::groups(pool, &window.split(), billing::Detail::default()).await?;
    let by_model = costing::group_costs(&groups, costing::Grouping::ClientModel, book)
        .into_iter()
        .map(|(key, sums)| (key.label(), sums))
        .collect();
    Ok((costing::total_costs(&groups, book), by_model))
}

pub async fn top_requests(pool: &MySqlPool, window: &Window, limit: i32) -> sqlx::Result<Vec<RequestSummary>> {
    let book = prices::book(pool).await?;
    let ids = top_costs::top_request_ids(pool, window, &book, limit.clamp(0, MAX_TOP) as u64).await?;
    let rows = requests::fetch_summaries(pool, &ids).await?;
    Ok(rows.into_iter().map(|row| RequestSummary::new(row, &book)).collect())
}

pub async fn top_conversations(pool: &MySqlPool, window: &Window, limit: i32) -> sqlx::Result<Vec<ConversationCost>> {
    let book: PriceBook = prices::book(pool).await?;
    let ids = top_costs::top_conversation_ids(pool, window, &book, limit.clamp(0, MAX_TOP) as u64).await?;
    let (rows, titles) = tokio::try_join!(
        top_costs::conversation_rows(pool, window, &ids),
        top_costs::conversation_titles(pool, &ids, 200)
    )?;
    let titles: BTreeMap<Vec<u8>, Option<String>> = titles.into_iter().collect();
    let mut out = Vec::with_capacity(ids.len());
    for id in &ids {
        let mine: Vec<&top_costs::PricedRow> = rows.iter().filter(|r| r.conversation_id.as_ref() == Some(id)).collect();
        let (Some(first), Some(last)) =
            (mine.iter().min_by_key(|r| r.started_at), mine.iter().max_by_key(|r| (r.started_at, r.id.clone())))
        else {
            continue;
        };
        let mut sums = CostSums::default();
        for row in &mine {
            add_call(&mut sums, row, &book);
        }
        out.push(ConversationCost {
            conversation_id: id.iter().map(|b| format!("{b:02x}")).collect(),
            title: titles.get(id).cloned().flatten(),
            first_started_at: first.started_at,
            last_started_at: last.started_at,
            latest_request_id: ID(format_id(&last.id)),
            prompt_tokens: sums.tokens.prompt,
            completion_tokens: sums.tokens.completion,
            cost: CostSummary::from(&sums),
        });
    }
    Ok(out)
}

fn add_call(sums: &mut CostSums, row: &top_costs::PricedRow, book: &PriceBook) {
    sums.add_call(
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
}
