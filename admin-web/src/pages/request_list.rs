//! `/admin/requests`: every recorded request, newest first, a page at a time, with filters.
//! Page, size and filters are the URL's query string (see `list_query`).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{self, ApiError};
use crate::components::request_table::{RequestRow, RequestTable};
use crate::components::states::{Empty, ErrorNotice, Loading};
use crate::format::grouped;
use crate::i18n::use_texts;
use crate::list_query::{ListQuery, Outcome, PAGE_SIZES};
use crate::queries::{known_models, request_list, KnownModels, RequestList};
use crate::routes;
use crate::session::Session;
use crate::time_range::local_midnight_iso;

fn filter_of(query: &ListQuery) -> request_list::RequestFilter {
    let text = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
    let from = local_midnight_iso(&query.from, 0);
    let to = local_midnight_iso(&query.to, 1);
    request_list::RequestFilter {
        client_model: None,
        upstream_model: None,
        model: text(&query.model),
        outcome: query.outcome.map(|outcome| match outcome {
            Outcome::Ok => request_list::Outcome::OK,
            Outcome::Error => request_list::Outcome::ERROR,
            Outcome::Cancelled => request_list::Outcome::CANCELLED,
        }),
        stream: query.stream,
        search: text(&query.search),
        range: (from.is_some() || to.is_some()).then_some(request_list::TimeRange { from, to }),
    }
}

async fn load(session: Session, query: ListQuery) -> Result<request_list::RequestListRequests, ApiError> {
    let variables =
        request_list::Variables { page: query.page, page_size: query.size, filter: Some(filter_of(&query)) };
    Ok(api::run::<RequestList>(session, variables).await?.requests)
}

#[component]
pub fn RequestListPage() -> impl IntoView {
    let texts = use_texts();
    let session = expect_context::<Session>();
    let params = use_query_map();
    let query = Memo::new(move |_| {
        let params = params.read();
        ListQuery::from_params(|key| params.get(key))
    });
    let data = LocalResource::new(move || load(session, query.get()));
    let pending = RwSignal::new(false);

    view! {
        <section class="page">
            <header class="page-head">
                <h1>{move || texts().nav_requests}</h1>
                <Show when=move || pending.get()><span class="busy">{move || texts().loading}</span></Show>
            </header>
            // Rebuilt whenever the URL changes, so the form always shows the filters in effect.
            {move || view! { <FilterForm current=query.get() /> }}
            <Transition fallback=|| view! { <Loading /> } set_pending=pending.write_only()>
                {move || {
                    data.get()
                        .map(|result| match result {
                            Ok(page) => view! { <ResultPage page=page query=query.get_untracked() /> }.into_any(),
                            Err(error) => view! { <ErrorNotice error=error retry=move || data.refetch() /> }.into_any(),
                        })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn FilterForm(current: ListQuery) -> impl IntoView {
    let texts = use_texts();
    let session = expect_context::<Session>();
    let go = routes::use_go();
    let model = RwSignal::new(current.model.clone());
    let outcome = RwSignal::new(current.outcome.map(|o| o.as_param().to_owned()).unwrap_or_default());
    let stream = RwSignal::new(current.stream.map(|s| s.to_string()).unwrap_or_default());
    let from = RwSignal::new(current.from.clone());
    let to = RwSignal::new(current.to.clone());
    let search = RwSignal::new(current.search.clone());
    let known = LocalResource::new(move || async move {
        api::run::<KnownModels>(session, known_models::Variables {}).await.map(|d| d.model_stats).unwrap_or_default()
    });

    let apply = {
        let go = go.clone();
        let current = current.clone();
        move |event: leptos::ev::SubmitEvent| {
            event.prevent_default();
            let chosen = ListQuery {
                page: 1,
                size: current.size,
                model: model.get_untracked(),
                outcome: Outcome::from_param(&outcome.get_untracked()),
                stream: match stream.get_untracked().as_str() {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => None,
                },
                from: from.get_untracked(),
                to: to.get_untracked(),
                search: search.get_untracked(),
            };
            go(&routes::requests(&chosen.to_query_string()));
        }
    };
    let clear_href = routes::requests(&ListQuery { size: current.size, ..ListQuery::default() }.to_query_string());

    view! {
        <form class="filters" on:submit=apply role="search">
            <label>
                <span>{move || texts().filter_model}</span>
                <input type="text" name="model" list="known-models" bind:value=model autocomplete="off" />
                <datalist id="known-models">
                    {move || {
                        known.get().unwrap_or_default().into_iter()
                            .filter(|m| !m.model.is_empty())
                            .map(|m| view! { <option value=m.model></option> })
                            .collect_view()
                    }}
                </datalist>
            </label>
            <label>
                <span>{move || texts().filter_outcome}</span>
                <select name="outcome" bind:value=outcome>
                    <option value="">{move || texts().filter_any}</option>
                    <option value="ok">{move || texts().outcome_ok}</option>
                    <option value="error">{move || texts().outcome_error}</option>
                    <option value="cancelled">{move || texts().outcome_cancelled}</option>
                </select>
            </label>
            <label>
                <span>{move || texts().filter_stream}</span>
                <select name="stream" bind:value=stream>
                    <option value="">{move || texts().filter_any}</option>
                    <option value="true">{move || texts().filter_streamed}</option>
                    <option value="false">{move || texts().filter_not_streamed}</option>
                </select>
            </label>
            <label>
                <span>{move || texts().filter_from}</span>
                <input type="date" name="from" bind:value=from />
            </label>
            <label>
                <span>{move || texts().filter_to}</span>
                <input type="date" name="to" bind:value=to />
            </label>
            <label class="grow">
                <span>{move || texts().filter_search}</span>
                <input type="search" name="q" bind:value=search placeholder=move || texts().filter_search_hint />
            </label>
            <div class="filter-actions">
                <button type="submit" class="primary">{move || texts().filter_apply}</button>
                <Show when={
                    let has = current.has_filters();
                    move || has
                }>
                    <a class="button" href=clear_href.clone()>{move || texts().filter_clear}</a>
                </Show>
            </div>
        </form>
    }
}

#[component]
fn ResultPage(page: request_list::RequestListRequests, query: ListQuery) -> impl IntoView {
    let texts = use_texts();
    let rows: Vec<RequestRow> = page.items.into_iter().map(RequestRow::from).collect();
    let total = grouped(page.total_count);
    let at_least = page.total_count_is_lower_bound;
    let summary = move || if at_least { (texts().total_count_at_least)(&total) } else { (texts().total_count)(&total) };
    let table = if rows.is_empty() {
        let message = if query.has_filters() { texts().no_matches } else { texts().no_requests };
        view! { <Empty message=Signal::derive(move || message.to_owned()) /> }.into_any()
    } else {
        view! { <RequestTable rows=rows /> }.into_any()
    };
    view! {
        <p class="result-count" data-total=page.total_count>{summary}</p>
        {table}
        <Pager
            query=query
            page=page.page
            page_count=page.page_count
            has_previous=page.has_previous_page
            has_next=page.has_next_page
        />
    }
}

#[component]
fn Pager(query: ListQuery, page: i64, page_count: i64, has_previous: bool, has_next: bool) -> impl IntoView {
    let texts = use_texts();
    let go = routes::use_go();
    let jump_to = RwSignal::new(page.to_string());
    let previous = routes::requests(&query.with_page(page - 1).to_query_string());
    let next = routes::requests(&query.with_page(page + 1).to_query_string());

    let jump = {
        let go = go.clone();
        let query = query.clone();
        move |event: leptos::ev::SubmitEvent| {
            event.prevent_default();
            if let Ok(target) = jump_to.get_untracked().trim().parse::<i64>() {
                let target = target.clamp(1, page_count.max(1));
                go(&routes::requests(&query.with_page(target).to_query_string()));
            }
        }
    };
    let change_size = {
        let query = query.clone();
        move |event: leptos::ev::Event| {
            let size = event_target_value(&event).parse::<i64>().unwrap_or(query.size);
            let resized = ListQuery { size, page: 1, ..query.clone() };
            go(&routes::requests(&resized.to_query_string()));
        }
    };
    let sizes = PAGE_SIZES
        .iter()
        .map(|size| view! { <option value=size.to_string() selected=*size == query.size>{*size}</option> })
        .collect_view();

    view! {
        <nav class="pager" aria-label="pagination">
            {if has_previous {
                view! { <a class="button" rel="prev" href=previous>{move || texts().previous}</a> }.into_any()
            } else {
                view! { <span class="button disabled" aria-disabled="true">{move || texts().previous}</span> }.into_any()
            }}
            <span class="page-position">{move || (texts().page_position)(page, page_count.max(1))}</span>
            {if has_next {
                view! { <a class="button" rel="next" href=next>{move || texts().next}</a> }.into_any()
            } else {
                view! { <span class="button disabled" aria-disabled="true">{move || texts().next}</span> }.into_any()
            }}
            <form class="jump" on:submit=jump>
                <input
                    type="number"
                    name="page"
                    min="1"
                    max=page_count.max(1)
                    bind:value=jump_to
                    aria-label=move || texts().jump_label
                />
                <button type="submit">{move || texts().go}</button>
            </form>
            <label class="page-size">
                <span>{move || texts().page_size}</span>
                <select name="size" on:change=change_size>{sizes}</select>
            </label>
        </nav>
    }
}
