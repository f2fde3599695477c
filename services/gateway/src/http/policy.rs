//! Who may call what: every route, its method, the role a session needs and the scope an API
//! key needs (or that keys may not call it), in one table. The edge middleware enforces it
//! before any handler runs, and it is default-deny: a route the router knows but this table
//! does not is refused, a method the table does not list is 405, and a route cannot be
//! declared without saying what API keys may do.

use actix_web::http::Method;
use herald_contracts::rpc::Role;
use herald_contracts::rpc::api_keys::Scope;

/// Route paths, shared by the router (`routes/`) and this table so they cannot drift apart.
pub mod paths {
    pub const REGISTER: &str = "/v1/auth/register";
    pub const LOGIN: &str = "/v1/auth/login";
    pub const REFRESH: &str = "/v1/auth/refresh";
    pub const LOGOUT: &str = "/v1/auth/logout";
    pub const LOGOUT_ALL: &str = "/v1/auth/logout-all";
    pub const ME_PASSWORD: &str = "/v1/me/password";
    /// GDPR export: start one (202), read its status, download its archive.
    pub const ME_EXPORT: &str = "/v1/me/export";
    pub const EXPORT: &str = "/v1/exports/{id}";
    pub const EXPORT_ARCHIVE: &str = "/v1/exports/{id}/archive";
    /// Who the caller is (session), and the account flows of `routes/account.rs`.
    pub const ME: &str = "/v1/me";
    /// GDPR erasure: of the caller (`DELETE /v1/me`), of the caller's tenant (owners), and
    /// its status, read with the erasure id alone (the caller's tokens are revoked by then).
    pub const TENANT: &str = "/v1/tenant";
    pub const ERASURE: &str = "/v1/erasures/{id}";
    pub const VERIFY_EMAIL: &str = "/v1/auth/verify-email";
    pub const VERIFY_EMAIL_RESEND: &str = "/v1/auth/verify-email/resend";
    pub const PASSWORD_RESET: &str = "/v1/auth/password-reset";
    pub const PASSWORD_RESET_CONFIRM: &str = "/v1/auth/password-reset/confirm";
    /// Invitations to the caller's tenant (admins); accepting one is public (the emailed token).
    pub const INVITATIONS: &str = "/v1/invitations";
    pub const INVITATION: &str = "/v1/invitations/{id}";
    pub const INVITATION_ACCEPT: &str = "/v1/invitations/accept";
    pub const MEMBERS: &str = "/v1/members";
    pub const MEMBER: &str = "/v1/members/{user_id}";
    pub const API_KEYS: &str = "/v1/api-keys";
    pub const API_KEY: &str = "/v1/api-keys/{id}";
    pub const ACCOUNTS: &str = "/v1/accounts";
    pub const ACCOUNT: &str = "/v1/accounts/{id}";
    pub const POSTS: &str = "/v1/posts";
    pub const POST: &str = "/v1/posts/{id}";
    pub const POST_RESCHEDULE: &str = "/v1/posts/{id}/reschedule";
    pub const POST_CANCEL: &str = "/v1/posts/{id}/cancel";
    pub const POST_METRICS: &str = "/v1/posts/{id}/metrics";
    pub const RENDERS: &str = "/v1/renders";
    pub const RENDER: &str = "/v1/renders/{id}";
    pub const RENDER_IMAGE: &str = "/v1/renders/{id}/image";
    pub const USAGE: &str = "/v1/usage";
    pub const NOTIFICATIONS: &str = "/v1/notifications";
    pub const EVENTS: &str = "/v1/events";
    pub const AUDIT: &str = "/v1/audit";
    /// Rendered images by content hash, for platforms that fetch a public URL (Instagram,
    /// Threads). Outside `/v1`: a media origin, not API.
    pub const MEDIA: &str = "/media/{file}";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Patch,
    Delete,
}

impl Verb {
    pub fn as_str(&self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }

    fn matches(&self, method: &Method) -> bool {
        method.as_str() == self.as_str()
    }
}

/// What an API key may do on a route: call it with one scope, or never (sessions only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAccess {
    /// Sessions only: signing in and out, the caller's own account, members, invitations,
    /// API key management. A key gets 403.
    SessionOnly,
    /// A key carrying this scope may call the route.
    Scope(Scope),
}

/// Routes API keys may never call.
pub const SESSION_ONLY: KeyAccess = KeyAccess::SessionOnly;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token needed: registration, login, and the content-addressed media origin.
    Public,
    /// A verified caller: a session whose role is at least `role`, or an API key that carries
    /// the route's scope (and whose role, capped by its creator's, is at least `role`).
    Protected { role: Role, keys: KeyAccess },
}

impl Access {
    /// The role a session needs; `None` for public routes.
    pub fn role(&self) -> Option<Role> {
        match self {
            Access::Public => None,
            Access::Protected { role, .. } => Some(*role),
        }
    }

    /// The scope an API key needs; `None` for public and session-only routes.
    pub fn scope(&self) -> Option<Scope> {
        match self {
            Access::Protected {
                keys: KeyAccess::Scope(scope),
                ..
            } => Some(*scope),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RoutePolicy {
    pub verb: Verb,
    pub path: &'static str,
    pub access: Access,
}

/// A protected route: the role a session needs and what API keys may do (both required, so no
/// route is declared without deciding about keys).
const fn route(verb: Verb, path: &'static str, role: Role, keys: KeyAccess) -> RoutePolicy {
    RoutePolicy {
        verb,
        path,
        access: Access::Protected { role, keys },
    }
}

/// A route anyone may call without a credential.
const fn public(verb: Verb, path: &'static str) -> RoutePolicy {
    RoutePolicy {
        verb,
        path,
        access: Access::Public,
    }
}

/// Keys with `scope` may call the route.
const fn key(scope: Scope) -> KeyAccess {
    KeyAccess::Scope(scope)
}

use Role::{Admin, Editor, Owner, Viewer};
use Scope::*;
use Verb::{Delete, Get, Patch, Post};

pub const ROUTES: &[RoutePolicy] = &[
    public(Post, paths::REGISTER),
    public(Post, paths::LOGIN),
    public(Post, paths::REFRESH),
    route(Post, paths::LOGOUT, Viewer, SESSION_ONLY),
    route(Post, paths::LOGOUT_ALL, Viewer, SESSION_ONLY),
    route(Post, paths::ME_PASSWORD, Viewer, SESSION_ONLY),
    route(Post, paths::ME_EXPORT, Viewer, SESSION_ONLY),
    route(Get, paths::EXPORT, Viewer, SESSION_ONLY),
    route(Get, paths::EXPORT_ARCHIVE, Viewer, SESSION_ONLY),
    route(Get, paths::MEMBERS, Viewer, SESSION_ONLY),
    route(Delete, paths::MEMBER, Admin, SESSION_ONLY),
    route(Patch, paths::MEMBER, Admin, SESSION_ONLY),
    route(Get, paths::ME, Viewer, SESSION_ONLY),
    route(Delete, paths::ME, Viewer, SESSION_ONLY),
    route(Delete, paths::TENANT, Owner, SESSION_ONLY),
    public(Get, paths::ERASURE),
    public(Post, paths::VERIFY_EMAIL),
    route(Post, paths::VERIFY_EMAIL_RESEND, Viewer, SESSION_ONLY),
    public(Post, paths::PASSWORD_RESET),
    public(Post, paths::PASSWORD_RESET_CONFIRM),
    route(Post, paths::INVITATIONS, Admin, SESSION_ONLY),
    route(Get, paths::INVITATIONS, Admin, SESSION_ONLY),
    route(Delete, paths::INVITATION, Admin, SESSION_ONLY),
    public(Post, paths::INVITATION_ACCEPT),
    route(Post, paths::API_KEYS, Admin, SESSION_ONLY),
    route(Get, paths::API_KEYS, Admin, SESSION_ONLY),
    route(Delete, paths::API_KEY, Admin, SESSION_ONLY),
    route(Post, paths::ACCOUNTS, Admin, key(AccountsWrite)),
    route(Get, paths::ACCOUNTS, Viewer, key(AccountsRead)),
    route(Delete, paths::ACCOUNT, Admin, key(AccountsWrite)),
    route(Post, paths::POSTS, Editor, key(PostsWrite)),
    route(Get, paths::POSTS, Viewer, key(PostsRead)),
    route(Get, paths::POST, Viewer, key(PostsRead)),
    route(Patch, paths::POST, Editor, key(PostsWrite)),
    route(Post, paths::POST_RESCHEDULE, Editor, key(PostsWrite)),
    route(Post, paths::POST_CANCEL, Editor, key(PostsWrite)),
    route(Get, paths::POST_METRICS, Viewer, key(MetricsRead)),
    route(Post, paths::RENDERS, Editor, key(RendersWrite)),
    route(Get, paths::RENDER, Viewer, key(RendersRead)),
    route(Get, paths::RENDER_IMAGE, Viewer, key(RendersRead)),
    route(Get, paths::USAGE, Admin, key(UsageRead)),
    route(Get, paths::AUDIT, Admin, key(AuditRead)),
    route(Get, paths::NOTIFICATIONS, Viewer, key(NotificationsRead)),
    route(Get, paths::EVENTS, Viewer, key(EventsRead)),
    public(Get, paths::MEDIA),
];

/// The body limit of every route not in `BODY_LIMITS`: 1 MiB, whatever the content type.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Per-route body limits (route pattern, bytes), the only exceptions to `DEFAULT_BODY_LIMIT`.
/// Auth bodies are a few short fields; a small limit keeps password hashing cheap to refuse.
pub const BODY_LIMITS: &[(&str, usize)] = &[
    (paths::REGISTER, 16 * 1024),
    (paths::LOGIN, 16 * 1024),
    (paths::REFRESH, 16 * 1024),
    (paths::ME_PASSWORD, 16 * 1024),
    (paths::MEMBER, 16 * 1024),
    (paths::VERIFY_EMAIL, 16 * 1024),
    (paths::VERIFY_EMAIL_RESEND, 16 * 1024),
    (paths::PASSWORD_RESET, 16 * 1024),
    (paths::PASSWORD_RESET_CONFIRM, 16 * 1024),
    (paths::INVITATIONS, 16 * 1024),
    (paths::INVITATION_ACCEPT, 16 * 1024),
];

/// The body limit of the matched route `pattern`.
pub fn body_limit(pattern: &str) -> usize {
    BODY_LIMITS
        .iter()
        .find(|(path, _)| *path == pattern)
        .map_or(DEFAULT_BODY_LIMIT, |(_, limit)| *limit)
}

/// The largest body any route takes (what the extractors are configured with; the edge
/// enforces each route's own limit).
pub fn max_body_limit() -> usize {
    BODY_LIMITS
        .iter()
        .map(|(_, limit)| *limit)
        .fold(DEFAULT_BODY_LIMIT, usize::max)
}

#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// The router matched a route this table does not declare: refused.
    Undeclared,
    /// The path is declared, not with this method; carries the `Allow` value.
    MethodNotAllowed(String),
    Allowed(Access),
}

/// What the table says about `method` on the matched route `pattern`.
pub fn decide(method: &Method, pattern: &str) -> Decision {
    let mut allowed = Vec::new();
    for policy in ROUTES.iter().filter(|p| p.path == pattern) {
        if policy.verb.matches(method) {
            return Decision::Allowed(policy.access);
        }
        allowed.push(policy.verb.as_str());
    }
    if allowed.is_empty() {
        Decision::Undeclared
    } else {
        Decision::MethodNotAllowed(allowed.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sign_in_flows_and_media_are_public() {
        let public: Vec<_> = ROUTES
            .iter()
            .filter(|p| p.access == Access::Public)
            .map(|p| p.path)
            .collect();
        assert_eq!(
            public,
            [
                paths::REGISTER,
                paths::LOGIN,
                paths::REFRESH,
                paths::ERASURE,
                paths::VERIFY_EMAIL,
                paths::PASSWORD_RESET,
                paths::PASSWORD_RESET_CONFIRM,
                paths::INVITATION_ACCEPT,
                paths::MEDIA
            ]
        );
        // Every public route that takes a body (all but media and erasure status) has the
        // small auth limit.
        for path in public
            .iter()
            .filter(|path| **path != paths::MEDIA && **path != paths::ERASURE)
        {
            assert_eq!(body_limit(path), 16 * 1024, "{path}");
        }
    }

    #[test]
    fn decides_by_method_and_defaults_to_deny() {
        assert_eq!(
            decide(&Method::GET, paths::POST),
            Decision::Allowed(Access::Protected {
                role: Viewer,
                keys: KeyAccess::Scope(PostsRead)
            })
        );
        assert_eq!(
            decide(&Method::DELETE, paths::POST),
            Decision::MethodNotAllowed("GET, PATCH".into())
        );
        assert_eq!(decide(&Method::GET, "/v1/secret"), Decision::Undeclared);
    }

    #[test]
    fn a_scope_never_grants_less_than_its_routes_role() {
        // A key's role is its strongest scope's `min_role`, so a key holding a route's scope
        // always passes the route's role check too.
        for policy in ROUTES {
            if let Access::Protected {
                role,
                keys: KeyAccess::Scope(scope),
            } = policy.access
            {
                assert!(
                    scope.min_role().at_least(role),
                    "{} {}: {scope} is held by roles below {role:?}",
                    policy.verb.as_str(),
                    policy.path
                );
            }
        }
    }

    #[test]
    fn session_and_key_management_routes_refuse_keys() {
        for path in [
            paths::LOGOUT,
            paths::LOGOUT_ALL,
            paths::ME_PASSWORD,
            paths::ME_EXPORT,
            paths::EXPORT,
            paths::EXPORT_ARCHIVE,
            paths::MEMBERS,
            paths::MEMBER,
            paths::ME,
            paths::VERIFY_EMAIL_RESEND,
            paths::INVITATIONS,
            paths::INVITATION,
            paths::API_KEYS,
            paths::API_KEY,
        ] {
            for policy in ROUTES.iter().filter(|p| p.path == path) {
                assert_eq!(policy.access.scope(), None, "{path}");
                assert!(policy.access.role().is_some(), "{path}");
            }
        }
        // Every scope opens at least one route.
        for scope in Scope::ALL {
            assert!(
                ROUTES.iter().any(|p| p.access.scope() == Some(scope)),
                "{scope} opens nothing"
            );
        }
    }

    #[test]
    fn body_limits_name_declared_routes() {
        for (path, limit) in BODY_LIMITS {
            assert!(ROUTES.iter().any(|p| p.path == *path), "{path} undeclared");
            assert!(*limit > 0, "{path}");
        }
        assert_eq!(body_limit(paths::LOGIN), 16 * 1024);
        assert_eq!(body_limit(paths::POSTS), DEFAULT_BODY_LIMIT);
        assert!(max_body_limit() >= DEFAULT_BODY_LIMIT);
    }
}
