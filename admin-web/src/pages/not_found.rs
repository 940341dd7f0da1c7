use leptos::prelude::*;

use crate::i18n::use_texts;
use crate::routes;

#[component]
pub fn NotFoundPage() -> impl IntoView {
    let texts = use_texts();
    view! {
        <section class="page notice">
            <h1>{move || texts().not_found_title}</h1>
            <p>{move || texts().not_found_body}</p>
            <a href=routes::overview()>{move || texts().nav_overview}</a>
        </section>
    }
}
