//! What a screen shows while it waits, when it failed, and when there is nothing to show.

use leptos::prelude::*;

use crate::api::ApiError;
use crate::i18n::use_texts;

#[component]
pub fn Loading() -> impl IntoView {
    let texts = use_texts();
    view! { <p class="loading" role="status" aria-live="polite">{move || texts().loading}</p> }
}

#[component]
pub fn ErrorNotice(error: ApiError, #[prop(into)] retry: Callback<()>) -> impl IntoView {
    let texts = use_texts();
    view! {
        <div class="notice error" role="alert">
            <strong>{move || texts().error_title}</strong>
            <p class="error-detail">{move || error.describe(texts())}</p>
            <button type="button" on:click=move |_| retry.run(())>{move || texts().retry}</button>
        </div>
    }
}

#[component]
pub fn Empty(#[prop(into)] message: Signal<String>) -> impl IntoView {
    view! { <p class="empty">{message}</p> }
}
