//! The audit log's store: every event on the `AUDIT` stream, from every service, written once
//! into `audit_events` (the consumer's inbox and the event id make redeliveries harmless), and
//! read back per tenant, newest first, with a cursor.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::messages::audit::{Actor, AuditEvent, Outcome, Target};
use herald_contracts::rpc::audit::AuditEntry;
use herald_contracts::{Envelope, TenantId, UserId};
use herald_kit::futures::future::BoxFuture;
use herald_kit::{Delivery, HandlerError, Outgoing, TxHandler};

/// The durable consumer that stores the stream.
pub const CONSUMER: &str = "auth-audit";

diesel::table! {
    audit_events (event_id) {
        event_id -> Uuid,
        tenant_id -> Uuid,
        action -> Text,
        actor_type -> Text,
        actor_id -> Text,
        target_type -> Nullable<Text>,
        target_id -> Nullable<Text>,
        outcome -> Text,
        client_ip -> Nullable<Text>,
        request_id -> Text,
        reason -> Nullable<Text>,
        occurred_at -> Timestamptz,
        recorded_at -> Timestamptz,
    }
}

/// Stores each event in its tenant (the kit runs this in the tenant's transaction).
pub struct StoreAuditEvent;

impl TxHandler<AuditEvent> for StoreAuditEvent {
    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        message: &'a Envelope<AuditEvent>,
        _delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<Vec<Outgoing>, HandlerError>> {
        Box::pin(async move {
            insert(conn, message.tenant_id, &message.data).await?;
            tracing::debug!(audit.action = %message.data.action, "audit event stored");
            Ok(Vec::new())
        })
    }
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    event: &AuditEvent,
) -> QueryResult<usize> {
    diesel::insert_into(audit_events::table)
        .values((
            audit_events::event_id.eq(event.event_id),
            audit_events::tenant_id.eq(tenant.as_uuid()),
            audit_events::action.eq(&event.action),
            audit_events::actor_type.eq(event.actor.kind()),
            audit_events::actor_id.eq(event.actor.id()),
            audit_events::target_type.eq(event.target.as_ref().map(|t| t.kind.as_str())),
            audit_events::target_id.eq(event.target.as_ref().map(|t| t.id.as_str())),
            audit_events::outcome.eq(event.outcome.as_str()),
            audit_events::client_ip.eq(event.client_ip.as_deref()),
            audit_events::request_id.eq(&event.request_id),
            audit_events::reason.eq(event.reason.as_deref()),
            audit_events::occurred_at.eq(event.occurred_at),
        ))
        .on_conflict(audit_events::event_id)
        .do_nothing()
        .execute(conn)
        .await
}

/// A position in a tenant's log: the last event of a page, as `<micros>.<event id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub occurred_at: DateTime<Utc>,
    pub event_id: uuid::Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}.{}", self.occurred_at.timestamp_micros(), self.event_id)
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let (micros, id) = raw.split_once('.')?;
        Some(Self {
            occurred_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            event_id: uuid::Uuid::parse_str(id).ok()?,
        })
    }
}

/// The filters of one page.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub action: Option<String>,
    pub actor: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub after: Option<Cursor>,
    pub limit: i64,
}

type Row = (
    uuid::Uuid,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    String,
    Option<String>,
    DateTime<Utc>,
);

/// Up to `query.limit` events of `tenant`, newest first, older than the cursor.
pub async fn list(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    query: &Query,
) -> QueryResult<Vec<AuditEntry>> {
    use audit_events::dsl as a;
    let mut select = a::audit_events
        .filter(a::tenant_id.eq(tenant.as_uuid()))
        .select((
            a::event_id,
            a::action,
            a::actor_type,
            a::actor_id,
            a::target_type,
            a::target_id,
            a::outcome,
            a::client_ip,
            a::request_id,
            a::reason,
            a::occurred_at,
        ))
        .order((a::occurred_at.desc(), a::event_id.desc()))
        .limit(query.limit)
        .into_boxed();
    if let Some(action) = &query.action {
        select = select.filter(a::action.eq(action.clone()));
    }
    if let Some(actor) = &query.actor {
        select = select.filter(a::actor_id.eq(actor.clone()));
    }
    if let Some(since) = query.since {
        select = select.filter(a::occurred_at.ge(since));
    }
    if let Some(until) = query.until {
        select = select.filter(a::occurred_at.lt(until));
    }
    if let Some(cursor) = query.after {
        select = select.filter(
            a::occurred_at.lt(cursor.occurred_at).or(a::occurred_at
                .eq(cursor.occurred_at)
                .and(a::event_id.lt(cursor.event_id))),
        );
    }
    let rows: Vec<Row> = select.load(conn).await?;
    rows.into_iter().map(entry).collect()
}

fn entry(row: Row) -> QueryResult<AuditEntry> {
    let (event_id, action, actor_type, actor_id, target_type, target_id, outcome, client_ip) =
        (row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7);
    let corrupt = |what: String| diesel::result::Error::DeserializationError(what.into());
    let actor = match actor_type.as_str() {
        "user" => Actor::User {
            id: UserId::parse(&actor_id).map_err(|e| corrupt(e.to_string()))?,
        },
        "api_key" => Actor::ApiKey { id: actor_id },
        "system" => Actor::System { service: actor_id },
        other => return Err(corrupt(format!("unknown actor type {other:?}"))),
    };
    Ok(AuditEntry {
        event_id,
        action,
        actor,
        target: target_type
            .zip(target_id)
            .map(|(kind, id)| Target { kind, id }),
        outcome: Outcome::parse(&outcome)
            .ok_or_else(|| corrupt(format!("unknown outcome {outcome:?}")))?,
        client_ip,
        request_id: row.8,
        reason: row.9,
        occurred_at: row.10,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let cursor = Cursor {
            occurred_at: DateTime::from_timestamp_micros(1_800_000_000_123_456).unwrap(),
            event_id: uuid::Uuid::now_v7(),
        };
        assert_eq!(Cursor::parse(&cursor.encode()), Some(cursor));
        for bad in ["", "x", "12.", ".uuid", "12.not-a-uuid", "abc.0190"] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
    }
}
