//! Who may call what: every route, its method and the role it needs, in one table. The edge
//! middleware enforces it before any handler runs, and it is default-deny: a route the router
//! knows but this table does not is refused, and a method the table does not list is 405.

use actix_web::http::Method;
use herald_contracts::rpc::Role;

/// Route paths, shared by the router (`routes/`) and this table so they cannot drift apart.
pub mod paths {
    pub const REGISTER: &str = "/v1/auth/register";
    pub const LOGIN: &str = "/v1/auth/login";
    pub const REFRESH: &str = "/v1/auth/refresh";
    pub const LOGOUT: &str = "/v1/auth/logout";
    pub const LOGOUT_ALL: &str = "/v1/auth/logout-all";
    pub const ME_PASSWORD: &str = "/v1/me/password";
    pub const MEMBERS: &str = "/v1/members";
    pub const MEMBER: &str = "/v1/members/{user_id}";
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token needed: registration, login, and the content-addressed media origin.
    Public,
    /// A verified token whose role is at least this one.
    AtLeast(Role),
}

#[derive(Debug, Clone, Copy)]
pub struct RoutePolicy {
    pub verb: Verb,
    pub path: &'static str,
    pub access: Access,
}

const fn route(verb: Verb, path: &'static str, access: Access) -> RoutePolicy {
    RoutePolicy { verb, path, access }
}

use Access::{AtLeast, Public};
use Role::{Admin, Editor, Viewer};
use Verb::{Delete, Get, Patch, Post};

pub const ROUTES: &[RoutePolicy] = &[
    route(Post, paths::REGISTER, Public),
    route(Post, paths::LOGIN, Public),
    route(Post, paths::REFRESH, Public),
    route(Post, paths::LOGOUT, AtLeast(Viewer)),
    route(Post, paths::LOGOUT_ALL, AtLeast(Viewer)),
    route(Post, paths::ME_PASSWORD, AtLeast(Viewer)),
    route(Get, paths::MEMBERS, AtLeast(Viewer)),
    route(Delete, paths::MEMBER, AtLeast(Admin)),
    route(Post, paths::ACCOUNTS, AtLeast(Admin)),
    route(Get, paths::ACCOUNTS, AtLeast(Viewer)),
    route(Delete, paths::ACCOUNT, AtLeast(Admin)),
    route(Post, paths::POSTS, AtLeast(Editor)),
    route(Get, paths::POSTS, AtLeast(Viewer)),
    route(Get, paths::POST, AtLeast(Viewer)),
    route(Patch, paths::POST, AtLeast(Editor)),
    route(Post, paths::POST_RESCHEDULE, AtLeast(Editor)),
    route(Post, paths::POST_CANCEL, AtLeast(Editor)),
    route(Get, paths::POST_METRICS, AtLeast(Viewer)),
    route(Post, paths::RENDERS, AtLeast(Editor)),
    route(Get, paths::RENDER, AtLeast(Viewer)),
    route(Get, paths::RENDER_IMAGE, AtLeast(Viewer)),
    route(Get, paths::USAGE, AtLeast(Admin)),
    route(Get, paths::AUDIT, AtLeast(Admin)),
    route(Get, paths::NOTIFICATIONS, AtLeast(Viewer)),
    route(Get, paths::EVENTS, AtLeast(Viewer)),
    route(Get, paths::MEDIA, Public),
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
    fn only_registration_login_refresh_and_media_are_public() {
        let public: Vec<_> = ROUTES
            .iter()
            .filter(|p| p.access == Public)
            .map(|p| p.path)
            .collect();
        assert_eq!(
            public,
            [paths::REGISTER, paths::LOGIN, paths::REFRESH, paths::MEDIA]
        );
    }

    #[test]
    fn decides_by_method_and_defaults_to_deny() {
        assert_eq!(
            decide(&Method::GET, paths::POST),
            Decision::Allowed(AtLeast(Viewer))
        );
        assert_eq!(
            decide(&Method::DELETE, paths::POST),
            Decision::MethodNotAllowed("GET, PATCH".into())
        );
        assert_eq!(decide(&Method::GET, "/v1/secret"), Decision::Undeclared);
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
