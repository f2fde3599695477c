//! JSON Schemas (2020-12) of every message envelope and request/reply, written to `schemas/`
//! by `heraldctl schemas` and compared by `heraldctl schemas --check` and the drift test.

use crate::envelope::{Envelope, Message};
use crate::messages::{
    CollectMetrics, PostCancelled, PostDue, PostHeld, PostPublished, PostScheduled,
    PostTargetFailed, PostTargetPublished, RenderCompleted, RenderFailed, RenderRequested,
    UserRegistered,
};
use crate::rpc::{self, Rpc, RpcReply, RpcRequest};
use std::path::Path;

/// A generated schema and the file name it is stored under.
pub struct SchemaFile {
    pub file_name: String,
    pub schema: serde_json::Value,
}

/// The schema a consumer validates a message envelope against.
pub fn message_schema<M: Message>() -> serde_json::Value {
    serde_json::Value::from(schemars::schema_for!(Envelope<M>))
}

fn message<M: Message>() -> SchemaFile {
    SchemaFile {
        file_name: format!("messages/{}.v{}.json", M::TYPE, M::VERSION),
        schema: message_schema::<M>(),
    }
}

fn request_reply<R: Rpc>() -> [SchemaFile; 2] {
    let base = format!("rpc/{}.{}", R::SERVICE, R::NAME);
    [
        SchemaFile {
            file_name: format!("{base}.request.json"),
            schema: schemars::schema_for!(RpcRequest<R::Request>).into(),
        },
        SchemaFile {
            file_name: format!("{base}.reply.json"),
            schema: schemars::schema_for!(RpcReply<R::Response>).into(),
        },
    ]
}

/// Every schema, in a stable order.
pub fn all() -> Vec<SchemaFile> {
    let mut files = vec![
        message::<UserRegistered>(),
        message::<crate::messages::identity::EmailRequested>(),
        message::<crate::messages::AuditEvent>(),
        message::<CollectMetrics>(),
        message::<PostDue>(),
        message::<PostPublished>(),
        message::<PostScheduled>(),
        message::<PostTargetPublished>(),
        message::<PostTargetFailed>(),
        message::<PostCancelled>(),
        message::<crate::messages::PostTargetRetry>(),
        message::<PostHeld>(),
        message::<RenderRequested>(),
        message::<RenderCompleted>(),
        message::<RenderFailed>(),
        message::<crate::messages::export::ExportRequested>(),
        message::<rpc::api_keys::ApiKeyUsed>(),
        message::<crate::messages::privacy::ErasureRequested>(),
        message::<crate::messages::privacy::ErasureConfirmed>(),
    ];
    files.extend(request_reply::<rpc::auth::Register>());
    files.extend(request_reply::<rpc::auth::Login>());
    files.extend(request_reply::<rpc::audit::ListAudit>());
    files.extend(request_reply::<rpc::auth::Refresh>());
    files.extend(request_reply::<rpc::auth::Logout>());
    files.extend(request_reply::<rpc::auth::LogoutAll>());
    files.extend(request_reply::<rpc::auth::ChangePassword>());
    files.extend(request_reply::<rpc::auth::RemoveMember>());
    files.extend(request_reply::<rpc::auth::ListMembers>());
    files.extend(request_reply::<rpc::auth::RotateKeys>());
    files.extend(request_reply::<rpc::identity::ChangeMemberRole>());
    files.extend(request_reply::<rpc::identity::CreateInvitation>());
    files.extend(request_reply::<rpc::identity::ListInvitations>());
    files.extend(request_reply::<rpc::identity::RevokeInvitation>());
    files.extend(request_reply::<rpc::identity::AcceptInvitation>());
    files.extend(request_reply::<rpc::identity::VerifyEmail>());
    files.extend(request_reply::<rpc::identity::ResendVerification>());
    files.extend(request_reply::<rpc::identity::RequestPasswordReset>());
    files.extend(request_reply::<rpc::identity::ConfirmPasswordReset>());
    files.extend(request_reply::<rpc::identity::GetMe>());
    files.extend(request_reply::<rpc::api_keys::CreateApiKey>());
    files.extend(request_reply::<rpc::api_keys::ListApiKeys>());
    files.extend(request_reply::<rpc::api_keys::RevokeApiKey>());
    files.extend(request_reply::<rpc::publisher::ConnectAccount>());
    files.extend(request_reply::<rpc::publisher::CreatePost>());
    files.extend(request_reply::<rpc::publisher::GetPost>());
    files.extend(request_reply::<rpc::publisher::ListAccounts>());
    files.extend(request_reply::<rpc::publisher::DisconnectAccount>());
    files.extend(request_reply::<rpc::publisher::UpdatePost>());
    files.extend(request_reply::<rpc::publisher::ReschedulePost>());
    files.extend(request_reply::<rpc::publisher::CancelPost>());
    files.extend(request_reply::<rpc::publisher::ListPosts>());
    files.extend(request_reply::<rpc::renderer::CreateRender>());
    files.extend(request_reply::<rpc::renderer::GetRender>());
    files.extend(request_reply::<rpc::renderer::GetRenderContent>());
    files.extend(request_reply::<rpc::renderer::GetAsset>());
    files.extend(request_reply::<rpc::billing::GetUsage>());
    files.extend(request_reply::<rpc::notifier::ListNotifications>());
    files.extend(request_reply::<rpc::insights::GetPostMetrics>());
    files.extend(request_reply::<rpc::privacy::RequestExport>());
    files.extend(request_reply::<rpc::privacy::GetExport>());
    files.extend(request_reply::<rpc::privacy::GetArchiveChunk>());
    files.extend(request_reply::<rpc::privacy::PublisherExport>());
    files.extend(request_reply::<rpc::privacy::RendererExport>());
    files.extend(request_reply::<rpc::privacy::InsightsExport>());
    files.extend(request_reply::<rpc::privacy::BillingExport>());
    files.extend(request_reply::<rpc::privacy::NotifierExport>());
    files.extend(request_reply::<rpc::erasure::EraseMe>());
    files.extend(request_reply::<rpc::erasure::EraseTenant>());
    files.extend(request_reply::<rpc::erasure::GetErasure>());
    files
}

fn render(schema: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Writes every schema under `dir`, removing stale `.json` files the code no longer makes.
pub fn write_all(dir: &Path) -> std::io::Result<usize> {
    let files = all();
    for sub in ["messages", "rpc"] {
        let sub_dir = dir.join(sub);
        if sub_dir.exists() {
            for entry in std::fs::read_dir(&sub_dir)? {
                let path = entry?.path();
                if path.extension().is_some_and(|ext| ext == "json") {
                    std::fs::remove_file(path)?;
                }
            }
        }
    }
    for file in &files {
        let path = dir.join(&file.file_name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, render(&file.schema))?;
    }
    Ok(files.len())
}

/// The names of files under `dir` that differ from the code (missing, changed or stale).
pub fn drift(dir: &Path) -> std::io::Result<Vec<String>> {
    let files = all();
    let mut drifted = Vec::new();
    for file in &files {
        match std::fs::read_to_string(dir.join(&file.file_name)) {
            Ok(text) if text == render(&file.schema) => {}
            Ok(_) => drifted.push(format!("{} (changed)", file.file_name)),
            Err(_) => drifted.push(format!("{} (missing)", file.file_name)),
        }
    }
    for sub in ["messages", "rpc"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries {
            let name = format!("{sub}/{}", entry?.file_name().to_string_lossy());
            if !files.iter().any(|file| file.file_name == name) {
                drifted.push(format!("{name} (stale)"));
            }
        }
    }
    Ok(drifted)
}
