//! NATS connection (reconnecting forever) and idempotent creation/update of streams and
//! durable pull consumers from the contracts' definitions.

use crate::config::{NatsAuth, NatsConnect};
use crate::error::KitError;
use async_nats::jetstream::{self, consumer::pull, stream};
use herald_contracts::streams::{StreamDef, stream_def};
use std::time::Duration;

/// Options carrying the configured credentials and TLS trust (operator tools add their own
/// timeouts).
pub fn connect_options(nats: &NatsConnect) -> async_nats::ConnectOptions {
    let options = match &nats.auth {
        NatsAuth::None => async_nats::ConnectOptions::new(),
        NatsAuth::UserPassword { user, password } => async_nats::ConnectOptions::new()
            .user_and_password(user.clone(), password.expose().to_owned()),
        NatsAuth::Token(token) => {
            async_nats::ConnectOptions::new().token(token.expose().to_owned())
        }
    };
    match &nats.ca_file {
        Some(ca) => options.add_root_certificates(ca.clone()).require_tls(true),
        None => options,
    }
}

/// Connects with the configured credentials and TLS trust, retrying the first connection
/// too, so a service can start before NATS.
pub async fn connect(nats: &NatsConnect, name: &str) -> Result<async_nats::Client, KitError> {
    let name = name.to_owned();
    connect_options(nats)
        .name(&name)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(3))
        .event_callback(move |event| {
            let name = name.clone();
            async move {
                match event {
                    async_nats::Event::Connected => {
                        tracing::info!(service = %name, "nats connected")
                    }
                    async_nats::Event::Disconnected => {
                        tracing::warn!(service = %name, "nats disconnected")
                    }
                    // An authorization violation lands here: loud, since the service cannot
                    // work until its credentials are fixed.
                    async_nats::Event::ServerError(error) => {
                        tracing::warn!(service = %name, %error, "nats server error")
                    }
                    other => tracing::debug!(event = %other, "nats event"),
                }
            }
        })
        .connect(nats.url.as_str())
        .await
        .map_err(KitError::nats)
}

pub fn is_connected(client: &async_nats::Client) -> bool {
    client.connection_state() == async_nats::connection::State::Connected
}

pub fn stream_config(
    def: &StreamDef,
    replicas: usize,
    duplicate_window: Duration,
) -> stream::Config {
    let window = if def.max_age.is_zero() {
        duplicate_window
    } else {
        duplicate_window.min(def.max_age)
    };
    stream::Config {
        name: def.name.to_owned(),
        subjects: def.subjects.iter().map(|s| (*s).to_owned()).collect(),
        description: Some(def.description.to_owned()),
        storage: stream::StorageType::File,
        num_replicas: replicas.max(1),
        duplicate_window: window,
        max_age: def.max_age,
        allow_message_schedules: def.allow_msg_schedules,
        allow_rollup: def.allow_msg_schedules,
        deny_delete: def.append_only,
        deny_purge: def.append_only,
        // Per-message TTLs (`Nats-TTL`) let a message that carries a short-lived secret (an
        // emailed token) leave the stream when the secret expires. Never on append-only
        // streams: an audit event must not be able to expire.
        allow_message_ttl: !def.append_only,
        allow_direct: true,
        ..Default::default()
    }
}

/// Creates each named stream or updates it to the definition.
pub async fn ensure_streams(
    js: &jetstream::Context,
    names: &[&str],
    replicas: usize,
    duplicate_window: Duration,
) -> Result<(), KitError> {
    for name in names {
        let def = stream_def(name)
            .ok_or_else(|| KitError::Other(format!("no stream definition named {name}")))?;
        js.create_or_update_stream(stream_config(def, replicas, duplicate_window))
            .await
            .map_err(|error| KitError::Nats(format!("stream {name}: {error}")))?;
    }
    Ok(())
}

/// A durable pull consumer: `<service>-<purpose>` on one stream.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    pub stream: &'static str,
    pub durable: String,
    pub filter_subjects: Vec<String>,
    /// Deliveries before the message is terminated and dead-lettered.
    pub max_deliver: i64,
    /// Redelivery delays after a missing ack (replaces `ack_wait`); also used for naks.
    pub backoff: Vec<Duration>,
    pub max_ack_pending: i64,
    /// Handlers running at once in this process.
    pub concurrency: usize,
    /// How long the server waits for an ack (or progress) before redelivering.
    pub ack_wait: Duration,
}

impl ConsumerSpec {
    pub fn new(
        stream: &'static str,
        durable: impl Into<String>,
        filter: impl Into<String>,
    ) -> Self {
        Self {
            stream,
            durable: durable.into(),
            filter_subjects: vec![filter.into()],
            max_deliver: 6,
            backoff: [1, 5, 15, 30, 60]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            max_ack_pending: 1000,
            concurrency: 64,
            ack_wait: Duration::from_secs(30),
        }
    }

    /// The delay before redelivery number `delivered + 1`.
    pub fn nak_delay(&self, delivered: i64) -> Duration {
        let index = usize::try_from(delivered.saturating_sub(1)).unwrap_or(0);
        self.backoff
            .get(index)
            .or(self.backoff.last())
            .copied()
            .unwrap_or(Duration::from_secs(5))
    }

    pub fn config(&self) -> pull::Config {
        pull::Config {
            durable_name: Some(self.durable.clone()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ack_wait: self.ack_wait,
            max_deliver: self.max_deliver.max(self.backoff.len() as i64 + 1),
            filter_subjects: self.filter_subjects.clone(),
            max_ack_pending: self.max_ack_pending,
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ..Default::default()
        }
    }
}

/// Creates the durable consumer or updates it to `spec`.
pub async fn ensure_consumer(
    js: &jetstream::Context,
    spec: &ConsumerSpec,
) -> Result<jetstream::consumer::Consumer<pull::Config>, KitError> {
    let stream = js
        .get_stream(spec.stream)
        .await
        .map_err(|error| KitError::Nats(format!("stream {}: {error}", spec.stream)))?;
    stream
        .create_consumer(spec.config())
        .await
        .map_err(|error| KitError::Nats(format!("consumer {}: {error}", spec.durable)))
}
