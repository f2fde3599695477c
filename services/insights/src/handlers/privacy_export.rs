//! `rpc.insights.privacy.export`: insights' part of a GDPR export (called by auth only; see
//! `herald_kit::privacy_export`): tracked posts and every metric sample.

use herald_contracts::rpc::privacy::InsightsExport;
use herald_kit::privacy_export::{self, ExportTable};
use herald_kit::{App, KitError};

pub const TABLES: &[ExportTable] = &[
    ExportTable {
        table: "tracked_posts",
        key: &["post_id", "account_id"],
        omit: &[],
        whole_tenant: true,
        personal: None,
    },
    ExportTable {
        table: "metric_samples",
        key: &["id"],
        omit: &[],
        whole_tenant: true,
        personal: None,
    },
];

pub async fn serve(app: &mut App) -> Result<(), KitError> {
    privacy_export::serve::<InsightsExport>(app, TABLES).await
}
