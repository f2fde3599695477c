//! `rpc.renderer.privacy.export`: renderer's part of a GDPR export (called by auth only; see
//! `herald_kit::privacy_export`): render jobs with their designs and the stored image's
//! metadata (object key, content hash, size); the image itself is downloadable by its render.

use herald_contracts::rpc::privacy::RendererExport;
use herald_kit::privacy_export::{self, ExportTable};
use herald_kit::{App, KitError};

pub const TABLES: &[ExportTable] = &[ExportTable {
    table: "renders",
    key: &["id"],
    omit: &[],
    whole_tenant: true,
    personal: None,
}];

pub async fn serve(app: &mut App) -> Result<(), KitError> {
    privacy_export::serve::<RendererExport>(app, TABLES).await
}
