//! Whatever byte boundaries a recorded stream arrives on, the relay's framing gives the client the
//! same bytes and the log the same assembled reply. Runs every recorded stream through the framer
//! split at every single position, and at many pseudo-random sets of positions.

use proxy::record::ResponseCapture;
use proxy::reply::{assemble, AssembledReply};
use proxy::sse::SseFramer;
use proxy::usage_chunk::event_for_client;

const STREAMS: [&str; 5] = [
    "openai_simple_streaming_0.sse",
    "openai_tool_streaming_0.sse",
    "openai_tool_streaming_1.sse",
    "openai_multi_tool_streaming_0.sse",
    "openai_multi_tool_streaming_1.sse",
];

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// What the client receives (with the proxy's usage additions taken out) and what the log assembles.
fn relay(pieces: &[&[u8]]) -> (Vec<u8>, AssembledReply) {
    let mut framer = SseFramer::new();
    let mut to_client = Vec::new();
    let mut logged = Vec::new();
    for piece in pieces {
        logged.extend_from_slice(piece);
        for event in framer.push(&bytes::Bytes::copy_from_slice(piece)) {
            if let Some(bytes) = event_for_client(&event) {
                to_client.extend_from_slice(&bytes);
            }
        }
    }
    to_client.extend_from_slice(framer.unfinished());
    (to_client, assemble(&ResponseCapture::Stream(logged.into())))
}

/// Cuts `bytes` at the given sorted positions.
fn cut<'a>(bytes: &'a [u8], positions: &[usize]) -> Vec<&'a [u8]> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for &position in positions {
        pieces.push(&bytes[start..position]);
        start = position;
    }
    pieces.push(&bytes[start..]);
    pieces
}

#[test]
fn every_single_split_point_gives_the_same_bytes_and_reply() {
    for name in STREAMS {
        let stream = fixture(name);
        let whole = relay(&[&stream]);
        assert!(whole.1.usage.is_some() && whole.1.finish_reason.is_some(), "{name} assembles");
        for position in 0..=stream.len() {
            assert_eq!(relay(&cut(&stream, &[position])), whole, "{name} split at {position}");
        }
    }
}

#[test]
fn many_random_splits_give_the_same_bytes_and_reply() {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for name in STREAMS {
        let stream = fixture(name);
        let whole = relay(&[&stream]);
        for _ in 0..100 {
            let cuts = (next() % 40) as usize;
            let mut positions: Vec<usize> = (0..cuts).map(|_| (next() as usize) % (stream.len() + 1)).collect();
            positions.sort_unstable();
            assert_eq!(relay(&cut(&stream, &positions)), whole, "{name} cut at {positions:?}");
        }
    }
}

#[test]
fn the_usage_additions_are_removed_from_every_recorded_stream() {
    for name in STREAMS {
        let (to_client, reply) = relay(&[&fixture(name)]);
        let text = String::from_utf8(to_client).unwrap();
        assert!(!text.contains("\"usage\""), "{name}: {text}");
        assert!(text.ends_with("data: [DONE]\n\n"));
        assert!(reply.usage.unwrap().total_tokens.unwrap() > 0, "{name}: the log keeps the usage");
    }
}
