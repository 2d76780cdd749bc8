//! The dashboard under hostile input: stored values and query parameters that try to inject
//! markup, out-of-range numbers, malformed query strings and paths, and the demo sign-in's
//! redirect, cookies and cross-site posts.

mod common;

use common::{Reply, get, send};

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use engagement_core::report::Reports;
use engagement_core::{Actor, Customer, CustomerId, Event, FixedClock, Timestamp, WorkspaceId};
use engagement_examples::dashboard::router;
use engagement_memory::MemoryStore;
use serde_json::json;

const NOW: &str = "2026-11-20T12:00:00Z";

fn header(reply: &Reply, name: &header::HeaderName) -> Option<String> {
    reply
        .headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

const SCRIPT: &str = "<script>alert(1)</script>";

/// A workspace whose one customer and one event carry markup and a `javascript:` URL in every
/// text field a page shows.
async fn hostile_app() -> Router {
    let now: Timestamp = NOW.parse().unwrap();
    let store = Arc::new(MemoryStore::new());
    let ws = WorkspaceId::new("demo").unwrap();
    let mut customer = Customer::new(CustomerId(1), SCRIPT, "\"><img src=x onerror=alert(1)>");
    customer.code = SCRIPT.into();
    customer.email = format!("{SCRIPT}@example.com");
    store.upsert_customers(&ws, &[customer]).await.unwrap();
    let at: Timestamp = "2026-11-20T11:50:00Z".parse().unwrap();
    let mut events = Vec::new();
    for (i, name) in ["Page Viewed", SCRIPT].into_iter().enumerate() {
        let mut e = Event::new(format!("ev-{i}"), CustomerId(1), name, at);
        e.actor = Actor::Customer;
        e.page.url = "javascript:alert(1)".into();
        e.page.referrer = "javascript:alert(2)".into();
        e.page.path = SCRIPT.into();
        e.page.domain = SCRIPT.into();
        e.geo.country = SCRIPT.into();
        e.geo.city = SCRIPT.into();
        e.metadata.insert(SCRIPT.into(), json!(SCRIPT));
        events.push(e);
    }
    use engagement_core::store::EventStore;
    store.append(&ws, &events).await.unwrap();
    let reports = Reports::new(store).with_clock(Arc::new(FixedClock::new(now)));
    router(reports)
}

/// No raw markup from data, and no link or script URL that is not a path on this site.
fn assert_inert(uri: &str, body: &str) {
    assert!(!body.contains("<script>alert"), "{uri}: raw <script>");
    assert!(!body.contains("<img"), "{uri}: raw <img>");
    for attr in ["href=\"", "src=\"", "action=\"", "data-href=\""] {
        for rest in body.split(attr).skip(1) {
            let value = rest.split('"').next().unwrap();
            assert!(
                value.starts_with('/') && !value.starts_with("//"),
                "{uri}: {attr}{value}\""
            );
        }
    }
}

#[tokio::test]
async fn stored_and_requested_markup_stays_text_on_every_page() {
    let app = hostile_app().await;
    let q = "%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    for uri in [
        "/engagement?range=60m".to_owned(),
        format!("/engagement?range=60m&q={q}"),
        format!("/engagement?range={q}"),
        format!("/engagement?range=custom&from={q}"),
        "/events?range=60m".to_owned(),
        "/events?range=60m&event=ev-0".to_owned(),
        "/events?range=60m&event=ev-1".to_owned(),
        format!("/events?range=60m&name={q}&path={q}&referrer={q}&actor={q}"),
        format!("/events?range=60m&customer={q}"),
        "/activity?customer=1".to_owned(),
        format!("/activity?q={q}&sort={q}"),
        format!("/activity?status={q}"),
        "/customers/1".to_owned(),
        format!("/funnel?steps={q}%2CPage+Viewed"),
        format!("/funnel?steps=Page+Viewed%2C{q}"),
        format!("/funnel?window_days={q}"),
    ] {
        let reply = get(&app, &uri, "administrator").await;
        assert_ne!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{uri}");
        assert_inert(&uri, &reply.body);
    }
    // The panel shows the stored URL and referrer, as text.
    let panel = get(&app, "/events?range=60m&event=ev-1", "administrator").await;
    assert_eq!(panel.status, StatusCode::OK);
    for shown in [
        "javascript:alert(1)",
        "javascript:alert(2)",
        "&lt;script&gt;alert(1)",
    ] {
        assert!(panel.body.contains(shown), "the panel lacks {shown:?}");
    }
    let login = send(
        &app,
        Request::get(format!("/login?next={q}%22%3E"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_inert("/login", &login.body);
}

async fn demo() -> Router {
    common::demo_app(NOW.parse().unwrap()).await.0
}

#[tokio::test]
async fn malformed_or_out_of_range_parameters_answer_the_400_page() {
    let app = demo().await;
    for (uri, field) in [
        ("/activity?page=-1", "page"),
        ("/activity?page=99999999999999999999", "page"),
        ("/activity?page_size=-5", "page_size"),
        ("/activity?customer=abc", "customer"),
        ("/activity.csv?page=-1", "page"),
        ("/events?pos=-1", "pos"),
        ("/events?name=a&name=b", "name"),
        ("/events.csv?pos=x", "pos"),
        ("/customers/abc", "abc"),
        ("/customers/99999999999999999999", "99999999999999999999"),
        ("/customers/%FF", "customer"),
        // A word another word would have been read as the default for: one page exported
        // where every row was asked for, another order than the one asked for.
        ("/activity.csv?scope=everything", "scope"),
        ("/activity?dir=up", "dir"),
        ("/engagement?sort=bogus", "sort"),
        ("/engagement.csv?dir=sideways", "dir"),
    ] {
        let reply = get(&app, uri, "administrator").await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(
            header(&reply, &header::CONTENT_TYPE),
            Some("text/html; charset=utf-8".into()),
            "{uri}"
        );
        let banner = reply
            .body
            .split("role=\"alert\">")
            .nth(1)
            .unwrap_or_else(|| panic!("{uri}: no error banner in {:?}", reply.body));
        assert!(banner.starts_with("invalid query"), "{uri}: {banner}");
        assert!(banner.contains(field), "{uri}: {banner}");
    }
}

#[tokio::test]
async fn the_largest_row_position_does_not_overflow() {
    let app = demo().await;
    let reply = get(&app, "/events?pos=18446744073709551615", "manager").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply
            .body
            .contains("showing 18446744073709551615–18446744073709551615")
    );
}

#[tokio::test]
async fn csv_downloads_are_not_sniffed_as_pages() {
    let app = demo().await;
    for uri in [
        "/engagement.csv?range=24h",
        "/activity.csv?scope=all",
        "/events.csv?range=24h",
        "/funnel.csv",
    ] {
        let reply = get(&app, uri, "administrator").await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        assert_eq!(
            header(&reply, &header::X_CONTENT_TYPE_OPTIONS),
            Some("nosniff".into()),
            "{uri}"
        );
    }
}

fn sign_in(next: &str) -> Request<Body> {
    Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "role=manager&workspace=demo&next={next}"
        )))
        .unwrap()
}

#[tokio::test]
async fn the_sign_in_goes_on_only_to_a_path_of_this_site() {
    let app = demo().await;
    for next in [
        "%2F%2Fevil.test",
        "%2F%5Cevil.test",
        "%2F%5C%5Cevil.test",
        "%5C%5Cevil.test",
        "%2F%09%2Fevil.test",
        "%2F%0D%0ASet-Cookie%3A+role%3Dplatform-admin",
        "https%3A%2F%2Fevil.test",
        "javascript%3Aalert(1)",
        "%2Fcaf%C3%A9",
        "%2Flogin%3Fnext%3D%2F%2Fevil.test",
    ] {
        let reply = send(&app, sign_in(next)).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{next}");
        assert_eq!(
            header(&reply, &header::LOCATION),
            Some("/engagement".into()),
            "{next}"
        );
    }
    // Local paths, even ones with encoded slashes, are followed as they are.
    for (next, location) in [
        ("%2Fevents%3Frange%3D60m", "/events?range=60m"),
        ("%2F%252F%252Fevil.test", "/%2F%2Fevil.test"),
    ] {
        let reply = send(&app, sign_in(next)).await;
        assert_eq!(
            header(&reply, &header::LOCATION),
            Some(location.into()),
            "{next}"
        );
    }
    let reply = send(&app, sign_in("%2Fevents")).await;
    for cookie in reply.headers.get_all(header::SET_COOKIE) {
        let cookie = cookie.to_str().unwrap();
        assert!(
            cookie.ends_with("; Path=/; HttpOnly; SameSite=Lax"),
            "{cookie}"
        );
    }
}

/// A body that is not the sign-in form answers the 400 page (it was axum's plain-text 422 or
/// 415).
#[tokio::test]
async fn a_sign_in_that_is_not_the_form_answers_the_400_page() {
    let app = demo().await;
    for (content_type, body) in [
        ("application/x-www-form-urlencoded", "role=manager"),
        (
            "application/json",
            r#"{"role":"manager","workspace":"demo"}"#,
        ),
    ] {
        let request = Request::post("/login")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        let reply = send(&app, request).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{content_type}");
        assert_eq!(
            header(&reply, &header::CONTENT_TYPE),
            Some("text/html; charset=utf-8".into()),
            "{content_type}"
        );
        assert!(
            reply.body.contains("not a sign-in form"),
            "{content_type}: {}",
            reply.body
        );
        assert!(reply.headers.get(header::SET_COOKIE).is_none());
    }
}

#[tokio::test]
async fn a_sign_in_posted_from_another_site_is_refused() {
    let app = demo().await;
    let with = |name: &str, value: &str| {
        let mut request = sign_in("%2Fevents");
        let headers = request.headers_mut();
        headers.insert(header::HOST, "127.0.0.1:3000".parse().unwrap());
        headers.insert(
            header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
        request
    };
    for (name, value) in [
        ("origin", "https://evil.test"),
        ("origin", "null"),
        ("origin", "http://127.0.0.1:3001"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ] {
        let reply = send(&app, with(name, value)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(
            reply.headers.get(header::SET_COOKIE).is_none(),
            "{name}: {value}"
        );
        assert!(reply.body.contains("role=\"alert\""), "{name}: {value}");
    }
    // The form itself (same origin), and clients that send neither header, sign in.
    for (name, value) in [
        ("origin", "http://127.0.0.1:3000"),
        ("sec-fetch-site", "same-origin"),
        ("user-agent", "curl/8"),
    ] {
        let reply = send(&app, with(name, value)).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{name}: {value}");
        assert_eq!(header(&reply, &header::LOCATION), Some("/events".into()));
    }
}

#[tokio::test]
async fn no_answer_may_be_cached_framed_sniffed_or_run_inline_code() {
    // Every answer depends on the session's cookies and shows customer data: a browser or a
    // proxy that kept one would hand it to the next person asking for the same address. A page
    // that another site framed could be clicked through, and markup that slipped into one must
    // not run.
    let app = demo().await;
    for (uri, role) in [
        ("/engagement?range=24h", "manager"),
        ("/engagement.csv?range=24h", "manager"),
        ("/activity?customer=1", "administrator"),
        ("/activity.csv?scope=all", "administrator"),
        ("/customers/1", "administrator"),
        ("/events?range=24h", "manager"),
        ("/events.csv?range=24h", "manager"),
        ("/funnel", "manager"),
        ("/funnel.csv", "manager"),
        ("/engagement", "customer-service"),
        ("/activity?page=0", "administrator"),
        ("/login", "manager"),
        ("/no-such-page", "manager"),
        ("/assets/dashboard.js", "manager"),
    ] {
        let reply = get(&app, uri, role).await;
        let expect = |name: &header::HeaderName, wanted: &str| {
            let value = header(&reply, name);
            assert!(
                value.as_deref().is_some_and(|v| v.contains(wanted)),
                "{uri} as {role} ({}): {name} {value:?}",
                reply.status
            );
        };
        expect(&header::CACHE_CONTROL, "no-store");
        expect(&header::X_FRAME_OPTIONS, "DENY");
        expect(&header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        expect(&header::REFERRER_POLICY, "same-origin");
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
        ] {
            expect(&header::CONTENT_SECURITY_POLICY, directive);
        }
        // The policy allows no inline code, so the pages must have none.
        assert!(
            !reply.body.contains("<style"),
            "{uri}: an inline stylesheet"
        );
        assert!(
            reply.body.matches("<script").count() == reply.body.matches("<script src=").count(),
            "{uri}: an inline script"
        );
    }
}

#[tokio::test]
async fn the_pages_stylesheet_and_script_are_served_as_such() {
    let app = demo().await;
    let page = get(&app, "/engagement?range=24h", "manager").await;
    for (asset, content_type, sample) in [
        ("/assets/dashboard.css", "text/css", "header.top"),
        (
            "/assets/dashboard.js",
            "text/javascript",
            "data-filter-table",
        ),
    ] {
        assert!(
            page.body.contains(&format!("\"{asset}\"")),
            "no link to {asset}"
        );
        let reply = get(&app, asset, "manager").await;
        assert_eq!(reply.status, StatusCode::OK, "{asset}");
        assert!(
            header(&reply, &header::CONTENT_TYPE).is_some_and(|t| t.starts_with(content_type)),
            "{asset}"
        );
        assert!(reply.body.contains(sample), "{asset}");
    }
}

/// DNS rebinding: a page of another site whose host name its owner resolved to 127.0.0.1 is
/// same-origin with itself, so the browser would let it read what the dashboard answers. The
/// request still names that host, and no page answers it; this machine's names still do.
#[tokio::test]
async fn a_request_for_another_host_name_reads_no_report() {
    let app = demo().await;
    let request = |uri: &str, host: &str| {
        Request::get(uri)
            .header(header::HOST, host)
            .header("sec-fetch-site", "same-origin")
            .body(Body::empty())
            .unwrap()
    };
    for uri in [
        "/events.csv?role=platform-admin&workspace=demo",
        "/activity.csv?role=administrator&workspace=demo&scope=all",
        "/engagement?role=manager&workspace=demo",
        "/login",
        "/no-such-page",
    ] {
        let reply = send(&app, request(uri, "rebind.attacker.example:3000")).await;
        assert_eq!(reply.status, StatusCode::MISDIRECTED_REQUEST, "{uri}");
        assert!(!reply.body.contains("demo"), "{uri}: {}", reply.body);
        assert_eq!(
            reply.headers.get(header::CACHE_CONTROL).unwrap(),
            "no-store",
            "{uri}"
        );
    }
    for host in ["127.0.0.1:3000", "localhost:3000", "[::1]:3000"] {
        let reply = send(
            &app,
            request("/engagement?role=manager&workspace=demo", host),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{host}");
    }
}
