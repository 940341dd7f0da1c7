//! Rebuilds the client's raw request from how the proxy stores it: the body with its `messages`
//! array cut out at `messages_offset`, and each message's raw JSON in its conversation node.

pub fn reassemble(envelope: &[u8], messages_offset: Option<usize>, raw_messages: &[&[u8]]) -> Vec<u8> {
    let Some(offset) = messages_offset.filter(|o| *o <= envelope.len()) else { return envelope.to_vec() };
    let mut body = Vec::with_capacity(envelope.len() + raw_messages.iter().map(|m| m.len() + 1).sum::<usize>() + 2);
    body.extend_from_slice(&envelope[..offset]);
    body.push(b'[');
    body.extend_from_slice(&raw_messages.join(&b',')[..]);
    body.push(b']');
    body.extend_from_slice(&envelope[offset..]);
    body
}

#[cfg(test)]
mod tests {
    #[test]
    fn messages_are_put_back_at_their_offset() {
        let envelope = br#"{"model":"m","messages":,"stream":true}"#;
        let body = super::reassemble(envelope, Some(24), &[br#"{"role":"user"}"#, br#"{"role":"x"}"#]);
        assert_eq!(body, br#"{"model":"m","messages":[{"role":"user"},{"role":"x"}],"stream":true}"#);
        assert_eq!(super::reassemble(b"{}", None, &[]), b"{}");
    }
}
