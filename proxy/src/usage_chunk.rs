//! Undoing, for the client, the proxy's own `stream_options.include_usage`. With it on, the upstream
//! adds `"usage":null` to every chunk and sends one extra chunk with empty `choices` and the usage.
//! A client that did not ask for usage must see neither, so its stream is byte for byte what it
//! would have been without the proxy.

use std::borrow::Cow;

use serde::de::IgnoredAny;

use crate::request_body::{field, top_level_fields};
use crate::sse::SseEvent;

/// What the client should get for this event: `None` to hold it back, otherwise its bytes.
pub fn event_for_client(event: &SseEvent) -> Option<Cow<'_, [u8]>> {
    let data = event.data.as_bytes();
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
    // Chat chunks are one `data:` line, so the data sits right after the field name in the raw
    // event; anything else is passed on as it came.
    let start = if event.raw.starts_with(b"data: ") { 6 } else { 5 };
    if event.raw.get(start..start + data.len()) != Some(data) {
        return Some(Cow::Borrowed(&event.raw));
    }
    let mut out = Vec::with_capacity(event.raw.len());
    out.extend_from_slice(&event.raw[..start + cut.start]);
    out.extend_from_slice(&event.raw[start + cut.end..]);
    Some(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::SseFramer;

    fn client_bytes(stream: &[u8]) -> Vec<u8> {
        let mut framer = SseFramer::new();
        framer.push(stream).iter().filter_map(|e| event_for_client(e).map(|b| b.into_owned())).flatten().collect()
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
}
