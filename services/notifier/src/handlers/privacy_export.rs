//! `rpc.notifier.privacy.export`: notifier's part of a GDPR export (called by auth only; see
//! `herald_kit::privacy_export`). In tenants the user owns: every recipient, notification and
//! email delivery. In tenants the user is only a member of: the user's recipient row and the
//! emails addressed to it.

use herald_contracts::rpc::privacy::NotifierExport;
use herald_kit::privacy_export::{self, ExportTable};
use herald_kit::{App, KitError};

pub const TABLES: &[ExportTable] = &[
    ExportTable {
        table: "recipients",
        key: &["tenant_id", "user_id"],
        omit: &[],
        whole_tenant: true,
        personal: Some("t.user_id = $3"),
    },
    ExportTable {
        table: "notifications",
        key: &["id"],
        omit: &[],
        whole_tenant: true,
        personal: None,
    },
    ExportTable {
        table: "email_deliveries",
        key: &["id"],
        omit: &[],
        whole_tenant: true,
        personal: Some(
            "t.to_address IN (SELECT r.email FROM recipients r WHERE r.tenant_id = t.tenant_id AND r.user_id = $3)",
        ),
    },
];

pub async fn serve(app: &mut App) -> Result<(), KitError> {
    privacy_export::serve::<NotifierExport>(app, TABLES).await
}
