//! The tenant event stream behind `GET /v1/events`: one JetStream ordered (ephemeral, unacked,
//! memory-backed) consumer per stream in `TENANT_EVENT_SUBJECTS`, filtered by subject to the
//! caller's tenant, merged into server-sent events. Nothing is buffered here beyond the
//! messages in flight: where a client is lives in its cursor (`cursor.rs`), not in this process.

pub mod cursor;
pub mod frame;

use actix_web::web::Bytes;
use cursor::{Cursor, Resume};
use futures::stream::{self, SelectAll, Stream, StreamExt};
use herald_contracts::TenantId;
use herald_contracts::streams::TENANT_EVENT_SUBJECTS;
use herald_kit::async_nats::jetstream::{
    self,
    consumer::{DeliverPolicy, pull::OrderedConfig},
};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// Gauge: event streams this replica holds open.
pub const OPEN_STREAMS_GAUGE: &str = "herald_sse_streams_open";
/// Ephemeral consumer names start with this, so operators can tell them apart.
pub const CONSUMER_PREFIX: &str = "gateway-sse-";

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("the gateway is shutting down")]
    ShuttingDown,
    #[error("stream {stream}: {message}")]
    Nats {
        stream: &'static str,
        message: String,
    },
}

/// Opens event streams; shared by every HTTP worker of a replica.
pub struct EventFeeds {
    js: jetstream::Context,
    heartbeat: Duration,
    max_streams: usize,
    open: Arc<AtomicUsize>,
    /// The service's intake token: cancelled on SIGTERM, which ends every open stream.
    shutdown: CancellationToken,
    /// The main runtime, where consumers are deleted after a stream ends (an HTTP worker's
    /// runtime may already be stopping then).
    runtime: tokio::runtime::Handle,
}

/// One of the replica's open-stream places, given back on drop.
pub struct Slot {
    open: Arc<AtomicUsize>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let now = self.open.fetch_sub(1, Ordering::SeqCst).saturating_sub(1);
        metrics::gauge!(OPEN_STREAMS_GAUGE).set(now as f64);
    }
}

type Sourced = (
    &'static str,
    Result<jetstream::Message, jetstream::consumer::pull::OrderedError>,
);

impl EventFeeds {
    /// Call from the main runtime (its handle is kept for clean-up).
    pub fn new(
        js: jetstream::Context,
        heartbeat: Duration,
        max_streams: usize,
        shutdown: CancellationToken,
    ) -> Self {
        metrics::gauge!(OPEN_STREAMS_GAUGE).set(0.0);
        Self {
            js,
            heartbeat,
            max_streams,
            open: Arc::default(),
            shutdown,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// A place for one more stream, unless the replica holds its maximum already.
    pub fn try_acquire(&self) -> Option<Slot> {
        let max = self.max_streams;
        let taken = self
            .open
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |open| {
                (open < max).then_some(open + 1)
            })
            .ok()?;
        metrics::gauge!(OPEN_STREAMS_GAUGE).set((taken + 1) as f64);
        Some(Slot {
            open: self.open.clone(),
        })
    }

    /// Starts `tenant`'s stream after `resume` (or at new events), holding `slot` until it ends.
    pub async fn open(
        &self,
        tenant: TenantId,
        resume: Option<&Resume>,
        slot: Slot,
    ) -> Result<impl Stream<Item = Result<Bytes, Infallible>> + 'static, FeedError> {
        if self.shutdown.is_cancelled() {
            return Err(FeedError::ShuttingDown);
        }
        let mut consumers = Consumers {
            js: self.js.clone(),
            runtime: self.runtime.clone(),
            names: Vec::new(),
        };
        let mut cursor = Cursor::new();
        let mut sources: SelectAll<Pin<Box<dyn Stream<Item = Sourced>>>> = SelectAll::new();
        let mut tenant_prefixes = Vec::new();
        for (stream, prefixes) in TENANT_EVENT_SUBJECTS {
            let stream: &'static str = stream;
            let nats = |error: &dyn std::fmt::Display| FeedError::Nats {
                stream,
                message: error.to_string(),
            };
            let after = match resume.and_then(|resume| resume.get(stream)) {
                Some(seq) => seq,
                // No cursor: start after the stream's current last message (new events only),
                // and let the cursor say so, so a reconnect loses nothing published meanwhile.
                None => {
                    let info = self.js.get_stream(stream).await.map_err(|e| nats(&e))?;
                    info.cached_info().state.last_sequence
                }
            };
            cursor.set(stream, after);
            // The tenant is a subject token, taken only from the verified identity.
            tenant_prefixes.extend(prefixes.iter().map(|p| format!("{p}.{tenant}.")));
            let name = format!("{CONSUMER_PREFIX}{}", uuid::Uuid::new_v4().simple());
            let config = OrderedConfig {
                name: Some(name.clone()),
                description: Some(format!("gateway event stream (SSE) for tenant {tenant}")),
                filter_subjects: prefixes.iter().map(|p| format!("{p}.{tenant}.>")).collect(),
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: after.saturating_add(1),
                },
                ..Default::default()
            };
            // Tracked before it exists, so a failure half-way still deletes what was created.
            consumers.names.push((stream, name));
            let consumer = self
                .js
                .create_consumer_on_stream(config, stream)
                .await
                .map_err(|e| nats(&e))?;
            let messages = consumer.messages().await.map_err(|e| nats(&e))?;
            sources.push(Box::pin(messages.map(move |message| (stream, message))));
        }
        let mut heartbeat =
            tokio::time::interval_at(Instant::now() + self.heartbeat, self.heartbeat);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let live = Live {
            sources,
            pending: Some(frame::cursor_only(&cursor.to_string())),
            cursor,
            tenant_prefixes,
            heartbeat,
            shutdown: self.shutdown.clone(),
            consumers,
            finished: false,
            _slot: slot,
        };
        Ok(stream::unfold(live, |mut live| async move {
            let next = live.next_frame().await?;
            Some((Ok(next), live))
        }))
    }
}

/// One open stream: its consumers, where it stands, and its place in the replica's limit.
struct Live {
    sources: SelectAll<Pin<Box<dyn Stream<Item = Sourced>>>>,
    cursor: Cursor,
    /// `<prefix>.<tenant>.` for every watched subject: a second check on what is sent.
    tenant_prefixes: Vec<String>,
    heartbeat: Interval,
    shutdown: CancellationToken,
    consumers: Consumers,
    pending: Option<Bytes>,
    finished: bool,
    _slot: Slot,
}

impl Live {
    /// The next bytes to send, or `None` when the stream is over.
    async fn next_frame(&mut self) -> Option<Bytes> {
        if let Some(pending) = self.pending.take() {
            return Some(pending);
        }
        if self.finished {
            return None;
        }
        loop {
            tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => {
                    self.finished = true;
                    return Some(Bytes::from_static(frame::SHUTTING_DOWN));
                }
                _ = self.heartbeat.tick() => return Some(Bytes::from_static(frame::KEEP_ALIVE)),
                next = self.sources.next() => match next {
                    Some((stream, Ok(message))) => {
                        if let Some(frame) = self.frame(stream, &message) {
                            self.heartbeat.reset();
                            return Some(frame);
                        }
                    }
                    Some((stream, Err(error))) => {
                        // The client reconnects with its last id and loses nothing.
                        tracing::warn!(stream, error = %error, "event stream consumer failed");
                        self.finished = true;
                        return Some(Bytes::from_static(frame::INTERRUPTED));
                    }
                    None => return None,
                },
            }
        }
    }

    /// The event frame for `message`, or `None` for one the client must not or need not see.
    fn frame(&mut self, stream: &'static str, message: &jetstream::Message) -> Option<Bytes> {
        let info = message.info().ok()?;
        // A recreated ordered consumer that had not delivered anything yet restarts at the
        // stream's beginning; what the cursor already covers is never sent twice.
        if info.stream_sequence <= self.cursor.get(stream) {
            return None;
        }
        self.consumers.saw(stream, info.consumer);
        self.cursor.set(stream, info.stream_sequence);
        let subject = message.subject.as_str();
        if !self
            .tenant_prefixes
            .iter()
            .any(|prefix| subject.starts_with(prefix.as_str()))
        {
            tracing::error!(
                stream,
                subject,
                "event outside the tenant's filter; not sent"
            );
            return None;
        }
        let Some((payload, event_type)) = std::str::from_utf8(&message.payload)
            .ok()
            .and_then(|payload| Some((payload, frame::event_type(payload.as_bytes())?)))
        else {
            tracing::warn!(
                stream,
                seq = info.stream_sequence,
                "not an envelope; not sent"
            );
            return None;
        };
        Some(frame::event(&self.cursor.to_string(), &event_type, payload))
    }
}

/// The stream's ephemeral consumers, deleted when it ends. The server would remove them after
/// their inactivity threshold anyway; deleting at once keeps the consumer count honest.
struct Consumers {
    js: jetstream::Context,
    runtime: tokio::runtime::Handle,
    names: Vec<(&'static str, String)>,
}

impl Consumers {
    /// An ordered consumer is recreated (as `<name>_<n>`) after a gap; follow its current name.
    fn saw(&mut self, stream: &str, consumer: &str) {
        if let Some(entry) = self.names.iter_mut().find(|(name, _)| *name == stream)
            && entry.1 != consumer
        {
            entry.1 = consumer.to_owned();
        }
    }
}

impl Drop for Consumers {
    fn drop(&mut self) {
        let js = self.js.clone();
        let names = std::mem::take(&mut self.names);
        self.runtime.spawn(async move {
            for (stream, name) in names {
                if let Err(error) = js.delete_consumer_from_stream(&name, stream).await {
                    tracing::debug!(stream, consumer = %name, error = %error, "consumer not deleted; it expires");
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_contracts::messages::posts::{due_subject, schedule_subject};
    use herald_contracts::messages::{PostCancelled, PostPublished, RenderFailed};
    use herald_contracts::streams::stream_def;
    use herald_contracts::{Message, PostId, RenderId};

    fn watched(subject: &str, tenant: TenantId) -> bool {
        TENANT_EVENT_SUBJECTS
            .iter()
            .flat_map(|(_, prefixes)| prefixes.iter())
            .any(|prefix| subject.starts_with(&format!("{prefix}.{tenant}.")))
    }

    #[test]
    fn public_events_are_watched_and_internal_subjects_are_not() {
        let tenant = TenantId::new();
        let post_id = PostId::new();
        let published = PostPublished {
            post_id,
            targets: vec![],
            partial: false,
        };
        let cancelled = PostCancelled {
            post_id,
            generation: 1,
            published_targets: 0,
        };
        let failed = RenderFailed {
            render_id: RenderId::new(),
            reason: "x".into(),
        };
        assert!(watched(&published.subject(tenant), tenant));
        assert!(watched(&cancelled.subject(tenant), tenant));
        assert!(watched(&failed.subject(tenant), tenant));
        assert!(!watched(&published.subject(TenantId::new()), tenant));
        assert!(!watched(&due_subject(tenant, post_id), tenant));
        assert!(!watched(&schedule_subject(tenant, post_id), tenant));
    }

    #[test]
    fn every_watched_subject_lives_in_its_stream() {
        for (stream, prefixes) in TENANT_EVENT_SUBJECTS {
            let def = stream_def(stream).unwrap();
            for prefix in *prefixes {
                assert!(
                    def.subjects
                        .iter()
                        .any(|s| prefix.starts_with(s.trim_end_matches('>'))),
                    "{prefix} is not in {stream}"
                );
            }
        }
    }
}
