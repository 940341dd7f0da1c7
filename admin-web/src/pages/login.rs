//! The token form shown instead of any page while the tab has no accepted admin token.

use leptos::prelude::*;

use crate::api::{self, ApiError};
use crate::i18n::use_texts;
use crate::queries::{check_token, CheckToken};
use crate::session::Session;

#[component]
pub fn LoginPage() -> impl IntoView {
    let texts = use_texts();
    let session = expect_context::<Session>();
    let token = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<ApiError>);
    let checking = RwSignal::new(false);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let candidate = token.get_untracked().trim().to_owned();
        if candidate.is_empty() || checking.get_untracked() {
            return;
        }
        checking.set(true);
        leptos::task::spawn_local(async move {
            match api::run_with_token::<CheckToken>(&candidate, check_token::Variables {}).await {
                Ok(_) => session.sign_in(candidate),
                Err(error) => problem.set(Some(error)),
            }
            checking.set(false);
        });
    };
    let message = move || match problem.get() {
        Some(error) => Some(error.describe(texts())),
        None => session.expired().then(|| texts().login_expired.to_owned()),
    };

    view! {
        <section class="login">
            <form class="panel" on:submit=submit>
                <h1>{move || texts().login_title}</h1>
                <p class="hint">{move || texts().login_hint}</p>
                <label for="admin-token">{move || texts().login_token}</label>
                <input
                    id="admin-token"
                    name="token"
                    type="password"
                    autocomplete="current-password"
                    required
                    autofocus
                    bind:value=token
                />
                {move || message().map(|m| view! { <p class="notice error" role="alert">{m}</p> })}
                <button type="submit" class="primary" disabled=move || checking.get()>
                    {move || if checking.get() { texts().login_checking } else { texts().login_submit }}
                </button>
            </form>
        </section>
    }
}
