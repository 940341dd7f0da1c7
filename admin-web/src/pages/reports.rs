//! `/admin/reports`: cost and tokens grouped by model, time, client key or endpoint, with bars and
//! a CSV download; the costliest requests and conversations of the range.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{self, ApiError};
use crate::components::cost::{Cost, CostExtras, CostSumText, CostText};
use crate::components::states::{Empty, ErrorNotice, Loading};
use crate::format::{grouped, local_time, usd};
use crate::i18n::{use_texts, Texts};
use crate::queries::{cost_report, CostReport};
use crate::routes;
use crate::session::Session;
use crate::time_range::{iso_from_ms, now_ms, RangePreset, PRESETS};

/// The groupings offered, as `?group=` values, in the order of the picker.
pub const GROUPS: [&str; 8] = ["model", "client_model", "day", "week", "month", "hour", "client_key", "endpoint"];

fn grouping(param: &str) -> cost_report::CostGrouping {
    use cost_report::CostGrouping::*;
    match param {
        "client_model" => CLIENT_MODEL,
        "day" => DAY,
        "week" => WEEK,
        "month" => MONTH,
        "hour" => HOUR,
        "client_key" => CLIENT_KEY,
        "endpoint" => ENDPOINT,
        _ => MODEL,
    }
}

fn group_label(param: &str, texts: &Texts) -> &'static str {
    match param {
        "client_model" => texts.group_client_model,
        "day" => texts.group_day,
        "week" => texts.group_week,
        "month" => texts.group_month,
        "hour" => texts.group_hour,
        "client_key" => texts.group_client_key,
        "endpoint" => texts.group_endpoint,
        _ => texts.group_model,
    }
}

fn range_of(preset: RangePreset) -> (Option<String>, Option<String>) {
    (preset.span_ms().map(|span| iso_from_ms(now_ms() - span)), None)
}

async fn load(session: Session, preset: RangePreset, group: String) -> Result<cost_report::ResponseData, ApiError> {
    let (from, to) = range_of(preset);
    let variables =
        cost_report::Variables { group_by: grouping(&group), range: Some(cost_report::TimeRange { from, to }) };
    api::run::<CostReport>(session, variables).await
}

/// The same report as CSV from `/api/reports/cost`.
pub fn csv_path(group: &str, from: Option<&str>) -> String {
    let mut path = format!("/api/reports/cost?format=csv&groupBy={group}");
    if let Some(from) = from {
        path.push_str("&from=");
        path.push_str(&from.replace('+', "%2B"));
    }
    path
}

#[component]
pub fn ReportsPage() -> impl IntoView {
    let texts = use_texts();
    let session = expect_context::<Session>();
    let query = use_query_map();
    let preset = Memo::new(move |_| RangePreset::from_param(query.read().get("range").as_deref()));
    let group = Memo::new(move |_| {
        let chosen = query.read().get("group").unwrap_or_default();
        GROUPS.iter().find(|g| **g == chosen).copied().unwrap_or("model").to_string()
    });
    let data = LocalResource::new(move || load(session, preset.get(), group.get()));
    let go = routes::use_go();
    let download_error = RwSignal::new(None::<String>);

    let href = move |p: RangePreset, g: &str| routes::reports(&format!("?range={}&group={g}", p.as_param()));
    let picker = move || {
        PRESETS
            .iter()
            .map(|p| {
                let p = *p;
                let current = move || (preset.get() == p).then_some("page");
                view! {
                    <a href=move || href(p, &group.get()) class="chip" aria-current=current>
                        {move || crate::pages::overview::preset_label(p, texts())}
                    </a>
                }
            })
            .collect_view()
    };
    let choose = move |event: leptos::ev::Event| go(&href(preset.get_untracked(), &event_target_value(&event)));
    let download = move |_| {
        let (from, _) = range_of(preset.get_untracked());
        let path = csv_path(&group.get_untracked(), from.as_deref());
        let name = format!("tokenslipper-cost-by-{}.csv", group.get_untracked());
        leptos::task::spawn_local(async move {
            let result = api::fetch_text(session, &path).await;
            download_error.set(match result {
                Ok(text) => crate::download::save(&name, "text/csv", &text).err().map(|e| format!("{e:?}")),
                Err(error) => Some(error.describe(texts())),
            });
        });
    };

    view! {
        <section class="page">
            <header class="page-head">
                <h1>{move || texts().nav_reports}</h1>
                <nav class="chips" aria-label=move || texts().range_label>{picker}</nav>
                <label class="inline">
                    {move || texts().group_by} " "
                    <select name="group" on:change=choose>
                        {GROUPS
                            .iter()
                            .map(|g| view! {
                                <option value=*g selected=move || group.get() == *g>{move || group_label(g, texts())}</option>
                            })
                            .collect_view()}
                    </select>
                </label>
                <button type="button" class="secondary" data-action="download-csv" on:click=download>
                    {move || texts().download_csv}
                </button>
                {move || download_error.get().map(|e| view! { <span class="error-text" role="alert">{e}</span> })}
            </header>
            <Transition fallback=|| view! { <Loading /> }>
                {move || {
                    data.get()
                        .map(|result| match result {
                            Ok(report) => view! { <ReportBody report=report /> }.into_any(),
                            Err(error) => view! { <ErrorNotice error=error retry=move || data.refetch() /> }.into_any(),
                        })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn ReportBody(report: cost_report::ResponseData) -> impl IntoView {
    let texts = use_texts();
    if report.cost_report.rows.is_empty() {
        return view! { <Empty message=Signal::derive(move || texts().no_requests.to_owned()) /> }.into_any();
    }
    let rows = report.cost_report.rows;
    let total = report.cost_report.total;
    let widest = rows.iter().map(|r| r.cost.measured_usd + r.cost.estimated_usd).fold(0.0, f64::max);
    let lines = rows
        .into_iter()
        .map(|row| {
            let share = |v: f64| if widest > 0.0 { v / widest * 100.0 } else { 0.0 };
            let key = if row.key.is_empty() { texts().no_value.to_owned() } else { row.key.clone() };
            let key = if row.key.contains('T') && row.key.ends_with('Z') { local_time(&row.key) } else { key };
            view! {
                <tr data-group=row.key.clone()>
                    <th scope="row" class="model">{key}</th>
                    <td class="bar-cell" aria-hidden="true">
                        <span class="bar measured" style=format!("width:{:.2}%", share(row.cost.measured_usd))></span>
                        <span class="bar estimated" style=format!("width:{:.2}%", share(row.cost.estimated_usd))></span>
                    </td>
                    <td class="num" data-col="measured">{usd(row.cost.measured_usd)}</td>
                    <td class="num"><CostExtras estimated=row.cost.estimated_usd unpriced=row.cost.unpriced_requests /></td>
                    <td class="num">{grouped(row.requests)}</td>
                    <td class="num">{grouped(row.prompt_tokens)}</td>
                    <td class="num">{grouped(row.completion_tokens)}</td>
                    <td class="num">{grouped(row.cached_tokens)}</td>
                </tr>
            }
        })
        .collect_view();
    let unpriced_models = total.cost.unpriced_models.join(", ");
    let top_requests = report
        .top_requests
        .into_iter()
        .map(|r| {
            let models = crate::components::request_table::model_pair(
                r.client_model.as_deref(),
                r.upstream_model.as_deref(),
                texts(),
            );
            view! {
                <tr>
                    <td class="nowrap"><a href=routes::request(&r.id)>{local_time(&r.started_at)}</a></td>
                    <td class="model">{models}</td>
                    <td class="num">{r.prompt_tokens.map(grouped).unwrap_or_default()} " / " {r.completion_tokens.map(grouped).unwrap_or_default()}</td>
                    <td class="num"><CostText cost=Cost::from_parts(&r.cost.status, r.cost.usd) /></td>
                    <td class="preview">{r.preview.unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    let top_conversations = report
        .top_conversations
        .into_iter()
        .map(|c| {
            view! {
                <tr>
                    <td class="preview"><a href=routes::request(&c.latest_request_id)>{c.title.unwrap_or_else(|| c.conversation_id.clone())}</a></td>
                    <td class="nowrap">{local_time(&c.first_started_at)} " – " {local_time(&c.last_started_at)}</td>
                    <td class="num">{grouped(c.cost.requests)}</td>
                    <td class="num"><CostSumText measured=c.cost.measured_usd estimated=c.cost.estimated_usd unpriced=c.cost.unpriced_requests /></td>
                </tr>
            }
        })
        .collect_view();

    view! {
        <div class="cards">
            <div class="card" data-card="report-total">
                <div class="card-label">{move || texts().card_cost}</div>
                <div class="card-value">{usd(total.cost.measured_usd)}</div>
                <div class="card-detail"><CostExtras estimated=total.cost.estimated_usd unpriced=total.cost.unpriced_requests /></div>
            </div>
            <div class="card">
                <div class="card-label">{move || texts().card_requests}</div>
                <div class="card-value">{grouped(total.requests)}</div>
                <div class="card-detail">{grouped(total.prompt_tokens)} " / " {grouped(total.completion_tokens)}</div>
            </div>
        </div>
        {(!unpriced_models.is_empty()).then(|| view! {
            <p class="notice" role="note">{move || texts().unpriced_models_note} " " <code>{unpriced_models.clone()}</code>
                " " <a href=routes::prices()>{move || texts().nav_prices}</a></p>
        })}
        <section class="panel">
            <div class="table-scroll">
                <table class="report">
                    <thead>
                        <tr>
                            <th scope="col">{move || texts().col_group}</th>
                            <th scope="col"></th>
                            <th scope="col" class="num">{move || texts().col_cost}</th>
                            <th scope="col" class="num">{move || texts().col_cost_extra}</th>
                            <th scope="col" class="num">{move || texts().col_requests}</th>
                            <th scope="col" class="num">{move || texts().col_prompt}</th>
                            <th scope="col" class="num">{move || texts().col_completion}</th>
                            <th scope="col" class="num">{move || texts().usage_cached}</th>
                        </tr>
                    </thead>
                    <tbody>{lines}</tbody>
                </table>
            </div>
        </section>
        <section class="panel">
            <h2>{move || texts().top_requests}</h2>
            <div class="table-scroll">
                <table class="top-requests"><tbody>{top_requests}</tbody></table>
            </div>
        </section>
        <section class="panel">
            <h2>{move || texts().top_conversations}</h2>
            <div class="table-scroll">
                <table class="top-conversations"><tbody>{top_conversations}</tbody></table>
            </div>
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_link_asks_for_the_same_grouping_and_range() {
        assert_eq!(csv_path("model", None), "/api/reports/cost?format=csv&groupBy=model");
        assert_eq!(
            csv_path("day", Some("2026-11-01T00:00:00.000Z")),
            "/api/reports/cost?format=csv&groupBy=day&from=2026-11-01T00:00:00.000Z"
        );
    }
}
