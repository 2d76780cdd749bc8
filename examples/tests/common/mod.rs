//! The dashboard the tests drive: a MemoryStore with a small demo workspace, at a fixed "now",
//! and requests sent to it as a signed-in browser would.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use engagement_core::report::Reports;
use engagement_core::{FixedClock, Timestamp, WorkspaceId};
use engagement_examples::dashboard::router;
use engagement_examples::demo_data::{self, DemoSize};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// The dashboard over 60 demo customers at `now`, and the reports behind it.
pub(crate) async fn demo_app(now: Timestamp) -> (Router, Reports) {
    let store = Arc::new(engagement_memory::MemoryStore::new());
    let ws = WorkspaceId::new("demo").expect("a valid workspace");
    let size = DemoSize {
        customers: 60,
        daily_events: 2,
    };
    demo_data::load(store.as_ref(), &ws, size, now)
        .await
        .expect("demo data loads");
    let reports = Reports::new(store).with_clock(Arc::new(FixedClock::new(now)));
    (router(reports.clone()), reports)
}

/// A response, its body read whole as text.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

/// Sends `request` to `app` and reads the whole reply.
pub(crate) async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

/// GET `uri` signed in (by cookie) as `role` of workspace demo.
pub(crate) async fn get(app: &Router, uri: &str, role: &str) -> Reply {
    let request = Request::get(uri)
        .header(header::COOKIE, format!("role={role}; workspace=demo"))
        .body(Body::empty())
        .unwrap();
    send(app, request).await
}
