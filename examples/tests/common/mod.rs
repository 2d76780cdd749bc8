//! The dashboard the tests drive: a MemoryStore with a small demo workspace, at a fixed "now".

use std::sync::Arc;

use axum::Router;
use engagement_core::report::Reports;
use engagement_core::{FixedClock, Timestamp, WorkspaceId};
use engagement_examples::dashboard::router;
use engagement_examples::demo_data::{self, DemoSize};

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
