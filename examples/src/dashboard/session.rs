//! Who is asking: the role and workspace of a request, from query parameters (`role`,
//! `workspace`) or the demo login's cookies, and the demo login itself.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, FromRequestParts};
use axum::http::header::{COOKIE, HOST, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use engagement_core::{ReportKind, Role, Viewer, WorkspaceId};
use maud::html;
use serde::Deserialize;

use super::AppState;
use super::layout::{Nav, error_banner, page};
use super::problem::Query;

/// The workspace the demo data is in, and the login form's default.
pub const DEMO_WORKSPACE: &str = "demo";

/// The roles the login form offers: (value, label).
const ROLES: [(&str, &str); 4] = [
    ("manager", "Manager"),
    ("administrator", "Administrator"),
    ("platform-admin", "Platform admin (Kiva Admin)"),
    ("customer-service", "Customer service"),
];

/// The signed-in user of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The only workspace the user reads.
    pub workspace: WorkspaceId,
    /// The user's role, as the host's session would carry it.
    pub role: Role,
    /// The reports the access policy lets this user open: the navigation and the links of
    /// every page offer only these, so no link leads to a 403 page.
    readable: Vec<ReportKind>,
}

impl Session {
    /// The viewer the reports check.
    pub fn viewer(&self) -> Viewer {
        Viewer::new(self.workspace.clone(), self.role.clone())
    }

    /// Whether the access policy lets this user open `report`.
    pub fn may_read(&self, report: ReportKind) -> bool {
        self.readable.contains(&report)
    }

    pub(crate) fn role_label(&self) -> String {
        match &self.role {
            Role::Unknown(name) => name.clone(),
            Role::CustomerService => "Customer service".into(),
            Role::Manager => "Manager".into(),
            Role::Administrator => "Administrator".into(),
            Role::PlatformAdmin => "Platform admin".into(),
        }
    }
}

/// A value of a `name=value; …` cookie header, URL-decoded.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| decode(v))
}

fn decode(value: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={value}"))
        .ok()?
        .pop()
        .map(|(_, v)| v)
}

fn encode(value: &str) -> String {
    serde_urlencoded::to_string([("v", value)])
        .unwrap_or_default()
        .trim_start_matches("v=")
        .to_owned()
}

/// A query parameter, URL-decoded.
fn query_param(parts: &Parts, name: &str) -> Option<String> {
    let query = parts.uri.query()?;
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.trim().is_empty())
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let pick = |name: &str| query_param(parts, name).or_else(|| cookie(&parts.headers, name));
        let Some(role) = pick("role") else {
            let next = parts
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            return Err(
                Redirect::to(&super::layout::href("/login", &[("next", Some(next))]))
                    .into_response(),
            );
        };
        let workspace = pick("workspace").unwrap_or_else(|| DEMO_WORKSPACE.into());
        let workspace = WorkspaceId::new(workspace).map_err(|e| {
            let body = page(
                "Bad workspace",
                None,
                Nav::None,
                error_banner(&e.to_string()),
            );
            (StatusCode::BAD_REQUEST, Html(body.into_string())).into_response()
        })?;
        let role = Role::from_name(&role);
        let viewer = Viewer::new(workspace.clone(), role.clone());
        let policy = state.reports.policy();
        let readable = ReportKind::ALL
            .into_iter()
            .filter(|&report| policy.check(&viewer, &workspace, report).is_ok())
            .collect();
        Ok(Self {
            workspace,
            role,
            readable,
        })
    }
}

/// What `GET /login` reads.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct LoginQuery {
    next: Option<String>,
}

/// The demo login form.
pub(crate) async fn login_form(Query(q): Query<LoginQuery>) -> Html<String> {
    let next = q.next.unwrap_or_default();
    let body = html! {
        p.muted { "A demo sign-in: the dashboard trusts the role you pick, as a host app would trust its own session." }
        form.login method="post" action="/login" {
            label { "Role " select name="role" {
                @for (value, label) in ROLES { option value=(value) { (label) } }
            } }
            label { "Workspace " input name="workspace" value=(DEMO_WORKSPACE); }
            input type="hidden" name="next" value=(next);
            button.primary type="submit" { "Sign in" }
        }
    };
    Html(page("Sign in", None, Nav::None, body).into_string())
}

/// What `POST /login` receives.
#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    role: String,
    workspace: String,
    next: Option<String>,
}

/// Sets the session cookies and goes on to `next` (a local path) or the engagement report.
///
/// A post from another site is refused (login CSRF: a page elsewhere must not switch a
/// visitor's role or workspace). A host signing real users in needs more than this demo: a
/// signed or server-side session instead of a role cookie the browser can edit, `Secure`
/// cookies over HTTPS, and a CSRF token on every form that changes state.
///
/// A body that is not the form (a field missing, another content type) answers the 400 page,
/// not axum's plain-text rejection.
pub(crate) async fn login(
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => {
            let message = format!("not a sign-in form: {}", rejection.body_text());
            let body = page("Sign in", None, Nav::None, error_banner(&message));
            return (StatusCode::BAD_REQUEST, Html(body.into_string())).into_response();
        }
    };
    if cross_site(&headers) {
        let body = page(
            "Sign in",
            None,
            Nav::None,
            error_banner("This sign-in was posted from another site; sign in from this page."),
        );
        return (StatusCode::FORBIDDEN, Html(body.into_string())).into_response();
    }
    if let Err(e) = WorkspaceId::new(form.workspace.trim()) {
        let body = page("Sign in", None, Nav::None, error_banner(&e.to_string()));
        return (StatusCode::BAD_REQUEST, Html(body.into_string())).into_response();
    }
    let next = form
        .next
        .filter(|n| is_local_path(n) && !n.starts_with("/login"))
        .unwrap_or_else(|| "/engagement".into());
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        ("role", form.role.trim()),
        ("workspace", form.workspace.trim()),
    ] {
        let cookie = format!("{name}={}; Path=/; HttpOnly; SameSite=Lax", encode(value));
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            headers.append(SET_COOKIE, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&next) {
        headers.insert(LOCATION, v);
    }
    response
}

/// Whether `next` is a path on this site: it starts with one `/`, not with `//` or `/\`
/// (which browsers read as another host), and holds only visible ASCII: no control characters
/// (which browsers drop, so `/\t/host` would become `//host`) and nothing a `Location` header
/// cannot carry as it is (a link's own paths are percent-encoded, so they pass).
fn is_local_path(next: &str) -> bool {
    next.strip_prefix('/')
        .is_some_and(|rest| !rest.starts_with(['/', '\\']))
        && next.bytes().all(|b| b.is_ascii_graphic())
}

/// Whether a form post comes from another site: by the browser's `Sec-Fetch-Site`, else by an
/// `Origin` that is not this host (`null` included). A client sending neither (curl, a test)
/// is let through, since no browser page can make it post.
fn cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(ORIGIN) else {
        return false;
    };
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, host)| host);
    origin_host.is_none() || origin_host != headers.get(HOST).and_then(|h| h.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        for local in ["/events", "/customers/7?x=//y", "/"] {
            assert!(is_local_path(local), "{local}");
        }
        for elsewhere in [
            "//evil.example/",
            "/\\evil.example/",
            "/\t/evil.example/",
            "/\r\nLocation: //evil.example/",
            "/café",
            "https://evil.example/",
            "evil",
            "",
        ] {
            assert!(!is_local_path(elsewhere), "{elsewhere:?}");
        }
    }

    #[test]
    fn cookies_round_trip_through_encoding() {
        let mut headers = HeaderMap::new();
        let raw = format!("a=1; workspace={}; role=manager", encode("acme; east"));
        headers.insert(COOKIE, HeaderValue::from_str(&raw).unwrap());
        assert_eq!(cookie(&headers, "workspace").as_deref(), Some("acme; east"));
        assert_eq!(cookie(&headers, "role").as_deref(), Some("manager"));
        assert_eq!(cookie(&headers, "missing"), None);
    }
}
