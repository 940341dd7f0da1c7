//! Undoing, for the client, the proxy's own `stream_options.include_usage`. With it on, the upstream
//! adds `"usage":null` to every chunk and sends one extra chunk with empty `choices` and the usage.
//! A client that did not ask for usage must see neither, so its stream is byte for byte what it
//! would have been without the proxy.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde::de::IgnoredAny;

use crate::request_body::{field, top_level_fields};
use crate::sse::SseEvent;

/// What the client should get for this event: `None` to hold it back, otherwise its bytes.
///
/// Most events are read without parsing them: one with no `"usage"` key goes on as it came, and
/// one whose top-level object has a compact `"usage":null` member (every chunk but the last once
/// usage is asked for) loses it. Only the rest, the usage chunk among them, is parsed. Keys
/// spelled with escapes (`"\u0075sage"`) are not recognised; no upstream writes them.
pub fn event_for_client(event: &SseEvent) -> Option<Cow<'_, [u8]>> {
    let data = &event.data[..];
    if let Some(cut) = top_level_null_usage(data) {
        return Some(without(event, cut));
    }
    if USAGE_KEY.find(data).is_none() {
        return Some(Cow::Borrowed(&event.raw));
    }
    parsed_event_for_client(event)
}

// Built once: a searcher's set-up costs more than searching one event.
static USAGE_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"usage\""));
static LATER_NULL_USAGE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b",\"usage\":null"));

/// The bytes to cut for a compact `"usage":null` member of the top-level object, with the comma
/// that joins it to a neighbour, found by its bytes. In valid JSON a `,"usage"` cannot lie inside
/// a string (the quote would end it), so such a match is a member; it is the top level's when what
/// follows it closes exactly one object, the last thing in `data`.
fn top_level_null_usage(data: &[u8]) -> Option<Range<usize>> {
    const FIRST: &[u8] = b"{\"usage\":null";
    if let Some(rest) = data.strip_prefix(FIRST) {
        return match rest.first() {
            Some(b',') => Some(1..FIRST.len() + 1),
            Some(b'}') if closes_one_object(rest) => Some(1..FIRST.len()),
            _ => None,
        };
    }
    LATER_NULL_USAGE
        .find_iter(data)
        .map(|at| at..at + LATER_NULL_USAGE.needle().len())
        .find(|member| matches!(data.get(member.end), Some(b',' | b'}')) && closes_one_object(&data[member.end..]))
}

/// Whether `rest`, read from outside any string, closes one more object or array than it opens,
/// and does so with its last non-blank byte.
fn closes_one_object(rest: &[u8]) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (at, &byte) in rest.iter().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return rest[at + 1..].trim_ascii().is_empty(),
            b'}' | b']' => depth -= 1,
            _ => {}
        }
    }
    false
}

/// The event without `cut` (a range of its data), when its data is the one `data:` line of it.
fn without(event: &SseEvent, cut: Range<usize>) -> Cow<'_, [u8]> {
    let data = &event.data[..];
    // Chat chunks are one `data:` line, so the data sits right after the field name in the raw
    // event; anything else is passed on as it came.
    let start = if event.raw.starts_with(b"data: ") { 6 } else { 5 };
    if event.raw.get(start..start + data.len()) != Some(data) {
        return Cow::Borrowed(&event.raw);
    }
    let mut out = Vec::with_capacity(event.raw.len());
    out.extend_from_slice(&event.raw[..start + cut.start]);
    out.extend_from_slice(&event.raw[start + cut.end..]);
    Cow::Owned(out)
}

/// `event_for_client` by a parse of the event's top level: the usage chunk, and `"usage":null`
/// written with blanks or where the byte search cannot tell its depth.
fn parsed_event_for_client(event: &SseEvent) -> Option<Cow<'_, [u8]>> {
    let data = &event.data[..];
    let Ok(fields) = top_level_fields(data) else { return Some(Cow::Borrowed(&event.raw)) };
    let Some(usage) = field(&fields, "usage") else { return Some(Cow::Borrowed(&event.raw)) };
    if usage.value.get() != "null" {
        let no_choices = field(&fields, "choices")
            .is_none_or(|c| serde_json::from_str::<Vec<IgnoredAny>>(c.value.get()).is_ok_and(|v| v.is_empty()));
        return if no_choices { None } else { Some(Cow::Borrowed(&event.raw)) };
    }

    // Cut `"usage":null` out with the comma that joins it to a neighbour.
    let index = fields.iter().position(|f| std::ptr::eq(f, usage)).expect("found in this list");
    let cut = if index > 0 {
        fields[index - 1].span.end..usage.span.end
    } else if let Some(next) = fields.get(index + 1) {
        let open_brace = data.iter().position(|&b| b == b'{').expect("an object starts with {");
        let comma = usage.span.end + data[usage.span.end..next.span.start].iter().position(|&b| b == b',')?;
        open_brace + 1..comma + 1
    } else {
        let open_brace = data.iter().position(|&b| b == b'{').expect("an object starts with {");
        open_brace + 1..usage.span.end
    };
    Some(without(event, cut))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::sse::SseFramer;

    fn client_bytes(stream: &[u8]) -> Vec<u8> {
        let mut framer = SseFramer::new();
        framer
            .push(&Bytes::copy_from_slice(stream))
            .iter()
            .filter_map(|e| event_for_client(e).map(|b| b.into_owned()))
            .flatten()
            .collect()
    }

    #[test]
    fn null_usage_members_and_the_usage_chunk_are_removed() {
        let with_usage = b"data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}],\"usage\":null,\"o\":\"x\"}\n\n\
data: {\"usage\":null,\"id\":\"c\",\"choices\":[]}\n\n\
data: {\"id\":\"c\",\"usage\":null}\n\n\
data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}\n\n\
data: [DONE]\n\n";
        let expected =
            b"data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}],\"o\":\"x\"}\n\n\
data: {\"id\":\"c\",\"choices\":[]}\n\n\
data: {\"id\":\"c\"}\n\n\
data: [DONE]\n\n";
        assert_eq!(String::from_utf8(client_bytes(with_usage)).unwrap(), String::from_utf8(expected.to_vec()).unwrap());
    }

    #[test]
    fn usage_alongside_choices_is_left_alone() {
        let stream = b"data: {\"choices\":[{\"index\":0,\"delta\":{}}],\"usage\":{\"total_tokens\":2}}\n\n";
        assert_eq!(client_bytes(stream), stream);
    }

    /// The data of a chat chunk in compact JSON with its keys in any order: `usage` null, absent or
    /// an object, beside members whose values hold nested `"usage":null`, the same bytes escaped
    /// inside strings, and strings that end in a backslash or hold a brace; and whether its top
    /// level has `"usage":null`.
    fn chunk_data() -> impl proptest::strategy::Strategy<Value = (String, bool)> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just("null".to_string()),
            Just("7".to_string()),
            Just("[]".to_string()),
            Just("{}".to_string()),
            Just(r#"",\"usage\":null}""#.to_string()),
            Just(r#""a\"}\\""#.to_string()),
            any::<String>().prop_map(|text| serde_json::to_string(&text).unwrap()),
        ];
        let nested = prop::collection::vec((prop::sample::select(&["usage", "content", "x"][..]), leaf.clone()), 0..3)
            .prop_map(|members| {
                let members: Vec<String> = members.iter().map(|(key, value)| format!("{key:?}:{value}")).collect();
                format!("{{{}}}", members.join(","))
            });
        let value = prop_oneof![
            leaf.clone(),
            nested.clone(),
            prop::collection::vec(nested, 0..3).prop_map(|items| format!("[{}]", items.join(","))),
        ];
        let usage = prop_oneof![3 => Just("null".to_string()), 1 => Just(r#"{"total_tokens":2}"#.to_string())];
        let keys = Just(vec!["id", "choices", "usage", "obfuscation", "a"]).prop_shuffle();
        (keys, 0..=5usize, prop::collection::vec(value, 5), usage).prop_map(|(keys, count, values, usage)| {
            let members: Vec<String> = keys[..count]
                .iter()
                .zip(values)
                .map(|(key, value)| format!("{key:?}:{}", if *key == "usage" { &usage } else { &value }))
                .collect();
            let null_usage = usage == "null" && keys[..count].contains(&"usage");
            (format!("{{{}}}", members.join(",")), null_usage)
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(2_000),
            ..Default::default()
        })]

        /// Reading an event by its bytes gives what parsing its top level gives, for compact JSON,
        /// and finds every top-level `"usage":null` without the parse.
        #[test]
        fn an_event_read_by_its_bytes_leaves_as_its_parse_says((data, null_usage) in chunk_data()) {
            let event = SseFramer::new().push(&Bytes::from(format!("data: {data}\n\n"))).remove(0);
            proptest::prop_assert_eq!(event_for_client(&event), parsed_event_for_client(&event), "{}", data);
            proptest::prop_assert_eq!(top_level_null_usage(data.as_bytes()).is_some(), null_usage, "{}", data);
        }
    }
}
