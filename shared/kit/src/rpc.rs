//! Request/reply over the NATS service API: each service answers its endpoints in a queue
//! group (replicas share the load; `$SRV.PING/INFO/STATS` come for free), with typed requests
//! and replies from the contracts, the caller's identity and trace context, and a deadline.

use crate::trace::TraceContext;
use async_nats::HeaderMap;
use async_nats::service::{Request, ServiceExt};
use futures::StreamExt;
use herald_contracts::TenantId;
use herald_contracts::rpc::{ErrorCode, Identity, Rpc, RpcError, RpcReply, RpcRequest};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

pub const REQUEST_ID_HEADER: &str = "Herald-Request-Id";

/// What a handler knows about the call.
#[derive(Debug, Clone)]
pub struct RpcCtx {
    pub request_id: String,
    pub identity: Option<Identity>,
    pub trace: TraceContext,
}

impl RpcCtx {
    /// The verified caller; endpoints that require identity never see `None` here.
    pub fn identity(&self) -> Result<&Identity, RpcError> {
        self.identity
            .as_ref()
            .ok_or_else(|| RpcError::new(ErrorCode::Unauthenticated, "authentication required"))
    }

    /// The tenant, taken from the verified identity only.
    pub fn tenant(&self) -> Result<TenantId, RpcError> {
        Ok(self.identity()?.tenant_id)
    }
}

/// A request/reply handler: usually an async closure.
pub trait RpcHandler<R: Rpc>: Send + Sync + 'static {
    fn call(
        &self,
        ctx: RpcCtx,
        request: R::Request,
    ) -> impl Future<Output = Result<R::Response, RpcError>> + Send + 'static;
}

impl<R, F, Fut> RpcHandler<R> for F
where
    R: Rpc,
    F: Fn(RpcCtx, R::Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R::Response, RpcError>> + Send + 'static,
{
    fn call(
        &self,
        ctx: RpcCtx,
        request: R::Request,
    ) -> impl Future<Output = Result<R::Response, RpcError>> + Send + 'static {
        self(ctx, request)
    }
}

/// Starts the NATS service for `name` (one per process; endpoints are added to it).
pub async fn start_service(
    client: &async_nats::Client,
    name: &str,
    version: &str,
) -> Result<async_nats::service::Service, crate::KitError> {
    client
        .service_builder()
        .description(format!("herald {name}"))
        .queue_group(format!("herald-{name}"))
        .start(format!("herald-{name}"), version)
        .await
        .map_err(crate::KitError::nats)
}

/// Serves endpoint `R` until `stop`; each request runs as its own task under `tracker`.
pub async fn serve<R: Rpc, H: RpcHandler<R>>(
    service: &async_nats::service::Service,
    handler: H,
    deadline: Duration,
    stop: CancellationToken,
    tracker: TaskTracker,
) -> Result<(), crate::KitError> {
    let mut endpoint = service
        .endpoint_builder()
        .name(R::NAME.replace('.', "-"))
        .add(R::subject())
        .await
        .map_err(crate::KitError::nats)?;
    let handler = Arc::new(handler);
    tracker.clone().spawn(async move {
        loop {
            let request = tokio::select! {
                request = endpoint.next() => request,
                _ = stop.cancelled() => break,
            };
            let Some(request) = request else { return };
            tracker.spawn(answer::<R, H>(request, handler.clone(), deadline));
        }
        // Unsubscribe first, so new requests go to other replicas; then answer what was
        // already delivered here (the stream ends once the unsubscribe is through).
        let _ = endpoint.stop().await;
        while let Ok(Some(request)) =
            tokio::time::timeout(Duration::from_secs(2), endpoint.next()).await
        {
            tracker.spawn(answer::<R, H>(request, handler.clone(), deadline));
        }
    });
    Ok(())
}

async fn answer<R: Rpc, H: RpcHandler<R>>(request: Request, handler: Arc<H>, deadline: Duration) {
    let started = std::time::Instant::now();
    let trace = TraceContext::from_headers(request.message.headers.as_ref());
    let parsed: Result<RpcRequest<R::Request>, _> =
        serde_json::from_slice(&request.message.payload);
    let reply: RpcReply<R::Response> = match parsed {
        Err(error) => RpcReply::Error(RpcError::invalid(format!("malformed request: {error}"))),
        Ok(call) if R::REQUIRES_IDENTITY && call.identity.is_none() => RpcReply::Error(
            RpcError::new(ErrorCode::Unauthenticated, "authentication required"),
        ),
        Ok(call) => {
            let span = tracing::info_span!(
                "rpc",
                rpc.endpoint = %R::subject(),
                request_id = %call.request_id,
                trace_id = %trace.trace_id,
                tenant_id = call.identity.as_ref().map(|i| i.tenant_id.to_string()).unwrap_or_default(),
            );
            let ctx = RpcCtx {
                request_id: call.request_id,
                identity: call.identity,
                trace: trace.clone(),
            };
            // The handler runs as its own task so a missed deadline never drops it mid-transaction.
            let work = tokio::spawn(
                trace
                    .scope(handler.call(ctx, call.data))
                    .instrument(span.clone()),
            );
            match tokio::time::timeout(deadline, work).await {
                Ok(Ok(result)) => {
                    if let Err(error) = &result
                        && error.code == ErrorCode::Internal
                    {
                        span.in_scope(|| tracing::error!(error = %error.message, "request failed"));
                    }
                    result.map_err(redact_internal).into()
                }
                Ok(Err(_)) => RpcReply::Error(RpcError::internal()),
                Err(_) => {
                    RpcReply::Error(RpcError::new(ErrorCode::Unavailable, "deadline exceeded"))
                }
            }
        }
    };
    let outcome = match &reply {
        RpcReply::Ok(_) => "ok",
        RpcReply::Error(error) => error.code.as_str(),
    };
    metrics::counter!("herald_rpc_requests_total", "endpoint" => R::subject(), "outcome" => outcome).increment(1);
    metrics::histogram!("herald_rpc_duration_seconds", "endpoint" => R::subject())
        .record(started.elapsed().as_secs_f64());
    let body = serde_json::to_vec(&reply).unwrap_or_default();
    if let Err(error) = request.respond(Ok(body.into())).await {
        tracing::warn!(error = %error, "reply not sent");
    }
}

/// Internal errors are logged with their cause where they happen; the caller sees no detail.
fn redact_internal(error: RpcError) -> RpcError {
    if error.code == ErrorCode::Internal {
        RpcError::internal()
    } else {
        error
    }
}

/// Calls endpoint `R` and waits up to `timeout` for its reply.
pub async fn call<R: Rpc>(
    client: &async_nats::Client,
    request_id: &str,
    identity: Option<Identity>,
    data: R::Request,
    timeout: Duration,
) -> Result<R::Response, RpcError> {
    let mut headers = HeaderMap::new();
    TraceContext::current().child().inject(&mut headers);
    headers.insert(REQUEST_ID_HEADER, request_id);
    let body = serde_json::to_vec(&RpcRequest {
        request_id: request_id.to_owned(),
        identity,
        data,
    })
    .map_err(|_| RpcError::internal())?;
    let response = tokio::time::timeout(
        timeout,
        client.request_with_headers(R::subject(), headers, body.into()),
    )
    .await;
    let message = match response {
        Ok(Ok(message)) => message,
        Ok(Err(error)) => {
            tracing::warn!(endpoint = %R::subject(), error = %error, "request failed");
            return Err(RpcError::unavailable());
        }
        Err(_) => {
            tracing::warn!(endpoint = %R::subject(), "request timed out");
            return Err(RpcError::unavailable());
        }
    };
    let reply: RpcReply<R::Response> =
        serde_json::from_slice(&message.payload).map_err(|error| {
            tracing::error!(endpoint = %R::subject(), error = %error, "unreadable reply");
            RpcError::internal()
        })?;
    reply.into()
}
