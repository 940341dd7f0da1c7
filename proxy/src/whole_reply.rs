//! A whole (not streamed) chat or legacy completion read into borrowed fields instead of a
//! `serde_json::Value` tree: building the tree of every reply, only to read its first choice and
//! its usage, was ~5 % of the proxy's CPU per logged request (perf, wrk at 32 connections). The
//! usage is read in the same pass: a tree of it alone was another ~1 %.
//!
//! The fields read exactly as `reply`'s reading of the tree reads them (a property test holds the
//! two to it): a field of another JSON kind counts as absent, only the first choice counts even
//! when it is not an object, and a `message` that is there counts even when it is not an object.
//! What this does not read — an error, a Responses API `output`, a body that repeats a key — is
//! left to the tree, which [`WholeReply::parse`] answers `None` for.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::reply::UsageCounts;
use crate::stream_chunk::{other_kinds_are_absent, skip_map, skip_seq, Int, Object, Text};

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct WholeReply<'a> {
    pub usage: Object<UsageFields>,
    #[serde(borrow)]
    pub choices: First<Object<Choice<'a>>>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
    #[serde(borrow)]
    output: Option<&'a RawValue>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Choice<'a> {
    #[serde(borrow)]
    pub finish_reason: Text<'a>,
    #[serde(borrow)]
    pub message: Present<Object<Message<'a>>>,
    /// Legacy `/v1/completions` replies carry `text` instead of a message.
    #[serde(borrow)]
    pub text: Text<'a>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Message<'a> {
    #[serde(borrow)]
    pub content: Text<'a>,
    #[serde(borrow)]
    pub tool_calls: Option<&'a RawValue>,
}

/// A usage object's counts, under every naming `reply::Usage` reads.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct UsageFields {
    prompt_tokens: Int,
    input_tokens: Int,
    completion_tokens: Int,
    output_tokens: Int,
    total_tokens: Int,
    cache_read_input_tokens: Int,
    cache_creation_input_tokens: Int,
    prompt_tokens_details: Present<Object<DetailFields>>,
    input_tokens_details: Present<Object<DetailFields>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct DetailFields {
    cached_tokens: Int,
    cache_write_tokens: Int,
}

impl UsageFields {
    pub fn counts(&self) -> UsageCounts {
        let details = self.prompt_tokens_details.0.as_ref().or(self.input_tokens_details.0.as_ref());
        UsageCounts {
            prompt_tokens: self.prompt_tokens.0,
            input_tokens: self.input_tokens.0,
            completion_tokens: self.completion_tokens.0,
            output_tokens: self.output_tokens.0,
            total_tokens: self.total_tokens.0,
            cache_read_input_tokens: self.cache_read_input_tokens.0,
            cache_creation_input_tokens: self.cache_creation_input_tokens.0,
            details: details.map(|details| {
                details.0.as_ref().map_or((None, None), |d| (d.cached_tokens.0, d.cache_write_tokens.0))
            }),
        }
    }
}

impl<'a> WholeReply<'a> {
    /// The reply's fields; `None` when `body` is not a JSON object, repeats a key, or carries an
    /// error or a Responses API `output` instead of choices.
    pub fn parse(body: &'a [u8]) -> Option<Self> {
        let reply = serde_json::from_slice::<Object<WholeReply>>(body).ok()?.0?;
        let other_shape = reply.error.is_some() || (reply.choices.0.is_none() && reply.output.is_some());
        (!other_shape).then_some(reply)
    }
}

/// The first element of a JSON array (of any kind: `T` decides what it makes of it); `None` for an
/// empty array and for anything but an array.
#[derive(Debug)]
pub struct First<T>(pub Option<T>);

impl<T> Default for First<T> {
    fn default() -> Self {
        First(None)
    }
}

/// A field that is there, whatever its value, `null` included (`Option` reads `null` as absent).
#[derive(Debug)]
pub struct Present<T>(pub Option<T>);

impl<T> Default for Present<T> {
    fn default() -> Self {
        Present(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Present<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(|value| Present(Some(value)))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for First<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FirstVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for FirstVisitor<T> {
            type Value = First<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let first = seq.next_element::<T>()?;
                skip_seq(seq).map(|()| First(first))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                skip_map(map).map(|()| First(None))
            }
            other_kinds_are_absent!(First(None); visit_unit(), visit_none(), visit_bool(bool), visit_i64(i64),
                visit_u64(u64), visit_f64(f64), visit_str(&str));
        }
        deserializer.deserialize_any(FirstVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    #[test]
    fn a_chat_completion_is_read_without_copying_its_text() {
        let body = r#"{"id":"c1","choices":[{"index":0,"message":{"role":"assistant","content":"Olá",
            "tool_calls":null},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"total_tokens":6}}"#;
        let reply = WholeReply::parse(body.as_bytes()).unwrap();
        let choice = reply.choices.0.as_ref().unwrap().0.as_ref().unwrap();
        let message = choice.message.0.as_ref().unwrap().0.as_ref().unwrap();
        assert!(matches!(message.content.0, Some(Cow::Borrowed("Olá"))));
        assert!(message.tool_calls.is_none(), "null tool calls are no tool calls");
        assert_eq!(choice.finish_reason.get(), Some("stop"));
        let usage = reply.usage.0.unwrap().counts();
        assert_eq!((usage.prompt_tokens, usage.total_tokens, usage.completion_tokens), (Some(5), Some(6), None));
    }

    #[test]
    fn errors_outputs_repeated_keys_and_other_kinds_of_body_are_left_to_the_tree() {
        for body in [
            &br#"{"error":{"message":"bad key","type":"authentication_error"}}"#[..],
            br#"{"status":"completed","output":[{"type":"message","content":[{"text":"Hi"}]}]}"#,
            br#"{"choices":[],"choices":[{"text":"a"}]}"#,
            br#"[{"choices":[{"text":"a"}]}]"#,
            b"not json",
        ] {
            assert!(WholeReply::parse(body).is_none(), "{}", String::from_utf8_lossy(body));
        }
        // `null` is no error, and an embeddings list has no choices and no output.
        assert!(WholeReply::parse(br#"{"error":null,"choices":[{"text":"a"}]}"#).is_some());
        assert!(WholeReply::parse(br#"{"object":"list","data":[],"usage":{"prompt_tokens":8}}"#).is_some());
    }
}
