//! The few fields forwarding needs, read from the client's JSON body without building a document tree,
//! and the byte-level rewrite that changes `model` (and asks for stream usage) while every other byte
//! reaches the upstream as the client sent it.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::stream_chunk::{other_kinds_are_absent, skip_map};

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
    top_level_fields_and_array(body, None).map(|(fields, _)| fields)
}

/// The elements of an array member, read in the pass over the body's top level, and where the
/// array is written compactly (`[` + elements joined by `,` + `]`, no whitespace) its span.
#[derive(Debug)]
pub struct ArrayMember<'a> {
    pub elements: Vec<&'a RawValue>,
    pub compact_span: Option<Range<usize>>,
}

/// [`top_level_fields`], with the member `array_key` read as its elements in the same pass instead
/// of as a field: the log writer splits `messages`, most of a chat's body, and a second pass over
/// it was a tenth of its instructions for a record of a 1 KB chat and three tenths for an agent's
/// turn (callgrind, SHA-256 aside). `None` for the member when it is absent or not an array (the
/// last one counts when the key repeats).
pub fn top_level_fields_and_array<'a>(
    body: &'a [u8],
    array_key: Option<&str>,
) -> Result<(Vec<TopLevelField<'a>>, Option<ArrayMember<'a>>), BodyError> {
    struct FieldsVisitor<'k>(Option<&'k str>);
    impl<'de> Visitor<'de> for FieldsVisitor<'_> {
        type Value = (Vec<(Cow<'de, str>, &'de RawValue)>, Option<Vec<&'de RawValue>>);
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let (mut fields, mut array) = (Vec::new(), None);
            while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                if self.0 == Some(&*key) {
                    array = map.next_value::<Elements<'de>>()?.0;
                } else {
                    fields.push((key, map.next_value::<&'de RawValue>()?));
                }
            }
            Ok((fields, array))
        }
    }

    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let (fields, array) = deserializer.deserialize_map(FieldsVisitor(array_key)).map_err(|e| {
        if e.classify() == serde_json::error::Category::Data {
            BodyError::NotAnObject
        } else {
            BodyError::InvalidJson(e.to_string())
        }
    })?;
    deserializer.end().map_err(|e| BodyError::InvalidJson(e.to_string()))?;

    // A borrowed RawValue points into `body`; its offset is the distance between the two pointers.
    let span = |value: &RawValue| {
        let start = value.get().as_ptr() as usize - body.as_ptr() as usize;
        start..start + value.get().len()
    };
    let array = array.map(|elements| {
        let compact = elements.windows(2).all(|pair| span(pair[1]).start == span(pair[0]).end + 1);
        let compact_span = match (elements.first().map(|e| span(e)), elements.last().map(|e| span(e))) {
            (Some(first), Some(last))
                if compact
                    && first.start.checked_sub(1).and_then(|at| body.get(at)) == Some(&b'[')
                    && body.get(last.end) == Some(&b']') =>
            {
                Some(first.start - 1..last.end + 1)
            }
            // An empty array's place is not known; it stays in the body.
            _ => None,
        };
        ArrayMember { elements, compact_span }
    });
    let fields = fields.into_iter().map(|(key, value)| TopLevelField { key, value, span: span(value) }).collect();
    Ok((fields, array))
}

/// An array's elements as raw text, or `None` for any other value.
struct Elements<'a>(Option<Vec<&'a RawValue>>);

impl<'de> Deserialize<'de> for Elements<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ElementsVisitor;
        impl<'de> Visitor<'de> for ElementsVisitor {
            type Value = Elements<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut elements = Vec::new();
                while let Some(element) = seq.next_element::<&'de RawValue>()? {
                    elements.push(element);
                }
                Ok(Elements(Some(elements)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                skip_map(map).map(|()| Elements(None))
            }
            other_kinds_are_absent!(Elements(None); visit_unit(), visit_none(), visit_bool(bool), visit_i64(i64),
                visit_u64(u64), visit_f64(f64), visit_str(&str));
        }
        deserializer.deserialize_any(ElementsVisitor)
    }
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
    fn an_array_member_is_read_as_its_elements_in_the_same_pass() {
        /// The other members' keys, and the elements and the span of `messages`.
        fn member(body: &str) -> (String, Option<(String, Option<&str>)>) {
            let (fields, array) = top_level_fields_and_array(body.as_bytes(), Some("messages")).unwrap();
            let keys: Vec<String> = fields.iter().map(|f| f.key.to_string()).collect();
            let array = array.map(|a| {
                let elements: Vec<&str> = a.elements.iter().map(|e| e.get()).collect();
                (elements.join("|"), a.compact_span.map(|span| &body[span]))
            });
            (keys.join(","), array)
        }
        let body = r#"{"model":"m","messages":[{"role":"user"},"x",[1, 2]],"n":1}"#;
        assert_eq!(
            member(body),
            ("model,n".into(), Some((r#"{"role":"user"}|"x"|[1, 2]"#.into(), Some(r#"[{"role":"user"},"x",[1, 2]]"#))))
        );
        // Whitespace anywhere between the brackets, or no element, leaves no span to cut.
        for loose in
            [r#"{"messages":[ 1,2]}"#, r#"{"messages":[1, 2]}"#, r#"{"messages":[1,2 ]}"#, r#"{"messages":[]}"#]
        {
            assert_eq!(member(loose).1.unwrap().1, None, "{loose}");
        }
        assert_eq!(member(r#"{"messages" : [1,2] }"#).1.unwrap().1, Some("[1,2]"));
        // Not an array: no member, and not a field either. A repeated key: the last one.
        assert_eq!(member(r#"{"messages":{"a":[1]},"model":"m"}"#), ("model".into(), None));
        assert_eq!(member(r#"{"messages":[1],"messages":[2,3]}"#).1.unwrap().0, "2|3");
        // The whole document is still checked.
        assert!(top_level_fields_and_array(br#"{"messages":[{"a":}]}"#, Some("messages")).is_err());
        assert!(matches!(top_level_fields_and_array(b"[1]", Some("messages")), Err(BodyError::NotAnObject)));
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
