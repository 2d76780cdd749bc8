//! Answers only requests addressed to this machine's loopback names.
//!
//! The dashboard listens on 127.0.0.1 and takes the role from the request (a demo login's
//! cookie or query parameters), so its one protection is that no other site's page can reach
//! it. DNS rebinding gets round that: a hostile page whose host name its owner then resolves
//! to 127.0.0.1 is same-origin with itself and could read every report through the browser
//! of whoever runs the dashboard. Such a request still names the hostile host in its `Host`
//! header, so a request naming any host but `localhost` or a loopback address is refused
//! with `421 Misdirected Request` before it reaches a page.

use std::net::IpAddr;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header::HOST;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Passes on a request addressed to a loopback name (or to no host, as a client that is not
/// a browser may send); refuses the rest.
pub(crate) async fn loopback_only(request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(HOST)
        .map(|host| host.to_str().unwrap_or_default())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    match host {
        Some(host) if !is_loopback(host) => (
            StatusCode::MISDIRECTED_REQUEST,
            "This dashboard answers only at localhost or a loopback address (127.0.0.1, [::1]).",
        )
            .into_response(),
        _ => next.run(request).await,
    }
}

/// Whether `host` (a `Host` header: a name or address, with or without a port) names this
/// machine's loopback interface.
fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split_once(']').map_or("", |(address, _)| address),
        None => host.split_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn only_loopback_names_are_this_machine() {
        for local in [
            "127.0.0.1",
            "127.0.0.1:3000",
            "localhost",
            "LocalHost:80",
            "[::1]:3000",
            "[::1]",
            "127.1.2.3",
        ] {
            assert!(is_loopback(local), "{local}");
        }
        for other in [
            "rebind.attacker.example",
            "rebind.attacker.example:3000",
            "localhost.example",
            "10.0.0.1:3000",
            "[::2]:80",
            "",
            "127.0.0.1.nip.io",
        ] {
            assert!(!is_loopback(other), "{other}");
        }
    }
}
