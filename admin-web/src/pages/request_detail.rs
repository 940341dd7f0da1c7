//! `/admin/request/{id}`: everything recorded for one request.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::{self, ApiError};
use crate::components::conversation::{Conversation, FoldableText, ToolCallView, ToolCalls};
use crate::components::cost::{Cost, CostText};
use crate::components::json_block::JsonBlock;
use crate::components::request_table::{model_pair, StatusBadge};
use crate::components::states::{ErrorNotice, Loading};
use crate::format::{duration_ms, grouped, local_time, usd};
use crate::i18n::{use_texts, Texts};
use crate::list_query::Outcome;
use crate::queries::request_detail::{self, RequestDetailRequest, UsageSource};
use crate::queries::RequestDetail;
use crate::routes;
use crate::session::Session;

async fn load(session: Session, id: String) -> Result<Option<RequestDetailRequest>, ApiError> {
    Ok(api::run::<RequestDetail>(session, request_detail::Variables { id }).await?.request)
}

#[component]
pub fn RequestDetailPage() -> impl IntoView {
    let texts = use_texts();
    let session = expect_context::<Session>();
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let data = LocalResource::new(move || load(session, id.get()));

    view! {
        <section class="page">
            <header class="page-head">
                <a href=routes::requests("") class="back">{move || texts().back_to_list}</a>
            </header>
            <Suspense fallback=|| view! { <Loading /> }>
                {move || {
                    data.get()
                        .map(|result| match result {
                            Ok(Some(request)) => view! { <DetailBody request=request /> }.into_any(),
                            Ok(None) => view! {
                                <div class="notice" role="status">
                                    <h1>{move || texts().detail_title} " " <code>{id.get_untracked()}</code></h1>
                                    <p>{move || texts().detail_missing}</p>
                                </div>
                            }
                            .into_any(),
                            Err(error) => view! { <ErrorNotice error=error retry=move || data.refetch() /> }.into_any(),
                        })
                }}
            </Suspense>
        </section>
    }
}

fn source_label(source: &UsageSource, texts: &Texts) -> &'static str {
    match source {
        UsageSource::UPSTREAM => texts.source_upstream,
        UsageSource::ESTIMATED => texts.source_estimated,
        _ => texts.source_none,
    }
}

fn source_class(source: &UsageSource) -> &'static str {
    match source {
        UsageSource::UPSTREAM => "measured",
        UsageSource::ESTIMATED => "estimated",
        _ => "unknown",
    }
}

/// Picks a label out of the current language's texts.
type Label = fn(&Texts) -> &'static str;

#[component]
fn DetailBody(request: RequestDetailRequest) -> impl IntoView {
    let texts = use_texts();
    let summary = request.summary;
    let outcome = match summary.outcome {
        request_detail::Outcome::OK => Outcome::Ok,
        request_detail::Outcome::CANCELLED => Outcome::Cancelled,
        _ => Outcome::Error,
    };
    let models = {
        let (client, upstream) = (summary.client_model.clone(), summary.upstream_model.clone());
        move || model_pair(client.as_deref(), upstream.as_deref(), texts())
    };
    let optional = |value: Option<String>| value.filter(|v| !v.is_empty()).unwrap_or_else(|| "—".to_owned());
    let count = |value: Option<i64>| value.map(grouped).unwrap_or_else(|| "—".to_owned());
    let fixed = |text: String| Signal::derive(move || text.clone());
    let stream = summary.stream;
    let meta: Vec<(Label, Signal<String>)> = vec![
        (|t| t.meta_id, fixed(summary.id.clone())),
        (|t| t.meta_endpoint, fixed(format!("{} {}", summary.method, summary.endpoint))),
        (|t| t.meta_started, fixed(local_time(&summary.started_at))),
        (|t| t.meta_finished, fixed(local_time(&request.finished_at))),
        (|t| t.meta_latency, fixed(duration_ms(summary.latency_ms))),
        (|t| t.meta_ttfb, fixed(summary.ttfb_ms.map(duration_ms).unwrap_or_else(|| "—".into()))),
        (|t| t.col_stream, Signal::derive(move || if stream { texts().yes } else { texts().no }.to_owned())),
        (|t| t.meta_client, fixed(optional(request.client_ip.clone()))),
        (|t| t.meta_client_key, fixed(optional(summary.client_key.clone()))),
        (|t| t.meta_user_agent, fixed(optional(request.user_agent.clone()))),
        (|t| t.meta_conversation, fixed(optional(request.conversation_id.clone()))),
        (|t| t.meta_body_sha, fixed(optional(request.body_sha256.clone()))),
    ];
    let meta_view = meta
        .into_iter()
        .map(|(label, value)| {
            view! {
                <div class="meta-item">
                    <dt>{move || label(texts())}</dt>
                    <dd>{value}</dd>
                </div>
            }
        })
        .collect_view();
    let error = request.error_message.clone().map(|message| {
        let kind = summary.error_type.clone().unwrap_or_default();
        view! {
            <div class="notice error" role="note">
                <strong>{move || texts().meta_error} " " {kind.clone()}</strong>
                <pre class="text">{message}</pre>
            </div>
        }
    });
    let source = summary.usage_source.clone();
    let source_css = source_class(&source);
    let usage_class = format!("panel usage {source_css}");
    let reply_calls: Vec<ToolCallView> = request
        .reply
        .tool_calls
        .into_iter()
        .map(|c| ToolCallView { id: c.id, name: c.name, arguments: c.arguments })
        .collect();
    let reply_text = request.reply.text.clone().filter(|t| !t.is_empty());
    let has_reply = reply_text.is_some() || !reply_calls.is_empty();
    let finish = request.reply.finish_reason.clone();

    view! {
        <div class="detail-title">
            <h1>{move || texts().detail_title}</h1>
            <span class="model">{models}</span>
            <StatusBadge outcome=outcome http_status=summary.http_status />
        </div>
        {error}
        <section class="panel">
            <dl class="meta">{meta_view}</dl>
        </section>

        <section class=usage_class data-usage-source=source_css>
            <h2>{move || texts().usage_title}</h2>
            <dl class="meta">
                <div class="meta-item"><dt>{move || texts().col_prompt}</dt><dd>{count(summary.prompt_tokens)}</dd></div>
                <div class="meta-item"><dt>{move || texts().col_completion}</dt><dd>{count(summary.completion_tokens)}</dd></div>
                <div class="meta-item"><dt>{move || texts().usage_cached}</dt><dd>{count(summary.cached_tokens)}</dd></div>
                <div class="meta-item"><dt>{move || texts().usage_cache_write}</dt><dd>{count(summary.cache_write_tokens)}</dd></div>
                <div class="meta-item"><dt>{move || texts().col_total}</dt><dd>{count(summary.total_tokens)}</dd></div>
                <div class="meta-item">
                    <dt>{move || texts().usage_source}</dt>
                    <dd><span class=format!("badge {source_css}")>{move || source_label(&source, texts())}</span></dd>
                </div>
            </dl>
        </section>

        <CostPanel cost=summary.cost />

        <section class="panel">
            <h2>{move || texts().conversation_title} " (" {summary.message_count} ")"</h2>
            <Conversation messages=request.messages />
        </section>

        <section class="panel reply">
            <h2>{move || texts().reply_title}</h2>
            {if has_reply {
                view! {
                    <div class="msg assistant">
                        {reply_text.map(|text| view! { <FoldableText text=text /> })}
                        <ToolCalls calls=reply_calls />
                    </div>
                }
                .into_any()
            } else {
                view! { <p class="empty">{move || texts().no_reply}</p> }.into_any()
            }}
            {finish.map(|reason| view! {
                <p class="finish">{move || texts().finish_reason} ": " <code>{reason.clone()}</code></p>
            })}
        </section>

        <section class="panel">
            <JsonBlock id="request" title=Signal::derive(move || texts().raw_request) text=request.raw_request />
            {request.raw_response.map(|raw| view! {
                <JsonBlock id="response" title=Signal::derive(move || texts().raw_response) text=raw />
            })}
        </section>
    }
}

/// What the request cost, part by part, and the price applied.
#[component]
fn CostPanel(cost: request_detail::RequestDetailRequestSummaryCost) -> impl IntoView {
    let texts = use_texts();
    let total = Cost::from_parts(&cost.status, cost.usd);
    let part = |label: Label, amount: Option<f64>| {
        amount.map(|v| {
            view! {
                <div class="meta-item"><dt>{move || label(texts())}</dt><dd>{usd(v)}</dd></div>
            }
        })
    };
    let price = cost.price.map(|p| {
        let per = |v: Option<f64>| v.map(|v| format!("${v}")).unwrap_or_else(|| "—".into());
        let line = format!(
            "{} · {} ${} · {} ${} · {} {} · {} {}",
            p.model,
            "in", p.input_per_m_tok_usd,
            "out", p.output_per_m_tok_usd,
            "cache read", per(p.cache_read_per_m_tok_usd),
            "cache write", per(p.cache_write_per_m_tok_usd),
        );
        view! {
            <p class="price-applied">
                {move || texts().cost_price_applied} " (" {move || texts().cost_per_mtok} ", " {p.effective_from.clone()} "): "
                <code>{line}</code>
            </p>
        }
    });
    view! {
        <section class="panel cost-panel" data-cost-status=format!("{:?}", cost.status)>
            <h2>{move || texts().cost_title}</h2>
            <dl class="meta">
                <div class="meta-item"><dt>{move || texts().col_cost}</dt><dd><CostText cost=total /></dd></div>
                {part(|t| t.cost_input, cost.input_usd)}
                {part(|t| t.cost_cached_input, cost.cached_input_usd)}
                {part(|t| t.cost_cache_write, cost.cache_write_usd)}
                {part(|t| t.cost_output, cost.output_usd)}
            </dl>
            {price}
        </section>
    }
}
