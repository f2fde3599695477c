//! The probe of every route: what B sends against A's resources and must get back, and
//! what A sends to show the same route works for the owner.

use super::setup::TenantA;
use super::{A_EMAIL, A_PASSWORD, B_PASSWORD};
use herald_gateway::http::policy::{RoutePolicy, Verb, paths};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// One request of a probe.
pub(super) struct Call {
    pub(super) method: Method,
    pub(super) path: String,
    pub(super) body: Option<Value>,
    /// A server-sent event stream: read for [`STREAM_READ`], not to its end.
    pub(super) stream: bool,
}

impl Call {
    pub(super) fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            body: None,
            stream: false,
        }
    }
    pub(super) fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    pub(super) fn stream(mut self) -> Self {
        self.stream = true;
        self
    }
}

/// What B must get.
pub(super) enum Cross {
    /// The uniform error body with this status (404 for A's resources), nothing of A's.
    Refused(StatusCode),
    /// Success about B's own data only: nothing of A's in it, nor any of `absent`.
    Clean { absent: Vec<String> },
    /// A public route: this status for B as for anyone, by design.
    Public(StatusCode),
}

/// What A must get on its own resource.
pub(super) enum Own {
    /// 2xx and, when given, the body contains the marker.
    Success(Option<String>),
    /// The resource was found (not 401/404) though the action is refused for another reason:
    /// A's owner may not remove itself (a 403 that is not the role table's, since an owner
    /// passes every role).
    Found,
}

pub(super) struct Probe {
    /// What B sends (with each of B's credentials).
    pub(super) cross: Call,
    pub(super) expect: Cross,
    pub(super) own: Call,
    pub(super) own_expect: Own,
    /// Ends or changes the caller's session (logout, password): run last, each on a fresh
    /// login, with `$REFRESH` in the body standing for that login's refresh token.
    pub(super) session: bool,
    /// Destroys the caller's own data (erasure): each side runs as a tenant registered for
    /// this probe alone, never as A or B.
    pub(super) throwaway: bool,
}

impl Probe {
    fn new(cross: Call, expect: Cross, own: Call, own_expect: Own) -> Self {
        Self {
            cross,
            expect,
            own,
            own_expect,
            session: false,
            throwaway: false,
        }
    }
    fn on_session(mut self) -> Self {
        self.session = true;
        self
    }
    fn on_throwaway(mut self) -> Self {
        self.throwaway = true;
        self
    }
}

/// `pattern` with its one `{...}` segment replaced by `id`.
fn fill(pattern: &str, id: &str) -> String {
    match (pattern.find('{'), pattern.find('}')) {
        (Some(open), Some(close)) if open < close => {
            format!("{}{id}{}", &pattern[..open], &pattern[close + 1..])
        }
        _ => pattern.to_owned(),
    }
}

pub(super) fn probe_for(route: &RoutePolicy, a: &TenantA, sandbox: &str) -> Option<Probe> {
    use Cross::{Public, Refused};
    let id_path = |id: &str| fill(route.path, id);
    let later = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let design = json!({"width": 64, "height": 64, "background": "#102030"});
    let clean = || Cross::Clean { absent: Vec::new() };
    let ok = |marker: &str| Own::Success(Some(marker.to_owned()));
    let get = |path: String| Call::new(Method::GET, path);
    let post = |path: String, body: Value| Call::new(Method::POST, path).json(body);
    let not_found = Refused(StatusCode::NOT_FOUND);
    let probe = match (route.verb, route.path) {
        // Registration makes a tenant of its own: nothing of A's in it.
        (Verb::Post, paths::REGISTER) => Probe::new(
            post(
                route.path.into(),
                json!({"tenant_name": "B2", "email": "second@b.tenancy.test", "password": "correct horse battery"}),
            ),
            clean(),
            post(
                route.path.into(),
                json!({"tenant_name": "A2", "email": "second@a.tenancy.test", "password": "correct horse battery"}),
            ),
            Own::Success(None),
        ),
        // B's password does not open A's login.
        (Verb::Post, paths::LOGIN) => Probe::new(
            post(
                route.path.into(),
                json!({"email": A_EMAIL, "password": B_PASSWORD}),
            ),
            Refused(StatusCode::UNAUTHORIZED),
            post(
                route.path.into(),
                json!({"email": A_EMAIL, "password": A_PASSWORD}),
            ),
            ok("access_token"),
        ),
        // A refresh token is the caller's own: B's gives B's tokens, nothing of A's.
        (Verb::Post, paths::REFRESH) => Probe::new(
            post(route.path.into(), json!({"refresh_token": "$REFRESH"})),
            clean(),
            post(route.path.into(), json!({"refresh_token": "$REFRESH"})),
            ok("access_token"),
        )
        .on_session(),
        (Verb::Post, paths::LOGOUT | paths::LOGOUT_ALL) => Probe::new(
            Call::new(Method::POST, route.path),
            clean(),
            Call::new(Method::POST, route.path),
            Own::Success(None),
        )
        .on_session(),
        (Verb::Post, paths::ME_PASSWORD) => Probe::new(
            post(
                route.path.into(),
                json!({"current_password": B_PASSWORD, "new_password": "B's newer password"}),
            ),
            clean(),
            post(
                route.path.into(),
                json!({"current_password": A_PASSWORD, "new_password": "A's newer password"}),
            ),
            ok("access_token"),
        )
        .on_session(),
        // B's export is B's own: its answer names none of A's.
        (Verb::Post, paths::ME_EXPORT) => Probe::new(
            Call::new(Method::POST, route.path),
            clean(),
            Call::new(Method::POST, route.path),
            ok("export_id"),
        ),
        (Verb::Get, paths::EXPORT) => Probe::new(
            get(id_path(&a.export)),
            not_found,
            get(id_path(&a.export)),
            ok("complete"),
        ),
        // The archive is gzip: A's download is checked for success, not for a marker.
        (Verb::Get, paths::EXPORT_ARCHIVE) => Probe::new(
            get(id_path(&a.export)),
            not_found,
            get(id_path(&a.export)),
            Own::Success(None),
        ),
        (Verb::Get, paths::MEMBERS) => Probe::new(
            get(route.path.into()),
            clean(),
            get(route.path.into()),
            ok(A_EMAIL),
        ),
        // B's key is B's own; A's key is neither listed for B nor revocable by B.
        (Verb::Post, paths::API_KEYS) => Probe::new(
            post(
                route.path.into(),
                json!({"name": "B's other", "scopes": ["posts:read"]}),
            ),
            clean(),
            post(
                route.path.into(),
                json!({"name": "A's other", "scopes": ["posts:read"]}),
            ),
            ok("hk_"),
        ),
        (Verb::Get, paths::API_KEYS) => Probe::new(
            get(route.path.into()),
            clean(),
            get(route.path.into()),
            ok(&a.api_key),
        ),
        (Verb::Delete, paths::API_KEY) => Probe::new(
            Call::new(Method::DELETE, id_path(&a.api_key)),
            not_found,
            Call::new(Method::DELETE, id_path(&a.api_key)),
            Own::Success(None),
        ),
        // A's owner is A's last owner: found, and refused (409), whatever role it asks for.
        (Verb::Patch, paths::MEMBER) => Probe::new(
            Call::new(Method::PATCH, id_path(&a.user_id)).json(json!({"role": "viewer"})),
            not_found,
            Call::new(Method::PATCH, id_path(&a.user_id)).json(json!({"role": "viewer"})),
            Own::Found,
        ),
        (Verb::Get, paths::ME) => Probe::new(
            get(route.path.into()),
            clean(),
            get(route.path.into()),
            ok(A_EMAIL),
        ),
        // Tokens from email are the only input: a made-up one is 422 for anyone.
        (Verb::Post, paths::VERIFY_EMAIL) => Probe::new(
            post(route.path.into(), json!({"token": "made-up"})),
            Public(StatusCode::UNPROCESSABLE_ENTITY),
            post(route.path.into(), json!({"token": "made-up"})),
            Own::Found,
        ),
        (Verb::Post, paths::VERIFY_EMAIL_RESEND) => Probe::new(
            Call::new(Method::POST, route.path),
            clean(),
            Call::new(Method::POST, route.path),
            Own::Success(None),
        ),
        // 202 for every address: B asking for A's says nothing and changes nothing of A's.
        (Verb::Post, paths::PASSWORD_RESET) => Probe::new(
            post(route.path.into(), json!({"email": A_EMAIL})),
            Public(StatusCode::ACCEPTED),
            post(route.path.into(), json!({"email": A_EMAIL})),
            Own::Success(None),
        ),
        (Verb::Post, paths::PASSWORD_RESET_CONFIRM) => Probe::new(
            post(
                route.path.into(),
                json!({"token": "made-up", "password": "B's newer password"}),
            ),
            Public(StatusCode::UNPROCESSABLE_ENTITY),
            post(
                route.path.into(),
                json!({"token": "made-up", "password": "A's newer password"}),
            ),
            Own::Found,
        ),
        (Verb::Post, paths::INVITATION_ACCEPT) => Probe::new(
            post(
                route.path.into(),
                json!({"token": "made-up", "password": "B's newer password"}),
            ),
            Public(StatusCode::UNPROCESSABLE_ENTITY),
            post(
                route.path.into(),
                json!({"token": "made-up", "password": "A's newer password"}),
            ),
            Own::Found,
        ),
        // B's invitation is B's; A's list shows A's.
        (Verb::Post, paths::INVITATIONS) => Probe::new(
            post(
                route.path.into(),
                json!({"email": "invitee@b.tenancy.test", "role": "viewer"}),
            ),
            clean(),
            post(
                route.path.into(),
                json!({"email": "second-invitee@a.tenancy.test", "role": "viewer"}),
            ),
            ok("second-invitee@a.tenancy.test"),
        ),
        (Verb::Get, paths::INVITATIONS) => Probe::new(
            get(route.path.into()),
            clean(),
            get(route.path.into()),
            ok(&a.invitation),
        ),
        (Verb::Delete, paths::INVITATION) => Probe::new(
            Call::new(Method::DELETE, id_path(&a.invitation)),
            not_found,
            Call::new(Method::DELETE, id_path(&a.invitation)),
            Own::Success(None),
        ),
        // A's owner is A's only member, and the last owner cannot go: found, not removed.
        (Verb::Delete, paths::MEMBER) => Probe::new(
            Call::new(Method::DELETE, id_path(&a.user_id)),
            not_found,
            Call::new(Method::DELETE, id_path(&a.user_id)),
            Own::Found,
        )
        .on_session(),
        // B connecting the very same social account (A's token) gets an account of its own.
        (Verb::Post, paths::ACCOUNTS) => Probe::new(
            post(
                route.path.into(),
                json!({"platform": "mastodon", "instance_url": sandbox, "access_token": a.mastodon_token}),
            ),
            clean(),
            post(
                route.path.into(),
                json!({"platform": "mastodon", "instance_url": sandbox, "access_token": "a-another"}),
            ),
            Own::Success(None),
        ),
        (Verb::Get, paths::ACCOUNTS) => Probe::new(
            get(route.path.into()),
            clean(),
            get(route.path.into()),
            ok(&a.kept_account),
        ),
        (Verb::Delete, paths::ACCOUNT) => Probe::new(
            Call::new(Method::DELETE, id_path(&a.doomed_account)),
            not_found,
            Call::new(Method::DELETE, id_path(&a.doomed_account)),
            ok(&a.doomed_account),
        ),
        // A post on A's account, from B.
        (Verb::Post, paths::POSTS) => Probe::new(
            post(
                route.path.into(),
                json!({"text": "B's", "scheduled_at": later, "account_ids": [a.kept_account]}),
            ),
            not_found,
            post(
                route.path.into(),
                json!({"text": "A's", "scheduled_at": later, "account_ids": [a.kept_account]}),
            ),
            ok(&a.kept_account),
        ),
        (Verb::Get, paths::POSTS) => Probe::new(
            get(route.path.into()),
            clean(),
            get(route.path.into()),
            ok(&a.pending_post),
        ),
        (Verb::Get, paths::POST) => Probe::new(
            get(id_path(&a.pending_post)),
            not_found,
            get(id_path(&a.pending_post)),
            ok(&a.pending_text),
        ),
        (Verb::Patch, paths::POST) => Probe::new(
            Call::new(Method::PATCH, id_path(&a.pending_post)).json(json!({"text": "B was here"})),
            not_found,
            Call::new(Method::PATCH, id_path(&a.pending_post)).json(json!({"text": "A edited"})),
            ok("A edited"),
        ),
        (Verb::Post, paths::POST_RESCHEDULE) => Probe::new(
            post(id_path(&a.pending_post), json!({"scheduled_at": later})),
            not_found,
            post(id_path(&a.pending_post), json!({"scheduled_at": later})),
            ok(&a.pending_post),
        ),
        (Verb::Post, paths::POST_CANCEL) => Probe::new(
            Call::new(Method::POST, id_path(&a.cancellable_post)),
            not_found,
            Call::new(Method::POST, id_path(&a.cancellable_post)),
            ok("cancelled"),
        ),
        (Verb::Get, paths::POST_METRICS) => Probe::new(
            get(id_path(&a.published_post)),
            not_found,
            get(id_path(&a.published_post)),
            ok("likes"),
        ),
        (Verb::Post, paths::RENDERS) => Probe::new(
            post(route.path.into(), json!({"design": design})),
            clean(),
            post(route.path.into(), json!({"design": design})),
            Own::Success(None),
        ),
        (Verb::Get, paths::RENDER) => Probe::new(
            get(id_path(&a.render)),
            not_found,
            get(id_path(&a.render)),
            ok(&a.content_hash),
        ),
        (Verb::Get, paths::RENDER_IMAGE) => Probe::new(
            get(id_path(&a.render)),
            not_found,
            get(id_path(&a.render)),
            ok("PNG"),
        ),
        // Usage carries no ids: B's must not show A's metered publish.
        (Verb::Get, paths::USAGE) => Probe::new(
            get(route.path.into()),
            Cross::Clean {
                absent: vec!["published_targets".into()],
            },
            get(route.path.into()),
            ok("published_targets"),
        ),
        // Filtered on A's user: B's audit log has no such actor.
        (Verb::Get, paths::AUDIT) => Probe::new(
            get(format!("{}?actor={}", route.path, a.user_id)),
            clean(),
            get(format!("{}?actor={}", route.path, a.user_id)),
            ok(&a.user_id),
        ),
        (Verb::Get, paths::NOTIFICATIONS) => Probe::new(
            get(route.path.into()),
            clean(),
            get(route.path.into()),
            ok(&a.notification),
        ),
        // Replayed from the start of every stream: B's replay holds none of A's events.
        (Verb::Get, paths::EVENTS) => Probe::new(
            get(format!("{}?since=POSTS:0,RENDERS:0", route.path)).stream(),
            clean(),
            get(format!("{}?since=POSTS:0,RENDERS:0", route.path)).stream(),
            ok(&a.published_post),
        ),
        // The media origin is public by design: content-addressed by a SHA-256 that only the
        // render's owner is told, so anyone holding the URL (a platform fetching the image)
        // gets the bytes. An unknown hash is a 404 (checked at the end of the test).
        (Verb::Get, paths::MEDIA) => Probe::new(
            get(fill(route.path, &format!("{}.png", a.content_hash))),
            Public(StatusCode::OK),
            get(fill(route.path, &format!("{}.png", a.content_hash))),
            ok("PNG"),
        ),
        // Erasure takes no id: its subject is the caller. Run on throwaway tenants, B's
        // erasure answers about B's alone (and A's data is checked intact afterwards).
        (Verb::Delete, paths::ME | paths::TENANT) => Probe::new(
            Call::new(Method::DELETE, route.path),
            clean(),
            Call::new(Method::DELETE, route.path),
            ok("erasure_id"),
        )
        .on_throwaway(),
        // The erasure id is the capability (its caller's tokens are revoked): public by
        // design, and the answer is status and times only.
        (Verb::Get, paths::ERASURE) => Probe::new(
            get(id_path(&a.erasure)),
            Public(StatusCode::OK),
            get(id_path(&a.erasure)),
            ok("requested_at"),
        ),
        _ => return None,
    };
    Some(probe)
}
