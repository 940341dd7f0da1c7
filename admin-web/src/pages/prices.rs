//! `/admin/prices`: the price table — add or correct a price (every cost shown follows at once,
//! costs are computed from the stored prices when read), delete one, export and import JSON.

use leptos::prelude::*;

use crate::api::{self, ApiError};
use crate::components::states::{ErrorNotice, Loading};
use crate::i18n::use_texts;
use crate::queries::{delete_price, import_prices, prices, set_price, DeletePrice, ImportPrices, Prices, SetPrice};
use crate::session::Session;

/// A form field's dollars per 1M tokens: empty is "no such price" where that is allowed.
pub fn dollars(text: &str) -> Result<Option<f64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.trim_start_matches('$').parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
        _ => Err(text.to_owned()),
    }
}

/// The import format (`GET /api/prices`): a JSON array of prices.
pub fn parse_import(text: &str) -> Result<Vec<import_prices::PriceInput>, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

#[component]
pub fn PricesPage() -> impl IntoView {
    let texts = use_texts();
    let session = expect_context::<Session>();
    let data = LocalResource::new(move || api::run::<Prices>(session, prices::Variables {}));
    let message = RwSignal::new(None::<Result<String, String>>);
    let report = move |result: Result<String, ApiError>| {
        message.set(Some(result.map_err(|e| e.describe(texts()))));
        data.refetch();
    };

    let (model, from, input, output, cache_read, cache_write) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let fields =
            (dollars(&input.get()), dollars(&output.get()), dollars(&cache_read.get()), dollars(&cache_write.get()));
        let (Ok(Some(input_usd)), Ok(Some(output_usd)), Ok(read), Ok(write)) = fields else {
            message.set(Some(Err(texts().price_invalid.to_owned())));
            return;
        };
        let price = set_price::PriceInput {
            model: model.get().trim().to_owned(),
            effective_from: from.get(),
            input_per_m_tok_usd: input_usd,
            output_per_m_tok_usd: output_usd,
            cache_read_per_m_tok_usd: read,
            cache_write_per_m_tok_usd: write,
        };
        leptos::task::spawn_local(async move {
            let result = api::run::<SetPrice>(session, set_price::Variables { price }).await;
            report(result.map(|saved| format!("{} {}", saved.set_price.model, saved.set_price.effective_from)));
        });
    };
    let import_text = RwSignal::new(String::new());
    let import = move |_| match parse_import(&import_text.get()) {
        Err(error) => message.set(Some(Err(format!("{}: {error}", texts().import_invalid)))),
        Ok(list) => leptos::task::spawn_local(async move {
            let result = api::run::<ImportPrices>(session, import_prices::Variables { prices: list }).await;
            report(result.map(|done| format!("{} {}", done.import_prices, texts().imported)));
        }),
    };
    let export = move |_| {
        if let Some(Ok(loaded)) = data.get_untracked() {
            let list: Vec<serde_json::Value> = loaded
                .prices
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "model": p.model, "effectiveFrom": p.effective_from,
                        "inputPerMTokUsd": p.input_per_m_tok_usd, "outputPerMTokUsd": p.output_per_m_tok_usd,
                        "cacheReadPerMTokUsd": p.cache_read_per_m_tok_usd, "cacheWritePerMTokUsd": p.cache_write_per_m_tok_usd,
                    })
                })
                .collect();
            let text = serde_json::to_string_pretty(&list).unwrap_or_default();
            let _ = crate::download::save("tokenslipper-prices.json", "application/json", &text);
        }
    };
    let field = move |name: &'static str,
                      label: fn(&crate::i18n::Texts) -> &'static str,
                      value: RwSignal<String>,
                      kind: &'static str| {
        view! {
            <label>
                <span>{move || label(texts())}</span>
                <input name=name type=kind step="any" min="0" prop:value=move || value.get()
                    on:input=move |e| value.set(event_target_value(&e)) />
            </label>
        }
    };

    view! {
        <section class="page">
            <header class="page-head">
                <h1>{move || texts().nav_prices}</h1>
                <button type="button" class="secondary" data-action="export-prices" on:click=export>{move || texts().export_json}</button>
            </header>
            <p class="hint">{move || texts().prices_hint}</p>
            {move || message.get().map(|m| match m {
                Ok(text) => view! { <p class="notice" role="status">{move || texts().saved} ": " {text.clone()}</p> }.into_any(),
                Err(text) => view! { <p class="notice error" role="alert">{text}</p> }.into_any(),
            })}
            <form class="panel price-form" on:submit=save>
                <h2>{move || texts().price_add}</h2>
                <div class="filters">
                    {field("model", |t| t.filter_model, model, "text")}
                    {field("effectiveFrom", |t| t.price_from, from, "date")}
                    {field("input", |t| t.price_input, input, "number")}
                    {field("output", |t| t.price_output, output, "number")}
                    {field("cacheRead", |t| t.price_cached_input, cache_read, "number")}
                    {field("cacheWrite", |t| t.price_cache_write, cache_write, "number")}
                </div>
                <button type="submit">{move || texts().save}</button>
            </form>
            <Transition fallback=|| view! { <Loading /> }>
                {move || data.get().map(|result| match result {
                    Ok(loaded) => view! { <PriceTable prices=loaded.prices on_change=report /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error=error retry=move || data.refetch() /> }.into_any(),
                })}
            </Transition>
            <section class="panel">
                <h2>{move || texts().import_json}</h2>
                <textarea name="import" rows="6" prop:value=move || import_text.get()
                    on:input=move |e| import_text.set(event_target_value(&e))></textarea>
                <button type="button" data-action="import-prices" on:click=import>{move || texts().import_json}</button>
            </section>
        </section>
    }
}

#[component]
fn PriceTable(
    prices: Vec<prices::PricesPrices>,
    on_change: impl Fn(Result<String, ApiError>) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let texts = use_texts();
    let session = expect_context::<Session>();
    let per = |v: Option<f64>| v.map(|v| format!("${v}")).unwrap_or_else(|| "—".into());
    let rows = prices
        .into_iter()
        .map(|p| {
            let (model, day) = (p.model.clone(), p.effective_from.clone());
            let remove = move |_| {
                let variables = delete_price::Variables { model: model.clone(), effective_from: day.clone() };
                let label = format!("{} {}", variables.model, variables.effective_from);
                leptos::task::spawn_local(async move {
                    let result = api::run::<DeletePrice>(session, variables).await;
                    on_change(result.map(|_| label));
                });
            };
            view! {
                <tr data-model=p.model.clone()>
                    <th scope="row" class="model">{p.model.clone()}</th>
                    <td class="nowrap">{p.effective_from.clone()}</td>
                    <td class="num">{per(Some(p.input_per_m_tok_usd))}</td>
                    <td class="num">{per(Some(p.output_per_m_tok_usd))}</td>
                    <td class="num">{per(p.cache_read_per_m_tok_usd)}</td>
                    <td class="num">{per(p.cache_write_per_m_tok_usd)}</td>
                    <td><button type="button" class="link" on:click=remove>{move || texts().delete}</button></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="panel">
            <div class="table-scroll">
                <table class="prices">
                    <thead>
                        <tr>
                            <th scope="col">{move || texts().filter_model}</th>
                            <th scope="col">{move || texts().price_from}</th>
                            <th scope="col" class="num">{move || texts().price_input}</th>
                            <th scope="col" class="num">{move || texts().price_output}</th>
                            <th scope="col" class="num">{move || texts().price_cached_input}</th>
                            <th scope="col" class="num">{move || texts().price_cache_write}</th>
                            <th scope="col"></th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_prices_and_import_files() {
        assert_eq!(dollars(" 3.75 "), Ok(Some(3.75)));
        assert_eq!(dollars("$0.30"), Ok(Some(0.3)));
        assert_eq!(dollars(""), Ok(None));
        assert!(dollars("-1").is_err() && dollars("abc").is_err());
        let list = parse_import(
            r#"[{"model":"o3","effectiveFrom":"2025-06-10","inputPerMTokUsd":2,"outputPerMTokUsd":8,"cacheReadPerMTokUsd":0.5,"cacheWritePerMTokUsd":null}]"#,
        )
        .unwrap();
        assert_eq!(list[0].input_per_m_tok_usd, 2.0);
        assert_eq!(list[0].cache_read_per_m_tok_usd, Some(0.5));
        assert!(parse_import("{}").is_err());
    }
}
