//! Stream and consumer names, and the stream definitions every service creates idempotently.
//! Plain data: the kit turns these into JetStream configuration.

use std::time::Duration;

pub const POSTS: &str = "POSTS";
pub const RENDERS: &str = "RENDERS";
pub const INSIGHTS: &str = "INSIGHTS";
pub const BILLING: &str = "BILLING";
pub const IDENTITY: &str = "IDENTITY";
pub const NOTIFY: &str = "NOTIFY";
pub const AUDIT: &str = "AUDIT";
pub const PRIVACY: &str = "PRIVACY";
pub const ADVISORIES: &str = "ADVISORIES";
pub const DLQ: &str = "DLQ";

/// Default duplicate window; the inbox table, not the window, is the consumers' guarantee.
pub const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDef {
    pub name: &'static str,
    pub subjects: &'static [&'static str],
    pub description: &'static str,
    pub allow_msg_schedules: bool,
    /// Append-only streams (AUDIT) deny delete and purge.
    pub append_only: bool,
    /// Zero means keep until limits; otherwise maximum age of a message.
    pub max_age: Duration,
}

const DAY: u64 = 24 * 3600;

pub const STREAM_DEFS: &[StreamDef] = &[
    StreamDef {
        name: POSTS,
        subjects: &["posts.>"],
        description: "post lifecycle events and held publish schedules",
        allow_msg_schedules: true,
        append_only: false,
        max_age: Duration::from_secs(30 * DAY),
    },
    StreamDef {
        name: RENDERS,
        subjects: &["renders.>"],
        description: "render requests and results",
        allow_msg_schedules: false,
        append_only: false,
        max_age: Duration::from_secs(7 * DAY),
    },
    StreamDef {
        name: INSIGHTS,
        subjects: &["insights.>"],
        description: "metric collection schedules and updates",
        allow_msg_schedules: true,
        append_only: false,
        max_age: Duration::from_secs(30 * DAY),
    },
    StreamDef {
        name: BILLING,
        subjects: &["billing.>"],
        description: "usage, quota and subscription events",
        allow_msg_schedules: false,
        append_only: false,
        max_age: Duration::from_secs(30 * DAY),
    },
    StreamDef {
        name: IDENTITY,
        subjects: &["identity.>"],
        description: "user lifecycle and erasure coordination",
        allow_msg_schedules: false,
        append_only: false,
        max_age: Duration::from_secs(30 * DAY),
    },
    StreamDef {
        name: NOTIFY,
        subjects: &["notify.>"],
        description: "notification requests and deliveries",
        allow_msg_schedules: false,
        append_only: false,
        max_age: Duration::from_secs(7 * DAY),
    },
    StreamDef {
        name: AUDIT,
        subjects: &["audit.>"],
        description: "privileged actions, append-only",
        allow_msg_schedules: false,
        append_only: true,
        max_age: Duration::ZERO,
    },
    StreamDef {
        name: PRIVACY,
        subjects: &["privacy.>"],
        description: "GDPR erasure: per-tenant erasure requests and each service's confirmation",
        allow_msg_schedules: false,
        append_only: false,
        // Long enough for a service that is down for days to erase when it is back; the
        // messages carry ids only (tenant, user, erasure), never personal content.
        max_age: Duration::from_secs(30 * DAY),
    },
    StreamDef {
        name: ADVISORIES,
        subjects: &[
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>",
            "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.>",
        ],
        description: "server advisories that start the dead-letter path",
        allow_msg_schedules: false,
        append_only: false,
        max_age: Duration::from_secs(7 * DAY),
    },
    StreamDef {
        name: DLQ,
        subjects: &["dlq.>"],
        description: "dead letters: dlq.<stream>.<consumer>",
        allow_msg_schedules: false,
        append_only: false,
        max_age: Duration::from_secs(30 * DAY),
    },
];

/// The events a tenant may watch on the gateway's event stream (`GET /v1/events`), per stream:
/// subject prefixes followed by the tenant token (`<prefix>.<tenant>.<id>`). Internal subjects
/// (held schedules, due posts, render requests, collection rounds) are deliberately absent.
pub const TENANT_EVENT_SUBJECTS: &[(&str, &[&str])] = &[
    (
        POSTS,
        &[
            "posts.scheduled",
            "posts.target.published",
            "posts.target.failed",
            "posts.published",
            "posts.cancelled",
            "posts.held",
        ],
    ),
    (RENDERS, &["renders.completed", "renders.failed"]),
];

pub fn stream_def(name: &str) -> Option<&'static StreamDef> {
    STREAM_DEFS.iter().find(|def| def.name == name)
}

/// The dead-letter subject for a message that `consumer` on `stream` gave up on.
pub fn dlq_subject(stream: &str, consumer: &str) -> String {
    format!("dlq.{stream}.{consumer}")
}

/// Headers Herald puts on stream messages (besides `Nats-Msg-Id` and trace context).
pub mod headers {
    pub const MSG_ID: &str = "Nats-Msg-Id";
    pub const TENANT: &str = "Herald-Tenant";
    pub const TYPE: &str = "Herald-Type";
    pub const TRACEPARENT: &str = "traceparent";
    pub const TRACESTATE: &str = "tracestate";
    pub const SCHEDULE: &str = "Nats-Schedule";
    pub const SCHEDULE_TARGET: &str = "Nats-Schedule-Target";
    pub const ROLLUP: &str = "Nats-Rollup";
    pub const DLQ_REASON: &str = "Herald-Dlq-Reason";
    pub const DLQ_STREAM: &str = "Herald-Dlq-Stream";
    pub const DLQ_CONSUMER: &str = "Herald-Dlq-Consumer";
    pub const DLQ_SEQUENCE: &str = "Herald-Dlq-Sequence";
    pub const DLQ_SUBJECT: &str = "Herald-Dlq-Subject";
    pub const DLQ_DELIVERIES: &str = "Herald-Dlq-Deliveries";
    /// On a dead letter a service wrote itself (through its outbox, when it gave up on a piece
    /// of work rather than on a message): the service's name. The mover's letters have none.
    pub const DLQ_ORIGIN: &str = "Herald-Dlq-Origin";
}
