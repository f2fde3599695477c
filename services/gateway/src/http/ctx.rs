//! What a handler gets about its request: the request id and the verified caller the edge
//! middleware established, and a way to call a service with both.

use super::State;
use super::edge::RequestId;
use super::error::ApiError;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use herald_contracts::rpc::{Identity, Rpc};
use std::future::{Ready, ready};

pub struct Ctx {
    pub request_id: String,
    /// Set on every route that needs a role; `None` only on public routes.
    pub identity: Option<Identity>,
    state: web::Data<State>,
}

impl FromRequest for Ctx {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let extensions = req.extensions();
        let (Some(request_id), Some(state)) = (
            extensions.get::<RequestId>(),
            req.app_data::<web::Data<State>>(),
        ) else {
            tracing::error!("request context missing: edge middleware not installed");
            return ready(Err(ApiError::internal()));
        };
        ready(Ok(Ctx {
            request_id: request_id.0.clone(),
            identity: extensions.get::<Identity>().cloned(),
            state: state.clone(),
        }))
    }
}

impl Ctx {
    /// Calls endpoint `R` as the verified caller, under this request's id and trace.
    pub async fn call<R: Rpc>(&self, request: R::Request) -> Result<R::Response, ApiError> {
        if R::REQUIRES_IDENTITY && self.identity.is_none() {
            // A route table entry that forgot the role; never send such a call.
            tracing::error!(rpc.endpoint = %R::subject(), "identity-requiring call from a public route");
            return Err(ApiError::internal());
        }
        herald_kit::rpc::call::<R>(
            &self.state.nats,
            &self.request_id,
            self.identity.clone(),
            request,
            self.state.rpc_timeout,
        )
        .await
        .map_err(ApiError::from)
    }
}
