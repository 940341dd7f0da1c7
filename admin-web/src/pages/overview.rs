//! `/admin/`: totals, latest requests, per-model table and tokens over time, for a chosen time range.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{self, ApiError};
use crate::components::cost::{CostExtras, CostSumText};
use crate::components::request_table::{RequestRow, RequestTable};
use crate::components::states::{Empty, ErrorNotice, Loading};
use crate::components::usage_chart::{UsageChart, UsagePoint};
use crate::format::{duration_ms, grouped, percent, usd};
use crate::i18n::{use_texts, Texts};
use crate::queries::{overview, Overview};
use crate::routes;
use crate::session::Session;
use crate::time_range::{iso_from_ms, ms_from_iso, now_ms, RangePreset, PRESETS};

#[derive(Clone, PartialEq)]
struct Loaded {
    data: overview::ResponseData,
    from_ms: f64,
    to_ms: f64,
}

async fn load(session: Session, preset: RangePreset) -> Result<Loaded, ApiError> {
    let now = now_ms();
    let range = overview::TimeRange { from: preset.span_ms().map(|span| iso_from_ms(now - span)), to: None };
    let bucket = if preset.hourly() { overview::TimeBucket::HOUR } else { overview::TimeBucket::DAY };
    let data = api::run::<Overview>(session, overview::Variables { range: Some(range), bucket }).await?;
    let to_ms = ms_from_iso(&data.overview.range.to).unwrap_or(now);
    // All time: the chart starts at the first bucket that has data.
    let from_ms = data.overview.range.from.as_deref().and_then(ms_from_iso).unwrap_or_else(|| {
        data.usage_series.iter().filter_map(|p| ms_from_iso(&p.bucket_start)).fold(to_ms - 86_400_000.0, f64::min)
    });
    Ok(Loaded { data, from_ms, to_ms })
}

pub fn preset_label(preset: RangePreset, texts: &Texts) -> &'static str {
    match preset {
        RangePreset::Day => texts.range_24h,
        RangePreset::Week => texts.range_7d,
        RangePreset::Month => texts.range_30d,
        RangePreset::All => texts.range_all,
    }
}

#[component]
pub fn OverviewPage() -> impl IntoView {
    let texts = use_texts();
    let session = expect_context::<Session>();
    let query = use_query_map();
    let preset = Memo::new(move |_| RangePreset::from_param(query.read().get("range").as_deref()));
    let data = LocalResource::new(move || load(session, preset.get()));
    let pending = RwSignal::new(false);

    let picker = move || {
        PRESETS
            .iter()
            .map(|p| {
                let p = *p;
                let href = format!("{}?range={}", routes::overview(), p.as_param());
                let current = move || (preset.get() == p).then_some("page");
                view! { <a href=href class="chip" aria-current=current>{move || preset_label(p, texts())}</a> }
            })
            .collect_view()
    };

    view! {
        <section class="page">
            <header class="page-head">
                <h1>{move || texts().nav_overview}</h1>
                <nav class="chips" aria-label=move || texts().range_label>{picker}</nav>
                <Show when=move || pending.get()><span class="busy">{move || texts().loading}</span></Show>
            </header>
            <Transition fallback=|| view! { <Loading /> } set_pending=pending.write_only()>
                {move || {
                    data.get()
                        .map(|result| match result {
                            Ok(loaded) => view! { <OverviewBody loaded=loaded preset=preset.get_untracked() /> }.into_any(),
                            Err(error) => view! { <ErrorNotice error=error retry=move || data.refetch() /> }.into_any(),
                        })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn OverviewBody(loaded: Loaded, preset: RangePreset) -> impl IntoView {
    let texts = use_texts();
    let overview = loaded.data.overview;
    let totals = overview.totals;
    let recent: Vec<RequestRow> = overview.recent_requests.into_iter().map(RequestRow::from).collect();
    let points: Vec<UsagePoint> = loaded
        .data
        .usage_series
        .iter()
        .filter_map(|p| {
            Some(UsagePoint {
                bucket_start_ms: ms_from_iso(&p.bucket_start)?,
                model: p.model.clone(),
                tokens: p.total_tokens,
            })
        })
        .collect();
    let models = overview.models;
    let average = totals.average_latency_ms.map(duration_ms).unwrap_or_else(|| "—".into());
    let p95 = totals.p95_latency_ms.map(duration_ms).unwrap_or_else(|| "—".into());
    let (prompt, completion) = (grouped(totals.prompt_tokens), grouped(totals.completion_tokens));
    let (errors, cancelled) = (grouped(totals.errors), grouped(totals.cancelled));

    view! {
        <div class="cards">
            <Card id="requests" label=move || texts().card_requests value=grouped(totals.requests) detail=String::new() />
            <Card id="messages" label=move || texts().card_messages value=grouped(totals.messages) detail=String::new() />
            <Card
                id="tokens"
                label=move || texts().card_tokens
                value=grouped(totals.total_tokens)
                detail=move || format!("{} {prompt} · {} {completion}", texts().card_prompt, texts().card_completion)
            />
            <div class="card" data-card="cost">
                <div class="card-label">{move || texts().card_cost}</div>
                <div class="card-value">{usd(totals.cost.measured_usd)}</div>
                <div class="card-detail">
                    <CostExtras estimated=totals.cost.estimated_usd unpriced=totals.cost.unpriced_requests />
                    {(totals.cost.estimated_usd == 0.0 && totals.cost.unpriced_requests == 0)
                        .then_some(move || texts().cost_all_measured)}
                </div>
            </div>
            <Card
                id="latency"
                label=move || texts().card_avg_latency
                value=average
                detail=move || format!("{} {p95}", texts().card_p95)
            />
            <Card
                id="error-rate"
                label=move || texts().card_error_rate
                value=percent(totals.error_rate)
                detail=move || format!("{errors} {} · {cancelled} {}", texts().card_errors, texts().card_cancelled)
            />
        </div>

        <section class="panel">
            <h2>{move || texts().tokens_over_time}</h2>
            <UsageChart points=points from_ms=loaded.from_ms to_ms=loaded.to_ms hourly=preset.hourly() />
        </section>

        <section class="panel">
            <div class="panel-head">
                <h2>{move || texts().recent_requests}</h2>
                <a href=routes::requests("")>{move || texts().all_requests}</a>
            </div>
            {if recent.is_empty() {
                view! { <Empty message=Signal::derive(move || texts().no_requests.to_owned()) /> }.into_any()
            } else {
                view! { <RequestTable rows=recent /> }.into_any()
            }}
        </section>

        <section class="panel">
            <h2>{move || texts().per_model}</h2>
            {if models.is_empty() {
                view! { <Empty message=Signal::derive(move || texts().no_requests.to_owned()) /> }.into_any()
            } else {
                view! { <ModelTable models=models /> }.into_any()
            }}
        </section>
    }
}

#[component]
fn Card(
    id: &'static str,
    #[prop(into)] label: Signal<&'static str>,
    value: String,
    #[prop(into)] detail: Signal<String>,
) -> impl IntoView {
    view! {
        <div class="card" data-card=id>
            <div class="card-label">{label}</div>
            <div class="card-value">{value}</div>
            <div class="card-detail">{detail}</div>
        </div>
    }
}

#[component]
fn ModelTable(models: Vec<overview::OverviewOverviewModels>) -> impl IntoView {
    let texts = use_texts();
    let rows = models
        .into_iter()
        .map(|m| {
            let name = if m.model.is_empty() { texts().no_model.to_owned() } else { m.model.clone() };
            view! {
                <tr>
                    <th scope="row" class="model">{name}</th>
                    <td class="num">{grouped(m.requests)}</td>
                    <td class="num">{grouped(m.prompt_tokens)}</td>
                    <td class="num">{grouped(m.completion_tokens)}</td>
                    <td class="num">{grouped(m.total_tokens)}</td>
                    <td class="num">{m.average_latency_ms.map(duration_ms).unwrap_or_else(|| "—".into())}</td>
                    <td class="num">{grouped(m.errors)}</td>
                    <td class="num nowrap">
                        <CostSumText measured=m.cost.measured_usd estimated=m.cost.estimated_usd unpriced=m.cost.unpriced_requests />
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="models">
                <thead>
                    <tr>
                        <th scope="col">{move || texts().filter_model}</th>
                        <th scope="col" class="num">{move || texts().col_requests}</th>
                        <th scope="col" class="num">{move || texts().col_prompt}</th>
                        <th scope="col" class="num">{move || texts().col_completion}</th>
                        <th scope="col" class="num">{move || texts().col_total}</th>
                        <th scope="col" class="num">{move || texts().col_avg_latency}</th>
                        <th scope="col" class="num">{move || texts().col_errors}</th>
                        <th scope="col" class="num">{move || texts().col_cost}</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
