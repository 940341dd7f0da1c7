//! Raw JSON, pretty-printed, folded by default, with a copy button.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::format::pretty_json;
use crate::i18n::use_texts;

#[component]
pub fn JsonBlock(#[prop(into)] title: Signal<&'static str>, text: String, id: &'static str) -> impl IntoView {
    let texts = use_texts();
    let pretty = pretty_json(&text);
    let copied = RwSignal::new(false);
    let to_copy = text.clone();
    let copy = move |_| {
        copy_to_clipboard(&to_copy);
        copied.set(true);
        set_timeout(move || copied.set(false), std::time::Duration::from_secs(2));
    };
    view! {
        <details class="raw" data-raw=id>
            <summary>{title}</summary>
            <div class="raw-actions">
                <button type="button" on:click=copy>
                    {move || if copied.get() { texts().copied } else { texts().copy }}
                </button>
            </div>
            <pre class="json">{pretty}</pre>
        </details>
    }
}

/// The async clipboard API exists only in secure contexts (https, localhost); elsewhere a hidden
/// textarea and `execCommand("copy")` still work.
fn copy_to_clipboard(text: &str) {
    let Some(window) = web_sys::window() else { return };
    let secure = window.is_secure_context();
    if secure {
        let _ = window.navigator().clipboard().write_text(text);
        return;
    }
    let Some(document) = window.document() else { return };
    let Ok(area) = document.create_element("textarea") else { return };
    let Ok(area) = area.dyn_into::<web_sys::HtmlTextAreaElement>() else { return };
    area.set_value(text);
    let Some(body) = document.body() else { return };
    let _ = body.append_child(&area);
    area.select();
    if let Ok(html) = document.dyn_into::<web_sys::HtmlDocument>() {
        let _ = html.exec_command("copy");
    }
    area.remove();
}
