//! The table of requests shared by the overview (latest requests) and the request list.

use leptos::prelude::*;

use crate::components::cost::{Cost, CostText};
use crate::format::{duration_ms, grouped, local_time};
use crate::i18n::{use_texts, Texts};
use crate::list_query::Outcome;
use crate::queries::{overview, request_list};
use crate::routes;

/// One row, whichever query it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestRow {
    pub id: String,
    pub started_at: String,
    pub client_model: Option<String>,
    pub upstream_model: Option<String>,
    pub stream: bool,
    pub outcome: Outcome,
    pub http_status: i64,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub latency_ms: f64,
    pub preview: Option<String>,
    pub cost: Cost,
}

macro_rules! outcome_from {
    ($module:ident) => {
        impl From<$module::Outcome> for Outcome {
            fn from(outcome: $module::Outcome) -> Outcome {
                match outcome {
                    $module::Outcome::OK => Outcome::Ok,
                    $module::Outcome::CANCELLED => Outcome::Cancelled,
                    // ERROR, and anything a newer admin-api may add, shows as an error.
                    _ => Outcome::Error,
                }
            }
        }
    };
}
outcome_from!(overview);
outcome_from!(request_list);

/// Both queries select the same fields of `RequestSummary` into types of their own.
macro_rules! row_from {
    ($source:ty) => {
        impl From<$source> for RequestRow {
            fn from(item: $source) -> RequestRow {
                RequestRow {
                    id: item.id,
                    started_at: item.started_at,
                    client_model: item.client_model,
                    upstream_model: item.upstream_model,
                    stream: item.stream,
                    outcome: item.outcome.into(),
                    http_status: item.http_status,
                    prompt_tokens: item.prompt_tokens,
                    completion_tokens: item.completion_tokens,
                    latency_ms: item.latency_ms,
                    preview: item.preview,
                    cost: Cost::from_parts(&item.cost.status, item.cost.usd),
                }
            }
        }
    };
}
row_from!(overview::OverviewOverviewRecentRequests);
row_from!(request_list::RequestListRequestsItems);

pub fn outcome_label(outcome: Outcome, texts: &Texts) -> &'static str {
    match outcome {
        Outcome::Ok => texts.outcome_ok,
        Outcome::Error => texts.outcome_error,
        Outcome::Cancelled => texts.outcome_cancelled,
    }
}

/// `ok 200`, `error 502`, as a coloured badge.
#[component]
pub fn StatusBadge(outcome: Outcome, http_status: i64) -> impl IntoView {
    let texts = use_texts();
    view! {
        <span class=format!("badge {}", outcome.as_param())>
            {move || outcome_label(outcome, texts())} " " {http_status}
        </span>
    }
}

pub fn model_pair(client: Option<&str>, upstream: Option<&str>, texts: &Texts) -> String {
    let client = client.filter(|m| !m.is_empty()).unwrap_or(texts.no_model);
    match upstream.filter(|m| !m.is_empty()) {
        Some(upstream) if upstream != client => format!("{client} → {upstream}"),
        _ => client.to_owned(),
    }
}

fn tokens(value: Option<i64>) -> String {
    value.map(grouped).unwrap_or_else(|| "—".to_owned())
}

#[component]
pub fn RequestTable(rows: Vec<RequestRow>) -> impl IntoView {
    let texts = use_texts();
    let go = routes::use_go();
    let body = rows
        .into_iter()
        .map(|row| {
            let href = routes::request(&row.id);
            let open = {
                let go = go.clone();
                let href = href.clone();
                // The time cell holds the real link (keyboard, middle click); the rest of the row follows it too.
                move |event: web_sys::MouseEvent| {
                    let on_link = event
                        .target()
                        .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok())
                        .and_then(|e| e.closest("a").ok().flatten())
                        .is_some();
                    if !on_link {
                        go(&href);
                    }
                }
            };
            let models = model_pair(row.client_model.as_deref(), row.upstream_model.as_deref(), texts());
            view! {
                <tr class="clickable" on:click=open>
                    <td class="nowrap"><a href=href>{local_time(&row.started_at)}</a></td>
                    <td class="model">{models}</td>
                    <td>{move || if row.stream { texts().yes } else { texts().no }}</td>
                    <td><StatusBadge outcome=row.outcome http_status=row.http_status /></td>
                    <td class="num nowrap">{tokens(row.prompt_tokens)} " / " {tokens(row.completion_tokens)}</td>
                    <td class="num nowrap">{duration_ms(row.latency_ms)}</td>
                    <td class="num nowrap"><CostText cost=row.cost /></td>
                    <td class="preview" title=row.preview.clone()>{row.preview.clone().unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="requests">
                <thead>
                    <tr>
                        <th scope="col">{move || texts().col_time}</th>
                        <th scope="col">{move || texts().col_model}</th>
                        <th scope="col">{move || texts().col_stream}</th>
                        <th scope="col">{move || texts().col_status}</th>
                        <th scope="col" class="num">{move || texts().col_tokens}</th>
                        <th scope="col" class="num">{move || texts().col_latency}</th>
                        <th scope="col" class="num">{move || texts().col_cost}</th>
                        <th scope="col">{move || texts().col_last_message}</th>
                    </tr>
                </thead>
                <tbody>{body}</tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::EN;

    #[test]
    fn model_pair_shows_the_mapping_only_when_it_changes_the_name() {
        assert_eq!(model_pair(Some("gpt-4o"), Some("claude-sonnet-4"), &EN), "gpt-4o → claude-sonnet-4");
        assert_eq!(model_pair(Some("gpt-4o"), Some("gpt-4o"), &EN), "gpt-4o");
        assert_eq!(model_pair(None, None, &EN), "(none)");
        assert_eq!(model_pair(Some(""), Some("x"), &EN), "(none) → x");
    }
}
