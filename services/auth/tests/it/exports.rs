//! GDPR export requests against auth alone: asking twice while one is pending returns the same
//! export; with no other service running the export cannot collect their parts and ends
//! `failed`, naming them, with no archive served and a failure audited; an export is its
//! requester's only, and API keys may not ask.

use crate::helpers::{PASSWORD, TestAuth, count, identity_of};
use herald_contracts::rpc::ErrorCode;
use herald_contracts::rpc::privacy::{
    ExportStatus, GetArchiveChunk, GetArchiveChunkRequest, GetExport, GetExportRequest,
    RequestExport, RequestExportRequest,
};
use herald_testkit::wait_for;
use std::time::Duration;

#[tokio::test]
async fn an_export_whose_parts_cannot_be_collected_fails_and_serves_nothing() {
    let auth = TestAuth::start().await.unwrap();
    auth.register("Acme", "owner@acme.test", PASSWORD)
        .await
        .unwrap();
    let tokens = auth.login("owner@acme.test", PASSWORD).await.unwrap();
    let owner = identity_of(&tokens.access_token);

    let first = auth
        .call::<RequestExport>(Some(owner.clone()), RequestExportRequest {})
        .await
        .unwrap();
    assert_eq!(first.status, ExportStatus::Pending);
    let again = auth
        .call::<RequestExport>(Some(owner.clone()), RequestExportRequest {})
        .await
        .unwrap();
    assert_eq!(
        again.export_id, first.export_id,
        "one pending export at a time"
    );

    // Someone else, and an API key of the same user, are refused.
    let stranger = herald_testkit::identity(owner.tenant_id, owner.role);
    let error = auth
        .call::<GetExport>(
            Some(stranger),
            GetExportRequest {
                export_id: first.export_id,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::NotFound);
    let key = herald_contracts::rpc::Identity {
        api_key_id: Some(uuid::Uuid::new_v4()),
        ..owner.clone()
    };
    let error = auth
        .call::<RequestExport>(Some(key), RequestExportRequest {})
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::Forbidden);

    // No publisher, renderer, insights, billing or notifier answers: after its deliveries
    // (2 s and 10 s apart) the export fails, naming what is missing.
    let failed = wait_for("the export to fail", Duration::from_secs(60), || async {
        let view = auth
            .call::<GetExport>(
                Some(owner.clone()),
                GetExportRequest {
                    export_id: first.export_id,
                },
            )
            .await
            .ok()?;
        (view.status != ExportStatus::Pending).then_some(view)
    })
    .await
    .unwrap();
    assert_eq!(failed.status, ExportStatus::Failed);
    let reason = failed.error.unwrap();
    for service in ["publisher", "renderer", "insights", "billing", "notifier"] {
        assert!(reason.contains(service), "{reason}");
    }
    assert!(!reason.contains("auth"), "{reason}");
    assert_eq!(failed.archive_bytes, None);
    let error = auth
        .call::<GetArchiveChunk>(
            Some(owner.clone()),
            GetArchiveChunkRequest {
                export_id: first.export_id,
                offset: 0,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::NotFound);

    let mut conn = auth.conn().await.unwrap();
    wait_for("the failure audited", Duration::from_secs(30), || async {
        let mut conn = auth.conn().await.ok()?;
        let audited = diesel_async::RunQueryDsl::execute(
            diesel::sql_query(
                "SELECT 1 FROM audit_events WHERE action = 'privacy.exported' AND outcome = 'failure'",
            ),
            &mut conn,
        )
        .await
        .ok()?;
        (audited == 1).then_some(())
    })
    .await
    .unwrap();
    assert_eq!(count(&mut conn, "exports").await.unwrap(), 1);

    // A failed export is not pending: asking again starts a new one.
    let next = auth
        .call::<RequestExport>(Some(owner), RequestExportRequest {})
        .await
        .unwrap();
    assert_ne!(next.export_id, first.export_id);
    auth.stop().await;
}

/// The export is a stream message, not process memory: the replica that took it dies mid-way
/// (`kill -9` at the `export.started` failpoint) and another replica finishes it.
#[tokio::test]
async fn an_export_survives_the_crash_of_the_replica_assembling_it() {
    use herald_testkit::ServiceProcess;
    let mut test = TestAuth::infrastructure().await.unwrap();
    let mut env: Vec<(String, String)> = [
        ("HERALD_NATS_URL", test.nats.url()),
        ("HERALD_DATABASE_URL", test.db.url().to_owned()),
        (
            "HERALD_AUTH_MASTER_KEY",
            crate::helpers::MASTER_KEY.to_owned(),
        ),
        ("HERALD_AUTH_ARGON2_MEMORY_KIB", "1024".to_owned()),
        ("HERALD_OUTBOX_SWEEP_SECS", "1".to_owned()),
        ("HERALD_DB_POOL_SIZE", "4".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    env.push((
        "HERALD_FAILPOINTS".into(),
        "export.started=abort@identity.export-requested".into(),
    ));
    let mut crashing = ServiceProcess::spawn(
        std::path::Path::new(env!("CARGO_BIN_EXE_herald-auth")),
        &env,
    )
    .unwrap();
    wait_for("auth ready", Duration::from_secs(60), || async {
        (crashing.ops_status("/readyz").await == Some(200)).then_some(())
    })
    .await
    .unwrap();
    test.register("Acme", "owner@acme.test", PASSWORD)
        .await
        .unwrap();
    let owner = identity_of(
        &test
            .login("owner@acme.test", PASSWORD)
            .await
            .unwrap()
            .access_token,
    );
    let export = test
        .call::<RequestExport>(Some(owner.clone()), RequestExportRequest {})
        .await
        .unwrap();
    let status = crashing.wait(Duration::from_secs(60)).await.unwrap();
    assert!(!status.success(), "aborted while assembling the export");
    let view = test
        .call::<GetExport>(
            Some(owner.clone()),
            GetExportRequest {
                export_id: export.export_id,
            },
        )
        .await;
    // Nobody answers while no auth runs; once one does, the export is still pending.
    assert!(view.is_err());

    let survivor = herald_auth::start(test.env()).await.unwrap();
    test.apps.push(herald_testkit::Running::spawn(survivor));
    // The survivor takes the redelivered message and brings the export to an end (failed
    // here, since no other service runs to give its part).
    let done = wait_for(
        "the export finished by the survivor",
        Duration::from_secs(60),
        || async {
            let view = test
                .call::<GetExport>(
                    Some(owner.clone()),
                    GetExportRequest {
                        export_id: export.export_id,
                    },
                )
                .await
                .ok()?;
            (view.status != ExportStatus::Pending).then_some(view)
        },
    )
    .await
    .unwrap();
    assert_eq!(done.status, ExportStatus::Failed);
    assert!(done.error.unwrap().contains("publisher"));
    test.stop().await;
}
