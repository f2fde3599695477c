//! `rpc.billing.privacy.export` (the kit's export pager behind it): an owned tenant's ledger
//! comes back whole across several size-bounded pages, another tenant's never, a tenant the
//! user is only a member of gives nothing (the ledger holds no personal data), and a caller
//! that carries an identity (gateway traffic) is refused.

// The seeding helper outside #[test] functions unwraps too; clippy.toml only covers the latter.
#![allow(clippy::unwrap_used)]

use crate::World;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use herald_contracts::rpc::privacy::{BillingExport, EXPORT_PAGE_BYTES, ExportPageRequest};
use herald_contracts::rpc::{ErrorCode, Role};
use herald_contracts::{TenantId, UserId};
use herald_testkit::{Running, identity, service_env};
use std::collections::HashSet;
use std::time::Duration;

const ROWS: usize = 2000;

async fn seed(conn: &mut AsyncPgConnection, tenant: TenantId, rows: usize, tag: &str) {
    let inserted = diesel::sql_query(format!(
        "INSERT INTO billing.usage_ledger (id, tenant_id, metric, quantity, source_message_id, occurred_at) \
         SELECT gen_random_uuid(), '{tenant}', 'published_targets', 1, '{tag}:' || repeat('x', 300) || g, now() \
         FROM generate_series(1, {rows}) g"
    ))
    .execute(conn)
    .await
    .unwrap();
    assert_eq!(inserted, rows);
}

#[tokio::test]
async fn the_ledger_is_exported_page_by_page_for_owned_tenants_only() {
    let world = World::new().await.unwrap();
    let service = Running::spawn(
        herald_billing::start(service_env(&world.nats.url(), Some(world.db.url()), &[]))
            .await
            .unwrap(),
    );
    let owned = world.tenant;
    let other = TenantId::new();
    let member = TenantId::new();
    let mut conn = AsyncPgConnection::establish(world.db.url()).await.unwrap();
    seed(&mut conn, owned, ROWS, "owned").await;
    seed(&mut conn, other, 5, "other").await;
    seed(&mut conn, member, 5, "member").await;

    let mut request = ExportPageRequest {
        export_id: uuid::Uuid::new_v4(),
        user_id: UserId::new(),
        owned_tenants: vec![owned],
        member_tenants: vec![member],
        cursor: None,
    };
    let call = |request: ExportPageRequest, caller| {
        let client = world.client.clone();
        async move {
            herald_kit::rpc::call::<BillingExport>(
                &client,
                "req-export",
                caller,
                request,
                Duration::from_secs(15),
            )
            .await
        }
    };
    let mut ids = HashSet::new();
    let mut pages = 0;
    loop {
        let page = call(request.clone(), None).await.unwrap();
        pages += 1;
        let bytes = serde_json::to_vec(&page.items).unwrap().len();
        assert!(bytes <= EXPORT_PAGE_BYTES + 4096, "page of {bytes} bytes");
        for item in &page.items {
            assert_eq!(item.tenant_id, Some(owned), "{item:?}");
            assert_eq!(item.table, "usage_ledger");
            let source = item.row["source_message_id"].as_str().unwrap();
            assert!(source.starts_with("owned:"), "{source}");
            assert!(
                ids.insert(item.row["id"].as_str().unwrap().to_owned()),
                "row twice"
            );
        }
        match page.next_cursor {
            Some(cursor) => request.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(ids.len(), ROWS, "every row exactly once");
    assert!(pages >= 3, "{pages} pages");

    // What the gateway would send (a caller identity) is refused.
    request.cursor = None;
    let error = call(request.clone(), Some(identity(owned, Role::Owner)))
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::Forbidden);
    // A cursor that names nothing of this request is refused, not followed.
    request.cursor = Some("{\"tenant\":\"00000000-0000-0000-0000-000000000000\",\"owned\":true,\"table\":\"usage_ledger\",\"after\":null}".into());
    let error = call(request, None).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::InvalidInput);
    service.stop().await.unwrap();
}
