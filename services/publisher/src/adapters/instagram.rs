//! Instagram. (Being written: every call answers that the adapter is not available yet.)

use super::{
    ConnectError, ConnectInput, Connected, Creds, PlatformAdapter, PlatformConfig, Publication,
    PublishOutcome, Reconciled, RefreshError, Reply, Tokens,
};
use herald_contracts::messages::Platform;
use herald_kit::Secret;
use herald_kit::futures::future::BoxFuture;

pub struct Instagram {
    #[allow(dead_code)]
    http: reqwest::Client,
}

impl Instagram {
    pub fn new(http: reqwest::Client, _config: &PlatformConfig) -> Self {
        Self { http }
    }
}

impl PlatformAdapter for Instagram {
    fn platform(&self) -> Platform {
        Platform::Instagram
    }

    fn connect<'a>(
        &'a self,
        _input: &'a ConnectInput,
    ) -> BoxFuture<'a, Result<Connected, ConnectError>> {
        Box::pin(async { Err(ConnectError::Unreachable("adapter not available".into())) })
    }

    fn refresh<'a>(
        &'a self,
        _creds: &'a Creds,
        _refresh_token: &'a Secret,
    ) -> BoxFuture<'a, Result<Tokens, RefreshError>> {
        Box::pin(async { Err(RefreshError::Unsupported) })
    }

    fn publish<'a>(
        &'a self,
        _creds: &'a Creds,
        _post: &'a Publication,
    ) -> BoxFuture<'a, Reply<PublishOutcome>> {
        Box::pin(async {
            Reply::new(PublishOutcome::Terminal {
                reason: "adapter not available".into(),
            })
        })
    }

    fn reconcile<'a>(
        &'a self,
        _creds: &'a Creds,
        _post: &'a Publication,
    ) -> BoxFuture<'a, Reply<Reconciled>> {
        Box::pin(async {
            Reply::new(Reconciled::Unverifiable {
                reason: "adapter not available".into(),
            })
        })
    }
}
