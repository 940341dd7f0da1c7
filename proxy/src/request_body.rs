//! The few fields forwarding needs, read from the client's JSON body without building a document tree,
//! and the byte-level rewrite that changes `model` (and asks for stream usage) while every other byte
//! reaches the upstream as the client sent it.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// One top-level member of a JSON object: its key and where its value sits in the body.
#[derive(Debug)]
pub struct TopLevelField<'a> {
    pub key: Cow<'a, str>,
    pub value: &'a RawValue,
    pub span: Range<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("We could not parse the JSON body of your request: {0}")]
    InvalidJson(String),
    #[error("The request body must be a JSON object.")]
    NotAnObject,
}

/// Parses the top level of a JSON object, validating the whole document (nested values included)
/// but keeping nested values as borrowed raw text.
pub fn top_level_fields(body: &[u8]) -> Result<Vec<TopLevelField<'_>>, BodyError> {
    struct FieldsVisitor;
    impl<'de> Visitor<'de> for FieldsVisitor {
        type Value = Vec<(Cow<'de, str>, &'de RawValue)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut fields = Vec::new();
            while let Some(entry) = map.next_entry::<Cow<'de, str>, &'de RawValue>()? {
                fields.push(entry);
            }
            Ok(fields)
        }
    }

    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let fields = deserializer.deserialize_map(FieldsVisitor).map_err(|e| {
        if e.classify() == serde_json::error::Category::Data {
            BodyError::NotAnObject
        } else {
            BodyError::InvalidJson(e.to_string())
        }
    })?;
    deserializer.end().map_err(|e| BodyError::InvalidJson(e.to_string()))?;

    // A borrowed RawValue points into `body`; its offset is the distance between the two pointers.
    let base = body.as_ptr() as usize;
    Ok(fields
        .into_iter()
        .map(|(key, value)| {
            let start = value.get().as_ptr() as usize - base;
            TopLevelField { key, value, span: start..start + value.get().len() }
        })
        .collect())
}

/// The last occurrence wins for duplicated keys, as in most JSON readers upstreams use.
pub fn field<'f, 'a>(fields: &'f [TopLevelField<'a>], key: &str) -> Option<&'f TopLevelField<'a>> {
    fields.iter().rev().find(|f| f.key == key)
}

/// What forwarding needs to know about a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardFields {
    /// `None` when absent or not a string.
    pub model: Option<String>,
    pub model_span: Option<Range<usize>>,
    pub stream: bool,
    pub client_asked_for_usage: bool,
    stream_options_span: Option<Range<usize>>,
    stream_options: Option<serde_json::Map<String, serde_json::Value>>,
}

pub fn forward_fields(body: &[u8]) -> Result<ForwardFields, BodyError> {
    Ok(forward_fields_of(&top_level_fields(body)?))
}

/// [`forward_fields`] from a body's top level already read (the log writer reads it once, for
/// the conversation and for this).
pub fn forward_fields_of(fields: &[TopLevelField<'_>]) -> ForwardFields {
    let model_field = field(fields, "model");
    let model = model_field.and_then(|f| serde_json::from_str::<String>(f.value.get()).ok());
    let stream = field(fields, "stream").is_some_and(|f| f.value.get() == "true");
    let options_field = field(fields, "stream_options");
    let stream_options = options_field
        .and_then(|f| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(f.value.get()).ok());
    let client_asked_for_usage = stream_options
        .as_ref()
        .and_then(|o| o.get("include_usage"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    ForwardFields {
        model_span: model.as_ref().and(model_field.map(|f| f.span.clone())),
        model,
        stream,
        client_asked_for_usage,
        stream_options_span: options_field.map(|f| f.span.clone()),
        stream_options,
    }
}

/// The body to send upstream: `model` replaced by `upstream_model` and, when `ask_for_usage` is set,
/// `stream_options.include_usage` turned on. Returns `None` when nothing needs to change.
pub fn rewrite(body: &[u8], fields: &ForwardFields, upstream_model: &str, ask_for_usage: bool) -> Option<Vec<u8>> {
    let edits = edits(body, fields, upstream_model, ask_for_usage);
    if edits.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() + 64);
    for piece in rewritten_pieces(body, &edits) {
        out.extend_from_slice(piece);
    }
    Some(out)
}

/// What [`rewrite`] changes: spans of the body and what replaces each, in the body's order; empty
/// when nothing needs to change.
pub fn edits(body: &[u8], fields: &ForwardFields, upstream_model: &str, ask_for_usage: bool) -> Vec<Edit> {
    let mut edits: Vec<Edit> = Vec::new();
    if let (Some(model), Some(span)) = (&fields.model, &fields.model_span) {
        if model != upstream_model {
            edits.push((span.clone(), serde_json::to_vec(upstream_model).expect("a string serialises")));
        }
    }
    if ask_for_usage {
        let mut options = fields.stream_options.clone().unwrap_or_default();
        options.insert("include_usage".into(), serde_json::Value::Bool(true));
        let options = serde_json::to_vec(&options).expect("a JSON map serialises");
        match &fields.stream_options_span {
            Some(span) => edits.push((span.clone(), options)),
            None => {
                // Insert a new member just before the object's closing brace. The object is not empty
                // (it has `stream`), so a leading comma is always right.
                let close = body.iter().rposition(|&b| b == b'}').expect("a parsed object ends with }");
                let mut member = b",\"stream_options\":".to_vec();
                member.extend_from_slice(&options);
                edits.push((close..close, member));
            }
        }
    }
    edits.sort_by_key(|(span, _)| span.start);
    edits
}

/// A span of the body and the bytes that replace it.
pub type Edit = (Range<usize>, Vec<u8>);

/// The body with `edits` applied, as the pieces it is made of, in order: the log writer hashes the
/// forwarded body from them without putting it together.
pub fn rewritten_pieces<'a>(body: &'a [u8], edits: &'a [Edit]) -> impl Iterator<Item = &'a [u8]> {
    let mut cursor = 0;
    edits
        .iter()
        .flat_map(move |(span, replacement)| {
            let before = &body[cursor..span.start];
            cursor = span.end;
            [before, replacement.as_slice()]
        })
        .chain(std::iter::once_with(move || &body[edits.last().map_or(0, |(span, _)| span.end)..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_model_value_changes() {
        let body = br#"{ "messages":[{"role":"user","content":"hi \u00e9"}], "temperature":1.0e0,
            "model" :  "gpt-4o", "x_unknown":{"b":1,"a":2}}"#;
        let fields = forward_fields(body).unwrap();
        assert_eq!(fields.model.as_deref(), Some("gpt-4o"));
        let out = rewrite(body, &fields, "claude-3-5-sonnet-20241022", false).unwrap();
        let expected = String::from_utf8_lossy(body).replace("\"gpt-4o\"", "\"claude-3-5-sonnet-20241022\"");
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn an_unmapped_model_leaves_the_body_untouched() {
        let body = br#"{"model":"claude-opus-4-1","messages":[]}"#;
        let fields = forward_fields(body).unwrap();
        assert!(rewrite(body, &fields, "claude-opus-4-1", false).is_none());
    }

    #[test]
    fn usage_is_requested_by_adding_stream_options() {
        let body = br#"{"model":"m","stream":true}  "#;
        let fields = forward_fields(body).unwrap();
        assert!(fields.stream && !fields.client_asked_for_usage);
        let out = rewrite(body, &fields, "m", true).unwrap();
        assert_eq!(out, br#"{"model":"m","stream":true,"stream_options":{"include_usage":true}}  "#);
    }

    #[test]
    fn usage_is_requested_inside_existing_stream_options() {
        let body = br#"{"stream_options":{"include_usage":false,"x":1},"model":"m","stream":true}"#;
        let fields = forward_fields(body).unwrap();
        let out = rewrite(body, &fields, "n", true).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["stream_options"], serde_json::json!({"include_usage": true, "x": 1}));
        assert_eq!(value["model"], "n");
    }

    #[test]
    fn malformed_json_and_non_objects_are_told_apart() {
        assert!(matches!(forward_fields(b"{\"model\":"), Err(BodyError::InvalidJson(_))));
        assert!(matches!(forward_fields(b"{} trailing"), Err(BodyError::InvalidJson(_))));
        assert!(matches!(forward_fields(b"[1,2]"), Err(BodyError::NotAnObject)));
        assert!(matches!(forward_fields(b"{\"a\":\"\xff\"}"), Err(BodyError::InvalidJson(_))));
    }

    #[test]
    fn a_model_that_is_not_a_string_counts_as_missing() {
        let fields = forward_fields(br#"{"model":42}"#).unwrap();
        assert_eq!(fields.model, None);
    }

    #[test]
    fn escaped_keys_are_recognised() {
        let fields = forward_fields(br#"{"mod\u0065l":"gpt-4o"}"#).unwrap();
        assert_eq!(fields.model.as_deref(), Some("gpt-4o"));
    }
}
