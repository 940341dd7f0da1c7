//! `/admin/budgets`: create, edit and delete budgets, watch each one's use of its current period,
//! and see the alerts they fired (and whether their webhooks got them).

use leptos::prelude::*;

use crate::api::{self, ApiError};
use crate::components::states::{Empty, ErrorNotice, Loading};
use crate::format::{grouped, local_time, usd};
use crate::i18n::{use_texts, Texts};
use crate::queries::{
    budgets, create_budget, delete_budget, update_budget, Budgets, CreateBudget, DeleteBudget, UpdateBudget,
};
use crate::session::Session;

/// `"50, 80,100"` → `[50, 80, 100]`.
pub fn parse_thresholds(text: &str) -> Result<Vec<i64>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| t.trim_end_matches('%').parse::<i64>().map_err(|_| t.to_owned()))
        .collect()
}

/// The form's fields as typed.
#[derive(Clone, Copy)]
struct Form {
    name: RwSignal<String>,
    metric: RwSignal<String>,
    period: RwSignal<String>,
    model: RwSignal<String>,
    client_key: RwSignal<String>,
    amount: RwSignal<String>,
    thresholds: RwSignal<String>,
    hard_limit: RwSignal<bool>,
    webhook_url: RwSignal<String>,
    webhook_format: RwSignal<String>,
    /// The budget being edited; `None` creates one.
    editing: RwSignal<Option<String>>,
}

impl Form {
    fn new() -> Self {
        Form {
            name: RwSignal::new(String::new()),
            metric: RwSignal::new("COST".into()),
            period: RwSignal::new("MONTH".into()),
            model: RwSignal::new(String::new()),
            client_key: RwSignal::new(String::new()),
            amount: RwSignal::new(String::new()),
            thresholds: RwSignal::new("50, 80, 100".into()),
            hard_limit: RwSignal::new(false),
            webhook_url: RwSignal::new(String::new()),
            webhook_format: RwSignal::new("GENERIC".into()),
            editing: RwSignal::new(None),
        }
    }

    fn fill(&self, b: &budgets::BudgetsBudgets) {
        self.name.set(b.name.clone());
        self.metric.set(format!("{:?}", b.metric));
        self.period.set(format!("{:?}", b.period));
        self.model.set(b.model.clone().unwrap_or_default());
        self.client_key.set(b.client_key.clone().unwrap_or_default());
        self.amount.set(b.amount.to_string());
        self.thresholds.set(b.thresholds.iter().map(i64::to_string).collect::<Vec<_>>().join(", "));
        self.hard_limit.set(b.hard_limit);
        self.webhook_url.set(b.webhook_url.clone().unwrap_or_default());
        self.webhook_format.set(format!("{:?}", b.webhook_format));
        self.editing.set(Some(b.id.clone()));
    }
}

/// Both mutations take a `BudgetInput` of their own generated module.
macro_rules! budget_input {
    ($module:ident, $form:expr, $amount:expr, $thresholds:expr) => {{
        let optional = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        $module::BudgetInput {
            name: $form.name.get_untracked(),
            metric: if $form.metric.get_untracked() == "TOKENS" {
                $module::BudgetMetric::TOKENS
            } else {
                $module::BudgetMetric::COST
            },
            period: match $form.period.get_untracked().as_str() {
                "DAY" => $module::BudgetPeriod::DAY,
                "WEEK" => $module::BudgetPeriod::WEEK,
                _ => $module::BudgetPeriod::MONTH,
            },
            model: optional($form.model.get_untracked()),
            client_key: optional($form.client_key.get_untracked()),
            amount: $amount,
            thresholds: $thresholds,
            hard_limit: $form.hard_limit.get_untracked(),
            webhook_url: optional($form.webhook_url.get_untracked()),
            webhook_format: match $form.webhook_format.get_untracked().as_str() {
                "FEISHU" => $module::WebhookFormat::FEISHU,
                "DINGTALK" => $module::WebhookFormat::DINGTALK,
                _ => $module::WebhookFormat::GENERIC,
            },
        }
    }};
}

fn amount_text(metric: &budgets::BudgetMetric, value: f64) -> String {
    match metric {
        budgets::BudgetMetric::TOKENS => grouped(value.round() as i64),
        _ => usd(value),
    }
}

fn delivery_label(delivery: &budgets::AlertDelivery, texts: &Texts) -> &'static str {
    match delivery {
        budgets::AlertDelivery::DELIVERED => texts.delivery_delivered,
        budgets::AlertDelivery::PENDING => texts.delivery_pending,
        budgets::AlertDelivery::FAILED => texts.delivery_failed,
        _ => texts.delivery_none,
    }
}

#[component]
pub fn BudgetsPage() -> impl IntoView {
    let texts = use_texts();
    let session = expect_context::<Session>();
    let data = LocalResource::new(move || api::run::<Budgets>(session, budgets::Variables {}));
    let message = RwSignal::new(None::<Result<String, String>>);
    let form = Form::new();
    let done = move |result: Result<String, ApiError>| {
        message.set(Some(result.map_err(|e| e.describe(texts()))));
        data.refetch();
    };
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let amount = form.amount.get_untracked().trim().trim_start_matches('$').replace(',', "").parse::<f64>();
        let (Ok(amount), Ok(thresholds)) = (amount, parse_thresholds(&form.thresholds.get_untracked())) else {
            message.set(Some(Err(texts().budget_invalid.to_owned())));
            return;
        };
        match form.editing.get_untracked() {
            None => {
                let budget = budget_input!(create_budget, form, amount, thresholds);
                leptos::task::spawn_local(async move {
                    let result = api::run::<CreateBudget>(session, create_budget::Variables { budget }).await;
                    done(result.map(|r| r.create_budget.name));
                });
            }
            Some(id) => {
                let budget = budget_input!(update_budget, form, amount, thresholds);
                leptos::task::spawn_local(async move {
                    let result = api::run::<UpdateBudget>(session, update_budget::Variables { id, budget }).await;
                    done(result.map(|r| r.update_budget.name));
                });
                form.editing.set(None);
            }
        }
    };
    let text_field = move |name: &'static str, label: fn(&Texts) -> &'static str, value: RwSignal<String>| {
        view! {
            <label>
                <span>{move || label(texts())}</span>
                <input name=name type="text" prop:value=move || value.get() on:input=move |e| value.set(event_target_value(&e)) />
            </label>
        }
    };
    let choice = move |name: &'static str,
                       label: fn(&Texts) -> &'static str,
                       value: RwSignal<String>,
                       options: &'static [&'static str]| {
        view! {
            <label>
                <span>{move || label(texts())}</span>
                <select name=name on:change=move |e| value.set(event_target_value(&e))>
                    {options.iter().map(|o| view! { <option value=*o selected=move || value.get() == *o>{*o}</option> }).collect_view()}
                </select>
            </label>
        }
    };

    view! {
        <section class="page">
            <header class="page-head"><h1>{move || texts().nav_budgets}</h1></header>
            <p class="hint">{move || texts().budgets_hint}</p>
            {move || message.get().map(|m| match m {
                Ok(text) => view! { <p class="notice" role="status">{move || texts().saved} ": " {text.clone()}</p> }.into_any(),
                Err(text) => view! { <p class="notice error" role="alert">{text}</p> }.into_any(),
            })}
            <form class="panel price-form budget-form" on:submit=save>
                <h2>{move || if form.editing.get().is_some() { texts().budget_edit } else { texts().budget_add }}</h2>
                <div class="filters">
                    {text_field("name", |t| t.budget_name, form.name)}
                    {choice("metric", |t| t.budget_metric, form.metric, &["COST", "TOKENS"])}
                    {choice("period", |t| t.budget_period, form.period, &["DAY", "WEEK", "MONTH"])}
                    {text_field("amount", |t| t.budget_amount, form.amount)}
                    {text_field("model", |t| t.filter_model, form.model)}
                    {text_field("clientKey", |t| t.group_client_key, form.client_key)}
                    {text_field("thresholds", |t| t.budget_thresholds, form.thresholds)}
                    {text_field("webhookUrl", |t| t.budget_webhook, form.webhook_url)}
                    {choice("webhookFormat", |t| t.budget_webhook_format, form.webhook_format, &["GENERIC", "FEISHU", "DINGTALK"])}
                    <label class="check">
                        <input name="hardLimit" type="checkbox" prop:checked=move || form.hard_limit.get()
                            on:change=move |e| form.hard_limit.set(event_target_checked(&e)) />
                        <span>{move || texts().budget_hard_limit}</span>
                    </label>
                </div>
                <button type="submit">{move || texts().save}</button>
            </form>
            <Transition fallback=|| view! { <Loading /> }>
                {move || data.get().map(|result| match result {
                    Ok(loaded) => view! { <BudgetList data=loaded form=form on_change=done /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error=error retry=move || data.refetch() /> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

#[component]
fn BudgetList(
    data: budgets::ResponseData,
    form: Form,
    on_change: impl Fn(Result<String, ApiError>) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let texts = use_texts();
    let session = expect_context::<Session>();
    let rows = data
        .budgets
        .into_iter()
        .map(|b| {
            let percent = b.status.used_percent;
            let bar_class = if percent >= 100.0 { "bar over" } else { "bar measured" };
            let used = format!("{} / {}", amount_text(&b.metric, b.status.used), amount_text(&b.metric, b.amount));
            let scope = [b.model.clone(), b.client_key.clone()].into_iter().flatten().collect::<Vec<_>>().join(" · ");
            let edit = {
                let b = b.clone();
                move |_| form.fill(&b)
            };
            let id = b.id.clone();
            let remove = move |_| {
                let id = id.clone();
                leptos::task::spawn_local(async move {
                    let result = api::run::<DeleteBudget>(session, delete_budget::Variables { id: id.clone() }).await;
                    on_change(result.map(|_| id));
                });
            };
            view! {
                <tr data-budget=b.name.clone()>
                    <th scope="row">{b.name.clone()}</th>
                    <td>{scope}</td>
                    <td>{format!("{:?}", b.period).to_lowercase()}</td>
                    <td class="num nowrap" data-col="used">{used}</td>
                    <td class="nowrap" title=format!("{percent:.1} %")>
                        <span class="bar-track"><span class=bar_class style=format!("width:{:.1}%", percent.min(100.0))></span></span>
                    </td>
                    <td class="num" data-col="percent">{format!("{percent:.0} %")}</td>
                    <td>{b.thresholds.iter().map(|t| format!("{t}%")).collect::<Vec<_>>().join(" ")}</td>
                    <td>
                        {b.hard_limit.then(|| view! { <span class="badge">{move || texts().budget_hard_limit_short}</span> })}
                        {b.status.blocking.then(|| view! { " " <span class="badge error" data-blocking="true">{move || texts().budget_blocking}</span> })}
                    </td>
                    <td class="nowrap">
                        <button type="button" class="link" on:click=edit>{move || texts().edit}</button>
                        " "
                        <button type="button" class="link" on:click=remove>{move || texts().delete}</button>
                    </td>
                </tr>
            }
        })
        .collect_view();
    let alerts = data
        .budget_alerts
        .into_iter()
        .map(|a| {
            let name = a.budget_name.clone().unwrap_or_else(|| texts().budget_deleted.to_owned());
            let delivery = a.delivery.clone();
            view! {
                <tr>
                    <td class="nowrap">{local_time(&a.fired_at)}</td>
                    <td>{name}</td>
                    <td class="num">{a.threshold} "%"</td>
                    <td class="num">{format!("{}", a.used)} " / " {format!("{}", a.amount)}</td>
                    <td>{move || delivery_label(&delivery, texts())} {(a.attempts > 1).then(|| format!(" ({})", a.attempts))}</td>
                    <td>{a.last_error.clone().unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    let no_alerts = alerts.is_empty();
    view! {
        <section class="panel">
            <div class="table-scroll">
                <table class="budgets">
                    <thead>
                        <tr>
                            <th scope="col">{move || texts().budget_name}</th>
                            <th scope="col">{move || texts().budget_scope}</th>
                            <th scope="col">{move || texts().budget_period}</th>
                            <th scope="col" class="num">{move || texts().budget_used}</th>
                            <th scope="col"></th>
                            <th scope="col" class="num">"%"</th>
                            <th scope="col">{move || texts().budget_thresholds}</th>
                            <th scope="col"></th>
                            <th scope="col"></th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </section>
        <section class="panel">
            <h2>{move || texts().budget_alerts}</h2>
            {if no_alerts {
                view! { <Empty message=Signal::derive(move || texts().no_alerts.to_owned()) /> }.into_any()
            } else {
                view! { <div class="table-scroll"><table class="alerts"><tbody>{alerts}</tbody></table></div> }.into_any()
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_typed_as_a_list() {
        assert_eq!(parse_thresholds("50, 80,100"), Ok(vec![50, 80, 100]));
        assert_eq!(parse_thresholds("90%"), Ok(vec![90]));
        assert!(parse_thresholds("50, lots").is_err());
    }
}
