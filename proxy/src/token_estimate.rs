//! Token counts for calls the upstream answered without reporting usage — a stream the client
//! broke off, an upstream that ignores `include_usage` — so that they are not recorded as free.
//! A rough count, stored with `usage_source = 'estimated'` and shown as an estimate everywhere:
//! about four characters of English or code per token, one token per other (e.g. CJK) character,
//! and four tokens of framing per chat message. It errs on neither side on purpose: no tokenizer
//! matches every vendor's, and a vendor's bill is the only exact figure.

use serde_json::Value;

use crate::conversation::Conversation;
use crate::reply::{AssembledReply, Usage};

const TOKENS_PER_MESSAGE: i64 = 4;

/// Tokens in `text`: a quarter per ASCII character, one per other character, rounded up.
pub fn tokens_in(text: &str) -> i64 {
    let (ascii, other) =
        text.chars().fold((0i64, 0i64), |(a, o), c| if c.is_ascii() { (a + 1, o) } else { (a, o + 1) });
    (ascii + 3) / 4 + other
}

/// The estimated usage of a call: its messages (or, for legacy completions and embeddings, the
/// `prompt` / `input` strings) and what came back.
pub fn estimate(conversation: &Conversation, request_body: &[u8], reply: &AssembledReply) -> Usage {
    let prompt = if conversation.nodes.is_empty() {
        prompt_strings_tokens(request_body)
    } else {
        conversation
            .nodes
            .iter()
            .map(|node| {
                let fields = node.fields();
                TOKENS_PER_MESSAGE
                    + [&fields.content_text, &fields.tool_calls, &fields.name]
                        .into_iter()
                        .flatten()
                        .map(|text| tokens_in(text))
                        .sum::<i64>()
            })
            .sum()
    };
    let completion = reply.text.as_deref().map_or(0, tokens_in)
        + reply.tool_calls.as_ref().map_or(0, |calls| tokens_in(&calls.to_string()));
    Usage {
        prompt_tokens: Some(prompt),
        completion_tokens: Some(completion),
        total_tokens: Some(prompt + completion),
        cached_tokens: None,
        cache_write_tokens: None,
    }
}

fn prompt_strings_tokens(body: &[u8]) -> i64 {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return 0;
    };
    fn strings(value: &Value) -> i64 {
        match value {
            Value::String(text) => tokens_in(text),
            Value::Array(items) => items.iter().map(strings).sum(),
            _ => 0,
        }
    }
    ["prompt", "input"].iter().filter_map(|key| fields.get(*key)).map(strings).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation;

    #[test]
    fn english_is_about_four_characters_a_token_and_cjk_one() {
        assert_eq!(tokens_in(""), 0);
        assert_eq!(tokens_in("abc"), 1);
        assert_eq!(tokens_in("Hello, world"), 3);
        assert_eq!(tokens_in("费用一目了然"), 6);
        assert_eq!(tokens_in("cost 费用"), 2 + 2);
    }

    #[test]
    fn chats_count_their_messages_and_the_reply() {
        let body = br#"{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is 2+2?"}]}"#;
        let reply = AssembledReply { text: Some("4".into()), ..Default::default() };
        let usage = estimate(&conversation::split(body), body, &reply);
        // (4 + 3) + (4 + 3) framing and text; "4" is one token.
        assert_eq!(usage.prompt_tokens, Some(14));
        assert_eq!(usage.completion_tokens, Some(1));
        assert_eq!(usage.total_tokens, Some(15));
    }

    #[test]
    fn completions_and_embeddings_count_their_prompt_strings() {
        let body = r#"{"model":"m","input":["twelve chars","费用"]}"#.as_bytes();
        let usage = estimate(&conversation::split(body), body, &AssembledReply::default());
        assert_eq!(usage.prompt_tokens, Some(3 + 2));
        assert_eq!(usage.completion_tokens, Some(0));
    }
}
