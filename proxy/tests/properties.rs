//! Properties of the three parsers every request and reply goes through, checked on generated input
//! (proptest): the SSE framer, the reply assembler, and the byte-level rewrite of `model`.
//! More cases for a longer run: `PROPTEST_CASES=100000 cargo test -p proxy --test properties`.

use proptest::prelude::*;
use proxy::record::{ResponseCapture, StreamEvent};
use proxy::reply::assemble;
use proxy::request_body::{forward_fields, rewrite};
use proxy::sse::SseFramer;
use serde_json::{json, Map, Value};

/// Bytes that look like an event stream often enough to reach every branch of the framer: field
/// names, separators and line ends are likelier than other bytes.
fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"data: ".to_vec()),
        Just(b"event: x".to_vec()),
        Just(b": comment".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n\n".to_vec()),
        Just(b"{\"choices\":[]}".to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

/// Cut points for a byte string of length `len`.
fn splits(len: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..=len, 0..12).prop_map(|mut cuts| {
        cuts.sort_unstable();
        cuts
    })
}

/// An event as (raw bytes, `event` field, data).
type Framed = (Vec<u8>, Option<String>, String);

fn frame(pieces: &[&[u8]]) -> (Vec<Framed>, Vec<u8>) {
    let mut framer = SseFramer::new();
    let mut events = Vec::new();
    for piece in pieces {
        for event in framer.push(&bytes::Bytes::copy_from_slice(piece)) {
            let data = event.data_text().into_owned();
            events.push((event.raw.to_vec(), event.event, data));
        }
    }
    (events, framer.unfinished().to_vec())
}

/// A JSON value of bounded depth, with the kinds of strings request bodies carry.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        Just(Value::String("}\"{,:\\u0000".into())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

proptest! {
    // 2,000 cases each in the test suite; PROPTEST_CASES sets another number for a longer run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(2_000),
        ..ProptestConfig::default()
    })]

    /// The relay is lossless and boundary-blind: whatever the bytes and however they are cut, the
    /// events' raw bytes plus the unfinished tail are the input, and the events are the same as
    /// when the input arrives in one piece.
    #[test]
    fn sse_framing_loses_nothing_and_ignores_where_the_bytes_are_cut(bytes in stream_bytes(), cuts in splits(64)) {
        let mut pieces: Vec<&[u8]> = Vec::new();
        let mut start = 0;
        for cut in cuts.into_iter().map(|c| c.min(bytes.len())) {
            pieces.push(&bytes[start..cut.max(start)]);
            start = cut.max(start);
        }
        pieces.push(&bytes[start..]);
        let (events, unfinished) = frame(&pieces);
        let relayed: Vec<u8> = events.iter().flat_map(|(raw, _, _)| raw.clone()).chain(unfinished.clone()).collect();
        prop_assert_eq!(&relayed, &bytes);
        prop_assert_eq!((events, unfinished), frame(&[&bytes]));
    }

    /// Any stream content, however malformed, assembles without panicking.
    #[test]
    fn any_stream_assembles(events in prop::collection::vec((prop::option::of(any::<String>()), any::<String>()), 0..20)) {
        let events: Vec<StreamEvent> = events.into_iter().map(|(event, data)| StreamEvent { event, data }).collect();
        let _ = assemble(&ResponseCapture::stream_of(&events));
    }

    /// Any body assembles without panicking.
    #[test]
    fn any_body_assembles(body in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = assemble(&ResponseCapture::Body(body.into()));
    }

    /// Content deltas and tool-call argument pieces, in any split, assemble to their concatenation.
    #[test]
    fn deltas_assemble_to_their_concatenation(
        text in prop::collection::vec(any::<String>(), 1..8),
        arguments in prop::collection::vec(any::<String>(), 1..8),
    ) {
        let chunk = |delta: Value| StreamEvent {
            event: None,
            data: json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": null}]}).to_string(),
        };
        let mut events: Vec<StreamEvent> = text.iter().map(|t| chunk(json!({"content": t}))).collect();
        events.push(chunk(json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}]})));
        events.extend(arguments.iter().map(|a| chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": a}}]}))));
        events.push(StreamEvent { event: None, data: "[DONE]".into() });
        let reply = assemble(&ResponseCapture::stream_of(&events));
        let expected_text = text.concat();
        prop_assert_eq!(reply.text.unwrap_or_default(), expected_text);
        let calls = reply.tool_calls.expect("the tool call");
        prop_assert_eq!(calls[0]["function"]["arguments"].as_str().unwrap(), arguments.concat());
        prop_assert_eq!(calls[0]["function"]["name"].as_str().unwrap(), "f");
    }

    /// The model rewrite changes `model` (and, when asked, `stream_options.include_usage`) and
    /// nothing else, whatever the rest of the body holds and however it is laid out.
    #[test]
    fn the_rewrite_changes_the_model_and_nothing_else(
        rest in prop::collection::btree_map(any::<String>(), json_value(), 0..6),
        model in any::<String>(),
        upstream in any::<String>(),
        stream in any::<bool>(),
        options in prop::option::of(prop::collection::btree_map(any::<String>(), json_value(), 0..3)),
        ask_for_usage in any::<bool>(),
        pretty in any::<bool>(),
    ) {
        let mut body: Map<String, Value> = rest.into_iter().filter(|(k, _)| !["model", "stream", "stream_options"].contains(&k.as_str())).collect();
        body.insert("model".into(), Value::String(model.clone()));
        body.insert("stream".into(), Value::Bool(stream));
        if let Some(options) = &options {
            body.insert("stream_options".into(), Value::Object(options.clone().into_iter().collect()));
        }
        let original = Value::Object(body);
        let bytes = if pretty { serde_json::to_vec_pretty(&original) } else { serde_json::to_vec(&original) }.unwrap();
        let fields = forward_fields(&bytes).expect("a JSON object is accepted");
        prop_assert_eq!(fields.model.as_deref(), Some(model.as_str()));
        let rewritten = rewrite(&bytes, &fields, &upstream, ask_for_usage).unwrap_or_else(|| bytes.clone());
        let result: Value = serde_json::from_slice(&rewritten).expect("the rewrite is JSON");
        let mut expected = original.clone();
        expected["model"] = Value::String(upstream.clone());
        if ask_for_usage {
            let mut options = options.clone().unwrap_or_default().into_iter().collect::<Map<String, Value>>();
            options.insert("include_usage".into(), Value::Bool(true));
            expected["stream_options"] = Value::Object(options);
        }
        prop_assert_eq!(result, expected);
    }

    /// Any bytes at all: parsed or refused, never a panic.
    #[test]
    fn any_bytes_are_parsed_or_refused(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(fields) = forward_fields(&bytes) {
            let _ = rewrite(&bytes, &fields, "upstream-model", true);
        }
    }
}
