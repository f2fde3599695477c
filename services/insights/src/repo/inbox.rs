//! The kit's consumer inbox, for handlers that run their own transaction because their work
//! includes a network call that must not hold one open (see `handlers::collect_metrics`).

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_kit::consumer::kit_inbox;

/// Whether `consumer` has committed the effects of `message_id` already.
pub async fn is_processed(
    conn: &mut AsyncPgConnection,
    consumer: &str,
    message_id: &str,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        kit_inbox::table
            .filter(kit_inbox::consumer.eq(consumer))
            .filter(kit_inbox::message_id.eq(message_id)),
    ))
    .get_result(conn)
    .await
}

/// Records `message_id` in the caller's transaction; false when it was there already (then
/// the transaction must have no other effect).
pub async fn record(
    conn: &mut AsyncPgConnection,
    consumer: &str,
    message_id: &str,
) -> QueryResult<bool> {
    let inserted = diesel::insert_into(kit_inbox::table)
        .values((
            kit_inbox::consumer.eq(consumer),
            kit_inbox::message_id.eq(message_id),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}
