//! The web dashboard: the seed pages — the engagement report, the customer activity page, the
//! event log — and a funnel, server-rendered over any store.
//!
//! [`router`] builds the axum app over a [`Reports`] facade; the `dashboard` binary serves it.
//! Every page takes the role and workspace from the request ([`Session`]: a demo login's
//! cookies, or `role`/`workspace` query parameters), and the reports refuse a customer-service
//! user before any query, which the pages show as a 403 page. The navigation and the links of
//! every page offer only the reports the access policy lets the user open (a manager's ranking
//! shows customer ids without links to the administrators' customer detail).
//!
//! | route | what |
//! |---|---|
//! | `GET /engagement`, `GET /engagement.csv` | the engagement ranking and its CSV |
//! | `GET /activity`, `GET /activity.csv?scope=page\|all` | customer activity, its two exports; `customer=ID` opens the detail panel |
//! | `GET /customers/{id}` | one customer's detail (where a name links) |
//! | `GET /events`, `GET /events.csv` | the event log; `event=ID` opens the detail panel; the export streams the complete filtered log |
//! | `GET /funnel`, `GET /funnel.csv` | a funnel with its step chart; the CSV link carries `as_of`, the instant the page was computed, so the file counts who is in progress as the page did |
//! | `GET /login`, `POST /login` | the demo sign-in |
//! | `GET /assets/dashboard.css`, `GET /assets/dashboard.js` | the pages' stylesheet and script |
//!
//! Every answer carries `Cache-Control: no-store` and a content security policy that lets a page
//! load only the dashboard's own stylesheet and script, post its forms only to the dashboard and
//! be framed by no site. A request addressed to any host but `localhost` or a loopback address
//! (another site's name rebound to 127.0.0.1) is refused with 421.

mod activity;
mod assets;
mod csv_response;
mod engagement;
mod event_log;
mod funnel;
mod layout;
mod local_host;
mod problem;
mod session;
mod svg;

use axum::Router;
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::middleware::{from_fn, map_response};
use axum::response::{Redirect, Response};
use axum::routing::get;
use engagement_core::report::Reports;

pub use activity::activity_sort;
pub use event_log::event_log_link;
pub use session::{DEMO_WORKSPACE, Session};

/// The dashboard's shared state: the reports over the store.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The reports every page asks.
    pub reports: Reports,
}

/// The dashboard app over `reports` (its store, clock and zone).
pub fn router(reports: Reports) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/engagement") }))
        .route("/login", get(session::login_form).post(session::login))
        .route("/engagement", get(engagement::page))
        .route("/engagement.csv", get(engagement::csv))
        .route("/activity", get(activity::page))
        .route("/activity.csv", get(activity::csv))
        .route("/customers/{id}", get(activity::customer))
        .route("/events", get(event_log::page))
        .route("/events.csv", get(event_log::csv))
        .route("/funnel", get(funnel::page))
        .route("/funnel.csv", get(funnel::csv))
        .route(assets::STYLESHEET, get(assets::stylesheet))
        .route(assets::SCRIPT, get(assets::script))
        .fallback(problem::not_found)
        .layer(from_fn(local_host::loopback_only))
        .layer(map_response(guard))
        .with_state(AppState { reports })
}

/// The content security policy of every answer: the dashboard's own stylesheet and script,
/// nothing inline (a value that slipped into a page as markup could not run), forms posted only
/// to the dashboard, no framing (a signed-in page cannot be overlaid by another site's clicks).
const SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
     img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Headers on every answer. Every answer depends on who asks (the session's role and workspace,
/// from a cookie) and carries customer data (names, emails, IP addresses): no browser or shared
/// cache may keep one, where a later visitor, or another session's request for the same
/// address, would be served it; no page may be framed, sniffed into another type, run inline
/// code or tell another site its address (which holds the viewer's search).
async fn guard(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (CACHE_CONTROL, "no-store"),
        (CONTENT_SECURITY_POLICY, SECURITY_POLICY),
        (X_FRAME_OPTIONS, "DENY"),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (REFERRER_POLICY, "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
