//! The bodies the mock upstream answers with, shaped field for field like the replies recorded from
//! api.openai.com in `../shared/data/wire/TestOpenAICommon_openai-gpt-4o-mini` (ids, fingerprints,
//! `obfuscation` padding, the usage chunk with its details), so that the proxies parse and log what
//! a real upstream sends. Kept in the code so that a checkout without `../shared` can run the harness.

use bytes::Bytes;

const ID: &str = "chatcmpl-DuLdOuviL2tiVxMim6HmX4YMnCorK";

fn chunk(model: &str, delta: &str, finish: &str, usage: &str, choices: bool) -> String {
    let choices = if choices {
        format!(r#"[{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":{finish}}}]"#)
    } else {
        "[]".to_string()
    };
    format!(
        "data: {{\"id\":\"{ID}\",\"object\":\"chat.completion.chunk\",\"created\":1782321902,\"model\":\"{model}\",\
         \"service_tier\":\"default\",\"system_fingerprint\":\"fp_bbc23ca3d7\",\"choices\":{choices},\
         \"usage\":{usage},\"obfuscation\":\"TuWnytCa\"}}\n\n"
    )
}

fn usage(completion_tokens: usize) -> String {
    format!(
        r#"{{"prompt_tokens":20,"completion_tokens":{completion_tokens},"total_tokens":{},"prompt_tokens_details":{{"cached_tokens":0,"audio_tokens":0}},"completion_tokens_details":{{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}}"#,
        20 + completion_tokens
    )
}

/// The events of a streamed reply with `words` content deltas: the role delta, the words, the finish
/// delta, the usage chunk when asked for, and `[DONE]` — each one SSE event.
pub fn stream_events(model: &str, words: usize, include_usage: bool) -> Vec<Bytes> {
    let mut events = Vec::with_capacity(words + 4);
    events.push(chunk(model, r#"{"role":"assistant","content":"","refusal":null}"#, "null", "null", true));
    for n in 0..words {
        let word = ["Olá", " from", " the", " mock", " upstream", ","][n % 6];
        events.push(chunk(model, &format!(r#"{{"content":"{word}"}}"#), "null", "null", true));
    }
    events.push(chunk(model, "{}", "\"stop\"", "null", true));
    if include_usage {
        events.push(chunk(model, "{}", "null", &usage(words), false));
    }
    events.push("data: [DONE]\n\n".to_string());
    events.into_iter().map(Bytes::from).collect()
}

/// A whole (non-streamed) chat completion.
pub fn completion(model: &str) -> Bytes {
    Bytes::from(format!(
        r#"{{"id":"{ID}","object":"chat.completion","created":1782321901,"model":"{model}","choices":[{{"index":0,"message":{{"role":"assistant","content":"Olá! Como posso ajudar você hoje?","refusal":null,"annotations":[]}},"logprobs":null,"finish_reason":"stop"}}],"usage":{},"service_tier":"default","system_fingerprint":"fp_bbc23ca3d7"}}"#,
        usage(9)
    ))
}
