//! `rpc.publisher.privacy.export`: publisher's part of a GDPR export (called by auth only; see
//! `herald_kit::privacy_export`). Connected accounts are exported as connection metadata:
//! their access and refresh tokens are secrets and never leave the service.

use herald_contracts::rpc::privacy::PublisherExport;
use herald_kit::privacy_export::{self, ExportTable};
use herald_kit::{App, KitError};

pub const TABLES: &[ExportTable] = &[
    ExportTable {
        table: "accounts",
        key: &["id"],
        omit: &["access_token", "refresh_token"],
        whole_tenant: true,
        personal: None,
    },
    ExportTable {
        table: "posts",
        key: &["id"],
        omit: &[],
        whole_tenant: true,
        personal: None,
    },
    ExportTable {
        table: "post_targets",
        key: &["post_id", "account_id"],
        omit: &[],
        whole_tenant: true,
        personal: None,
    },
    ExportTable {
        table: "target_failures",
        key: &["post_id", "account_id", "failure"],
        omit: &[],
        whole_tenant: true,
        personal: None,
    },
];

pub async fn serve(app: &mut App) -> Result<(), KitError> {
    privacy_export::serve::<PublisherExport>(app, TABLES).await
}
