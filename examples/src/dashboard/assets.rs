//! The stylesheet and the script every page links to, served from the dashboard itself so that
//! its content security policy can refuse every inline style and script (markup that slipped
//! into a page could not run).

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

/// Where the stylesheet is served.
pub(crate) const STYLESHEET: &str = "/assets/dashboard.css";

/// Where the script is served.
pub(crate) const SCRIPT: &str = "/assets/dashboard.js";

/// `GET /assets/dashboard.css`.
pub(crate) async fn stylesheet() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/dashboard.css"),
    )
}

/// `GET /assets/dashboard.js`: the rows that open on a click, the table filters that narrow
/// as you type, the copy buttons.
pub(crate) async fn script() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/dashboard.js"),
    )
}
