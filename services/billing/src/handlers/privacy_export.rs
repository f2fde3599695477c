//! `rpc.billing.privacy.export`: billing's part of a GDPR export (called by auth only; see
//! `herald_kit::privacy_export`): the usage ledger.

use herald_contracts::rpc::privacy::BillingExport;
use herald_kit::privacy_export::{self, ExportTable};
use herald_kit::{App, KitError};

pub const TABLES: &[ExportTable] = &[ExportTable {
    table: "usage_ledger",
    key: &["id"],
    omit: &[],
    whole_tenant: true,
    personal: None,
}];

pub async fn serve(app: &mut App) -> Result<(), KitError> {
    privacy_export::serve::<BillingExport>(app, TABLES).await
}
