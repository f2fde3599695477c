//! W3C trace context (`traceparent`), carried in NATS headers across every hop. async-nats has
//! no OpenTelemetry integration, so the kit injects and extracts it itself; the current context
//! is task-local so every outgoing message of a handler carries its trace.

use async_nats::HeaderMap;
use herald_contracts::streams::headers;
use rand::RngCore;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex characters.
    pub trace_id: String,
    /// 16 lowercase hex characters: the span that sent the message.
    pub span_id: String,
    pub sampled: bool,
    pub tracestate: Option<String>,
}

tokio::task_local! {
    static CURRENT: TraceContext;
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

impl TraceContext {
    /// A new trace.
    pub fn root() -> Self {
        Self {
            trace_id: random_hex(16),
            span_id: random_hex(8),
            sampled: true,
            tracestate: None,
        }
    }

    /// A child span in the same trace.
    pub fn child(&self) -> Self {
        Self {
            trace_id: self.trace_id.clone(),
            span_id: random_hex(8),
            sampled: self.sampled,
            tracestate: self.tracestate.clone(),
        }
    }

    /// Parses `00-<trace-id>-<parent-id>-<flags>`; `None` if malformed (then start a new trace).
    pub fn parse(traceparent: &str, tracestate: Option<&str>) -> Option<Self> {
        let mut parts = traceparent.trim().split('-');
        let (version, trace_id, span_id, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let hex_of = |s: &str, len: usize| {
            s.len() == len
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        if version != "00" || !hex_of(trace_id, 32) || !hex_of(span_id, 16) || !hex_of(flags, 2) {
            return None;
        }
        if trace_id.bytes().all(|b| b == b'0') || span_id.bytes().all(|b| b == b'0') {
            return None;
        }
        let flags = u8::from_str_radix(flags, 16).ok()?;
        Some(Self {
            trace_id: trace_id.to_owned(),
            span_id: span_id.to_owned(),
            sampled: flags & 1 == 1,
            tracestate: tracestate.map(str::to_owned),
        })
    }

    pub fn traceparent(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            self.trace_id,
            self.span_id,
            u8::from(self.sampled)
        )
    }

    /// Extracts the context from message headers, continuing it as a child span.
    pub fn from_headers(headers: Option<&HeaderMap>) -> Self {
        headers
            .and_then(|h| {
                let parent = h.get(headers::TRACEPARENT)?;
                Self::parse(
                    parent.as_str(),
                    h.get(headers::TRACESTATE).map(|v| v.as_str()),
                )
            })
            .map(|ctx| ctx.child())
            .unwrap_or_else(Self::root)
    }

    pub fn inject(&self, headers: &mut HeaderMap) {
        headers.insert(headers::TRACEPARENT, self.traceparent().as_str());
        if let Some(state) = &self.tracestate {
            headers.insert(headers::TRACESTATE, state.as_str());
        }
    }

    /// Header pairs for storing with an outbox row.
    pub fn header_pairs(&self) -> Vec<(String, String)> {
        let mut pairs = vec![(headers::TRACEPARENT.to_owned(), self.traceparent())];
        if let Some(state) = &self.tracestate {
            pairs.push((headers::TRACESTATE.to_owned(), state.clone()));
        }
        pairs
    }

    /// The context of the running handler or request, or a new trace outside one.
    pub fn current() -> Self {
        CURRENT
            .try_with(|ctx| ctx.clone())
            .unwrap_or_else(|_| Self::root())
    }

    /// Runs `future` with this as the current context.
    pub async fn scope<F: std::future::Future>(self, future: F) -> F::Output {
        CURRENT.scope(self, future).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_malformed() {
        let ctx = TraceContext::root();
        let parsed = TraceContext::parse(&ctx.traceparent(), None).expect("valid");
        assert_eq!(parsed.trace_id, ctx.trace_id);
        assert_eq!(parsed.span_id, ctx.span_id);
        for bad in [
            "",
            "00-abc-def-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        ] {
            assert!(TraceContext::parse(bad, None).is_none(), "{bad}");
        }
    }

    #[test]
    fn child_keeps_trace_and_changes_span() {
        let ctx = TraceContext::root();
        let child = ctx.child();
        assert_eq!(child.trace_id, ctx.trace_id);
        assert_ne!(child.span_id, ctx.span_id);
    }
}
