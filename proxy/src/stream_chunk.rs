//! One streamed chunk (`data:` of an SSE event) read into borrowed fields instead of a
//! `serde_json::Value` tree: a 50-event stream built ~50 trees of maps and strings only to read a
//! few of them, a third of the log writer's work on a streamed call (`bench record-cost`).
//!
//! The fields are read as leniently as `Value`'s accessors read them: a field of another JSON kind
//! than expected (a number where text belongs, `null`, an object where a list belongs) counts as
//! absent instead of making the whole chunk unreadable. Only chunks that are not JSON at all, or
//! that repeat a key, are left out.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct StreamChunk<'a> {
    #[serde(borrow)]
    pub error: Option<&'a RawValue>,
    #[serde(rename = "type", borrow)]
    pub kind: Text<'a>,
    #[serde(borrow)]
    pub response: Option<&'a RawValue>,
    #[serde(borrow)]
    pub id: Option<&'a RawValue>,
    #[serde(borrow)]
    pub created: Option<&'a RawValue>,
    #[serde(borrow)]
    pub model: Option<&'a RawValue>,
    #[serde(borrow)]
    pub system_fingerprint: Option<&'a RawValue>,
    #[serde(borrow)]
    pub service_tier: Option<&'a RawValue>,
    #[serde(borrow)]
    pub usage: Option<&'a RawValue>,
    #[serde(borrow)]
    pub choices: List<ChoiceDelta<'a>>,
}

impl<'a> StreamChunk<'a> {
    pub fn parse(data: &'a str) -> Option<Self> {
        serde_json::from_str(data).ok()
    }

    /// The header fields a whole response repeats, by name, when present and not `null`.
    pub fn header(&self) -> [(&'static str, Option<&'a RawValue>); 5] {
        [
            ("id", self.id),
            ("created", self.created),
            ("model", self.model),
            ("system_fingerprint", self.system_fingerprint),
            ("service_tier", self.service_tier),
        ]
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ChoiceDelta<'a> {
    pub index: Int,
    #[serde(borrow)]
    pub finish_reason: Text<'a>,
    /// Legacy `/v1/completions` chunks carry `text` instead of a delta.
    #[serde(borrow)]
    pub text: Text<'a>,
    #[serde(borrow)]
    pub delta: Object<Delta<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Delta<'a> {
    #[serde(borrow)]
    pub role: Text<'a>,
    #[serde(borrow)]
    pub content: Text<'a>,
    #[serde(borrow)]
    pub refusal: Text<'a>,
    #[serde(borrow)]
    pub reasoning_content: Text<'a>,
    #[serde(borrow)]
    pub reasoning: Text<'a>,
    #[serde(borrow)]
    pub tool_calls: List<ToolCallDelta<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ToolCallDelta<'a> {
    pub index: Int,
    #[serde(borrow)]
    pub id: Text<'a>,
    #[serde(rename = "type", borrow)]
    pub kind: Text<'a>,
    #[serde(borrow)]
    pub function: Object<FunctionDelta<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct FunctionDelta<'a> {
    #[serde(borrow)]
    pub name: Text<'a>,
    #[serde(borrow)]
    pub arguments: Text<'a>,
}

/// A JSON string (borrowed unless it had escapes), or `None` for any other value.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Text<'a>(pub Option<Cow<'a, str>>);

impl Text<'_> {
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// A JSON integer that fits an `i64`, or `None` for any other value (as `Value::as_i64`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Int(pub Option<i64>);

/// A JSON object read as `T`, or `None` for any other value.
#[derive(Debug)]
pub struct Object<T>(pub Option<T>);

impl<T> Default for Object<T> {
    fn default() -> Self {
        Object(None)
    }
}

/// The objects of a JSON array, read as `T`: other elements are skipped, and anything but an
/// array reads as empty.
#[derive(Debug)]
pub struct List<T>(pub Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(Vec::new())
    }
}

/// Skips whatever a map or a sequence holds, for the values a lenient field does not want.
pub(crate) fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

pub(crate) fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// The visitor methods for the JSON kinds a lenient field does not want: each gives `$none`.
macro_rules! other_kinds_are_absent {
    ($none:expr; $($method:ident($($arg:ty)?)),*) => {
        $(fn $method<E: serde::de::Error>(self $(, _: $arg)?) -> Result<Self::Value, E> { Ok($none) })*
    };
}
pub(crate) use other_kinds_are_absent;

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Borrowed(text))))
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(text.to_owned()))))
            }
            fn visit_string<E: serde::de::Error>(self, text: String) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(text))))
            }
            other_kinds_are_absent!(Text(None); visit_unit(), visit_none(), visit_bool(bool), visit_i64(i64),
                visit_u64(u64), visit_f64(f64));
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                skip_map(map).map(|()| Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                skip_seq(seq).map(|()| Text(None))
            }
        }
        deserializer.deserialize_any(TextVisitor(PhantomData))
    }
}

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IntVisitor;
        impl<'de> Visitor<'de> for IntVisitor {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Self::Value, E> {
                Ok(Int(Some(n)))
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Self::Value, E> {
                Ok(Int(i64::try_from(n).ok()))
            }
            other_kinds_are_absent!(Int(None); visit_unit(), visit_none(), visit_bool(bool), visit_f64(f64),
                visit_str(&str));
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                skip_map(map).map(|()| Int(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                skip_seq(seq).map(|()| Int(None))
            }
        }
        deserializer.deserialize_any(IntVisitor)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(|value| Object(Some(value)))
            }
            other_kinds_are_absent!(Object(None); visit_unit(), visit_none(), visit_bool(bool), visit_i64(i64),
                visit_u64(u64), visit_f64(f64), visit_str(&str));
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                skip_seq(seq).map(|()| Object(None))
            }
        }
        deserializer.deserialize_any(ObjectVisitor(PhantomData))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                // Straight into one vector: a chunk's list is read ~50 times per stream.
                let mut objects = Vec::new();
                while let Some(object) = seq.next_element::<Object<T>>()? {
                    objects.extend(object.0);
                }
                Ok(List(objects))
            }
            other_kinds_are_absent!(List(Vec::new()); visit_unit(), visit_none(), visit_bool(bool),
                visit_i64(i64), visit_u64(u64), visit_f64(f64), visit_str(&str));
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                skip_map(map).map(|()| List(Vec::new()))
            }
        }
        deserializer.deserialize_any(ListVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_content_delta_is_read_without_copying_its_text() {
        let data = r#"{"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"Olá"},"finish_reason":null}]}"#;
        let chunk = StreamChunk::parse(data).unwrap();
        let choice = &chunk.choices.0[0];
        let content = choice.delta.0.as_ref().unwrap().content.0.as_ref().unwrap();
        assert!(matches!(content, Cow::Borrowed("Olá")));
        assert_eq!(choice.index, Int(Some(0)));
        assert_eq!(choice.finish_reason, Text(None));
        assert_eq!(chunk.id.unwrap().get(), r#""c1""#);
    }

    #[test]
    fn escaped_text_is_unescaped() {
        let chunk = StreamChunk::parse(r#"{"choices":[{"delta":{"content":"a\"b\n"}}]}"#).unwrap();
        assert_eq!(chunk.choices.0[0].delta.0.as_ref().unwrap().content.get(), Some("a\"b\n"));
    }

    #[test]
    fn fields_of_another_kind_count_as_absent() {
        let data = r#"{"type":7,"choices":[null,{"index":"0","text":{"a":[1]},"finish_reason":["x"],
            "delta":{"role":null,"content":[{"type":"text"}],"tool_calls":{"index":0}}},
            {"index":1.5,"delta":"plain","finish_reason":"stop"}],"usage":null}"#;
        let chunk = StreamChunk::parse(data).unwrap();
        assert_eq!(chunk.kind, Text(None));
        assert!(chunk.usage.is_none());
        // The `null` element is skipped; the two objects are kept.
        assert_eq!(chunk.choices.0.len(), 2);
        let first = &chunk.choices.0[0];
        assert_eq!((first.index, first.text.get(), first.finish_reason.get()), (Int(None), None, None));
        let delta = first.delta.0.as_ref().unwrap();
        assert_eq!((delta.role.get(), delta.content.get(), delta.tool_calls.0.len()), (None, None, 0));
        let second = &chunk.choices.0[1];
        assert_eq!(
            (second.index, second.delta.0.is_none(), second.finish_reason.get()),
            (Int(None), true, Some("stop"))
        );
    }

    #[test]
    fn choices_that_are_not_a_list_read_as_none() {
        assert!(StreamChunk::parse(r#"{"choices":{"index":0}}"#).unwrap().choices.0.is_empty());
        assert!(StreamChunk::parse(r#"{"choices":"none"}"#).unwrap().choices.0.is_empty());
        assert!(StreamChunk::parse("not json").is_none());
    }
}
