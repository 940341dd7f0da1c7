//! A request's messages rendered as a chat: role labels, the system prompt folded away, long
//! messages shortened until asked, tool calls and tool results shown as what they are.

use leptos::prelude::*;

use crate::format::pretty_json;
use crate::i18n::use_texts;
use crate::queries::request_detail::{RequestDetailRequestMessages, RequestDetailRequestMessagesToolCalls};

/// Beyond either limit a message is shown shortened, with a button for the rest.
const FOLD_CHARS: usize = 1200;
const FOLD_LINES: usize = 20;

/// Where to cut `text` for its folded form; `None` when it is short enough to show whole.
pub fn fold_point(text: &str) -> Option<usize> {
    let by_lines = text.match_indices('\n').nth(FOLD_LINES - 1).map(|(i, _)| i);
    let by_chars = text.char_indices().nth(FOLD_CHARS).map(|(i, _)| i);
    match (by_lines, by_chars) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(usize::MAX).min(b.unwrap_or(usize::MAX))),
    }
}

#[component]
pub fn FoldableText(text: String) -> impl IntoView {
    let texts = use_texts();
    match fold_point(&text) {
        None => view! { <pre class="text">{text}</pre> }.into_any(),
        Some(cut) => {
            let expanded = RwSignal::new(false);
            let short = format!("{}…", &text[..cut]);
            view! {
                <pre class="text">{move || if expanded.get() { text.clone() } else { short.clone() }}</pre>
                <button type="button" class="link" aria-expanded=move || expanded.get().to_string()
                    on:click=move |_| expanded.update(|e| *e = !*e)>
                    {move || if expanded.get() { texts().show_less } else { texts().show_more }}
                </button>
            }
            .into_any()
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ToolCallView {
    pub id: Option<String>,
    pub name: String,
    pub arguments: String,
}

impl From<RequestDetailRequestMessagesToolCalls> for ToolCallView {
    fn from(call: RequestDetailRequestMessagesToolCalls) -> Self {
        ToolCallView { id: call.id, name: call.name, arguments: call.arguments }
    }
}

#[component]
pub fn ToolCalls(calls: Vec<ToolCallView>) -> impl IntoView {
    let texts = use_texts();
    calls
        .into_iter()
        .map(|call| {
            view! {
                <div class="tool-call">
                    <div class="tool-head">
                        <span class="tag">{move || texts().tool_call}</span>
                        <code class="tool-name">{call.name}</code>
                        {call.id.map(|id| view! { <code class="tool-id">{id}</code> })}
                    </div>
                    <pre class="json">{pretty_json(&call.arguments)}</pre>
                </div>
            }
        })
        .collect_view()
}

#[component]
pub fn Conversation(messages: Vec<RequestDetailRequestMessages>) -> impl IntoView {
    let texts = use_texts();
    if messages.is_empty() {
        return view! { <p class="empty">{move || texts().no_messages}</p> }.into_any();
    }
    let items = messages.into_iter().map(|message| view! { <ChatMessage message=message /> }).collect_view();
    view! { <ol class="chat">{items}</ol> }.into_any()
}

#[component]
fn ChatMessage(message: RequestDetailRequestMessages) -> impl IntoView {
    let texts = use_texts();
    let role = message.role.clone();
    let text = message.content.clone().unwrap_or_default();
    let parts = message.content_parts_json.clone();
    let calls: Vec<ToolCallView> = message.tool_calls.into_iter().map(ToolCallView::from).collect();
    let body = move || {
        view! {
            {(!text.is_empty()).then(|| view! { <FoldableText text=text.clone() /> })}
            {parts.clone().map(|parts| view! { <pre class="json parts">{pretty_json(&parts)}</pre> })}
            <ToolCalls calls=calls.clone() />
        }
    };
    let label = match &message.name {
        Some(name) => format!("{role} · {name}"),
        None => role.clone(),
    };
    if role == "system" || role == "developer" {
        let size = message.content.as_deref().map(|c| c.chars().count()).unwrap_or(0);
        return view! {
            <li class="msg system" data-role=role.clone()>
                <details>
                    <summary>
                        <span class="role">{move || texts().system_prompt}</span>
                        " (" {size} " " {move || texts().characters} ")"
                    </summary>
                    {body()}
                </details>
            </li>
        }
        .into_any();
    }
    let result_of = message.tool_call_id.clone();
    view! {
        <li class=format!("msg {}", css_role(&role)) data-role=role.clone()>
            <div class="msg-head">
                <span class="role">{label}</span>
                {result_of.map(|id| view! {
                    <span class="tool-result-of">{move || texts().tool_result_for} " " <code>{id.clone()}</code></span>
                })}
            </div>
            {body()}
        </li>
    }
    .into_any()
}

/// Roles become class names; anything unexpected gets a neutral one.
fn css_role(role: &str) -> &'static str {
    match role {
        "user" => "user",
        "assistant" => "assistant",
        "tool" | "function" => "tool",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_messages_are_not_folded() {
        assert_eq!(fold_point("hello"), None);
        assert_eq!(fold_point(&"x".repeat(FOLD_CHARS)), None);
        assert_eq!(fold_point(&"line\n".repeat(FOLD_LINES - 1)), None);
    }

    #[test]
    fn long_messages_fold_at_the_first_limit_reached_on_a_char_boundary() {
        assert_eq!(fold_point(&"x".repeat(FOLD_CHARS + 1)), Some(FOLD_CHARS));
        let many_lines = "ab\n".repeat(FOLD_LINES + 5);
        assert_eq!(fold_point(&many_lines), Some(3 * FOLD_LINES - 1));
        let wide = "字".repeat(FOLD_CHARS + 10);
        let cut = fold_point(&wide).unwrap();
        assert!(wide.is_char_boundary(cut));
        assert_eq!(wide[..cut].chars().count(), FOLD_CHARS);
    }
}
