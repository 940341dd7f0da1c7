//! The shell: language and session in context, the header, and the routes (or the login form).

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::i18n::{use_texts, Lang, Language};
use crate::pages::budgets::BudgetsPage;
use crate::pages::login::LoginPage;
use crate::pages::not_found::NotFoundPage;
use crate::pages::overview::OverviewPage;
use crate::pages::prices::PricesPage;
use crate::pages::reports::ReportsPage;
use crate::pages::request_detail::RequestDetailPage;
use crate::pages::request_list::RequestListPage;
use crate::routes;
use crate::session::Session;

const LANG_KEY: &str = "tokenslipper.lang";

/// The saved choice, else the browser's language.
fn initial_lang() -> Lang {
    let window = web_sys::window();
    let saved = window
        .as_ref()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item(LANG_KEY).ok().flatten());
    let browser = window.and_then(|w| w.navigator().language());
    Lang::from_tag(&saved.or(browser).unwrap_or_default())
}

#[component]
pub fn App() -> impl IntoView {
    let lang = RwSignal::new(initial_lang());
    provide_context(Language(lang));
    let session = Session::restore();
    provide_context(session);
    Effect::new(move |_| {
        let tag = lang.get().tag();
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("lang", tag);
        }
    });

    view! {
        <Router base=routes::BASE>
            <a class="skip" href="#main">{move || use_texts()().skip_to_content}</a>
            <Header />
            <main id="main" tabindex="-1">
                <Show when=move || session.signed_in() fallback=|| view! { <LoginPage /> }>
                    <Routes fallback=|| view! { <NotFoundPage /> }>
                        <Route path=path!("/") view=OverviewPage />
                        <Route path=path!("/requests") view=RequestListPage />
                        <Route path=path!("/request/:id") view=RequestDetailPage />
                        <Route path=path!("/reports") view=ReportsPage />
                        <Route path=path!("/prices") view=PricesPage />
                        <Route path=path!("/budgets") view=BudgetsPage />
                    </Routes>
                </Show>
            </main>
        </Router>
    }
}

#[component]
fn Header() -> impl IntoView {
    let texts = use_texts();
    let session = expect_context::<Session>();
    let Language(lang) = expect_context::<Language>();
    let location = leptos_router::hooks::use_location();
    let current = move |section: &'static str| {
        let path = location.pathname.get();
        let here = match section {
            "requests" => path.contains("/request"),
            "reports" => path.contains("/reports"),
            "prices" => path.contains("/prices"),
            "budgets" => path.contains("/budgets"),
            _ => !["/request", "/reports", "/prices", "/budgets"].iter().any(|p| path.contains(p)),
        };
        here.then_some("page")
    };
    let switch = move |event: leptos::ev::Event| {
        let chosen = Lang::from_tag(&event_target_value(&event));
        if let Some(storage) = window().local_storage().ok().flatten() {
            let _ = storage.set_item(LANG_KEY, chosen.tag());
        }
        lang.set(chosen);
    };

    view! {
        <header class="top">
            <a class="brand" href=routes::overview()>{move || texts().app_name}</a>
            <Show when=move || session.signed_in()>
                <nav class="main-nav">
                    <a href=routes::overview() aria-current=move || current("overview")>{move || texts().nav_overview}</a>
                    <a href=routes::requests("") aria-current=move || current("requests")>{move || texts().nav_requests}</a>
                    <a href=routes::reports("") aria-current=move || current("reports")>{move || texts().nav_reports}</a>
                    <a href=routes::budgets() aria-current=move || current("budgets")>{move || texts().nav_budgets}</a>
                    <a href=routes::prices() aria-current=move || current("prices")>{move || texts().nav_prices}</a>
                </nav>
            </Show>
            <div class="top-actions">
                <label class="lang">
                    <span class="visually-hidden">{move || texts().language}</span>
                    <select name="lang" on:change=switch aria-label=move || texts().language>
                        <option value="en" selected=move || lang.get() == Lang::En>"English"</option>
                        <option value="zh-CN" selected=move || lang.get() == Lang::Zh>"简体中文"</option>
                    </select>
                </label>
                <Show when=move || session.signed_in()>
                    <button type="button" class="link" on:click=move |_| session.sign_out()>{move || texts().sign_out}</button>
                </Show>
            </div>
        </header>
    }
}
