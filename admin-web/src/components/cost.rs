//! A cost as the API states it: measured, estimated (marked `≈` and titled so), no price, or no
//! usage. Estimated and measured amounts are never added together on screen.

use leptos::prelude::*;

use crate::format::usd;
use crate::i18n::use_texts;
use crate::queries::{cost_report, overview, request_detail, request_list};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cost {
    Measured(f64),
    Estimated(f64),
    NoPrice,
    NoUsage,
}

/// Every query selects `cost { status usd }` into a `CostStatus` type of its own.
pub trait CostStatusOf {
    fn cost(&self, amount: Option<f64>) -> Cost;
}

macro_rules! cost_status_of {
    ($($module:ident),*) => {$(
        impl CostStatusOf for $module::CostStatus {
            fn cost(&self, amount: Option<f64>) -> Cost {
                match (self, amount) {
                    ($module::CostStatus::MEASURED, Some(v)) => Cost::Measured(v),
                    ($module::CostStatus::ESTIMATED, Some(v)) => Cost::Estimated(v),
                    ($module::CostStatus::NO_PRICE, _) => Cost::NoPrice,
                    _ => Cost::NoUsage,
                }
            }
        }
    )*};
}
cost_status_of!(overview, request_list, request_detail, cost_report);

impl Cost {
    pub fn from_parts(status: &impl CostStatusOf, amount: Option<f64>) -> Cost {
        status.cost(amount)
    }
}

/// One request's cost in a table cell or a detail line.
#[component]
pub fn CostText(cost: Cost) -> impl IntoView {
    let texts = use_texts();
    match cost {
        Cost::Measured(v) => view! { <span class="cost" data-cost="measured">{usd(v)}</span> }.into_any(),
        Cost::Estimated(v) => view! {
            <span class="cost estimated" data-cost="estimated" title=move || texts().cost_estimated_hint>
                "≈ " {usd(v)}
            </span>
        }
        .into_any(),
        Cost::NoPrice => view! {
            <span class="cost unpriced" data-cost="no-price" title=move || texts().cost_no_price_hint>
                {move || texts().cost_no_price}
            </span>
        }
        .into_any(),
        Cost::NoUsage => view! { <span class="cost none" data-cost="none">"—"</span> }.into_any(),
    }
}

/// A sum: the measured amount, then the estimated one and the unpriced calls, apart.
#[component]
pub fn CostSumText(measured: f64, estimated: f64, unpriced: i64) -> impl IntoView {
    view! {
        <span class="cost" data-cost="measured">{usd(measured)}</span>
        <CostExtras estimated=estimated unpriced=unpriced />
    }
}

/// What a sum leaves out of its measured amount: `+ ≈ $0.12` estimated, `+ 3 without price`.
#[component]
pub fn CostExtras(estimated: f64, unpriced: i64) -> impl IntoView {
    let texts = use_texts();
    view! {
        {(estimated > 0.0).then(|| view! {
            " " <span class="cost estimated" data-cost="estimated" title=move || texts().cost_estimated_hint>
                "+ ≈ " {usd(estimated)}
            </span>
        })}
        {(unpriced > 0).then(|| view! {
            " " <span class="cost unpriced" data-cost="unpriced" title=move || texts().cost_no_price_hint>
                {move || format!("+ {unpriced} {}", texts().cost_unpriced_calls)}
            </span>
        })}
    }
}
