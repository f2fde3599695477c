//! Server-sent-event framing: comments, the cursor-only frame and one frame per message.

use actix_web::web::Bytes;
use serde::Deserialize;
use std::borrow::Cow;

/// Sent every heartbeat interval while a stream is idle.
pub const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";
/// Sent when the gateway stops (the client reconnects elsewhere with its last id).
pub const SHUTTING_DOWN: &[u8] = b": shutting down\n\n";
/// Sent when the stream behind the connection failed (the client reconnects).
pub const INTERRUPTED: &[u8] = b": stream interrupted\n\n";

/// A frame with an `id:` and no data: browsers record it as the last event id without
/// dispatching an event, so a reconnect before the first event still resumes from here.
pub fn cursor_only(cursor: &str) -> Bytes {
    Bytes::from(format!(": connected\nid: {cursor}\n\n"))
}

#[derive(Deserialize)]
struct EnvelopeHead<'a> {
    #[serde(rename = "type", borrow)]
    message_type: Cow<'a, str>,
}

/// The envelope's `type` (e.g. `post.published`) if it is a plain dotted name.
pub fn event_type(payload: &[u8]) -> Option<String> {
    let head: EnvelopeHead = serde_json::from_slice(payload).ok()?;
    let name = head.message_type;
    let plain = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    plain.then(|| name.into_owned())
}

/// `id:`, `event:` and the payload as `data:` lines (a line break in the payload starts a new
/// `data:` line; clients join them back with `\n`).
pub fn event(cursor: &str, event_type: &str, payload: &str) -> Bytes {
    let mut frame = String::with_capacity(payload.len() + cursor.len() + event_type.len() + 32);
    frame.push_str("id: ");
    frame.push_str(cursor);
    frame.push_str("\nevent: ");
    frame.push_str(event_type);
    frame.push('\n');
    for line in payload.split(['\n', '\r']) {
        frame.push_str("data: ");
        frame.push_str(line);
        frame.push('\n');
    }
    frame.push('\n');
    Bytes::from(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_an_event() {
        let frame = event("POSTS:3,RENDERS:0", "post.published", r#"{"a":1}"#);
        assert_eq!(
            &frame[..],
            b"id: POSTS:3,RENDERS:0\nevent: post.published\ndata: {\"a\":1}\n\n"
        );
        let split = event("c", "t", "{\n\"a\":1}");
        assert_eq!(&split[..], b"id: c\nevent: t\ndata: {\ndata: \"a\":1}\n\n");
    }

    #[test]
    fn reads_plain_event_types_only() {
        assert_eq!(
            event_type(br#"{"id":"x","type":"post.published","data":{"k":[1]}}"#).as_deref(),
            Some("post.published")
        );
        assert_eq!(event_type(br#"{"type":"evil\nevent: x"}"#), None);
        assert_eq!(event_type(br#"{"type":""}"#), None);
        assert_eq!(event_type(b"not json"), None);
    }
}
