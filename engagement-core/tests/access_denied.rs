//! Every report, drill-down, export and funnel checks the viewer before any storage call.

use std::sync::Arc;

use async_trait::async_trait;
use engagement_core::report::{
    ActivityRequest, EngagementRequest, EventLogRequest, FunnelRequest, Reports,
};
use engagement_core::{
    ActivityPage, ActivityQuery, AppendOutcome, BucketCount, BucketCountsQuery, Customer,
    CustomerId, Error, Event, EventBatch, EventFilter, EventId, EventPage, EventPageQuery,
    EventStore, ForbiddenReason, FunnelInput, FunnelQuery, Lookback, PurgeMode, PurgeOutcome,
    PurgeScope, RangeSpec, Ranking, RankingQuery, Result, Role, Viewer, WorkspaceId,
};
use futures::stream::BoxStream;

/// A store that fails the test if anything reaches it.
#[derive(Debug)]
struct UntouchableStore;

#[async_trait]
impl EventStore for UntouchableStore {
    async fn append(&self, _: &WorkspaceId, _: &[Event]) -> Result<AppendOutcome> {
        panic!("append reached the store")
    }
    async fn upsert_customers(&self, _: &WorkspaceId, _: &[Customer]) -> Result<()> {
        panic!("upsert_customers reached the store")
    }
    async fn customers(&self, _: &WorkspaceId, _: &[CustomerId]) -> Result<Vec<Customer>> {
        panic!("customers reached the store")
    }
    async fn ranking(&self, _: &WorkspaceId, _: &RankingQuery) -> Result<Ranking> {
        panic!("ranking reached the store")
    }
    async fn activity_page(&self, _: &WorkspaceId, _: &ActivityQuery) -> Result<ActivityPage> {
        panic!("activity_page reached the store")
    }
    async fn bucket_counts(
        &self,
        _: &WorkspaceId,
        _: &BucketCountsQuery,
    ) -> Result<Vec<BucketCount>> {
        panic!("bucket_counts reached the store")
    }
    async fn event_page(&self, _: &WorkspaceId, _: &EventPageQuery) -> Result<EventPage> {
        panic!("event_page reached the store")
    }
    async fn event(&self, _: &WorkspaceId, _: &EventId) -> Result<Option<Event>> {
        panic!("event reached the store")
    }
    fn export(&self, _: WorkspaceId, _: EventFilter) -> BoxStream<'static, Result<EventBatch>> {
        panic!("export reached the store")
    }
    async fn funnel_input(&self, _: &WorkspaceId, _: &FunnelQuery) -> Result<FunnelInput> {
        panic!("funnel_input reached the store")
    }
    async fn purge(&self, _: &WorkspaceId, _: PurgeScope, _: PurgeMode) -> Result<PurgeOutcome> {
        panic!("purge reached the store")
    }
}

fn ws(name: &str) -> WorkspaceId {
    WorkspaceId::new(name).unwrap()
}

/// Viewers that must be refused everything in workspace "a", with the reason expected.
fn refused_viewers() -> Vec<(Viewer, &'static str)> {
    vec![
        (Viewer::new(ws("a"), Role::CustomerService), "role"),
        (Viewer::new(ws("a"), Role::from_name("intern")), "unknown"),
        (Viewer::new(ws("b"), Role::PlatformAdmin), "workspace"),
    ]
}

fn assert_forbidden<T: std::fmt::Debug>(result: Result<T>, expected: &str) {
    match result {
        Err(Error::Forbidden { reason, .. }) => {
            let matches = match reason {
                ForbiddenReason::RoleTooLow { .. } => expected == "role",
                ForbiddenReason::UnknownRole => expected == "unknown",
                ForbiddenReason::OtherWorkspace => expected == "workspace",
                _ => false,
            };
            assert!(matches, "expected a {expected} refusal, got {reason:?}");
        }
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

#[tokio::test]
async fn refused_viewers_never_reach_the_store() {
    let reports = Reports::new(Arc::new(UntouchableStore));
    let a = ws("a");
    for (viewer, expected) in refused_viewers() {
        assert_forbidden(
            reports
                .engagement(&viewer, &EngagementRequest::new(a.clone()))
                .await,
            expected,
        );
        assert_forbidden(
            reports
                .customer_standing(
                    &viewer,
                    &a,
                    RangeSpec::last(Lookback::Hours24),
                    CustomerId(1),
                )
                .await,
            expected,
        );
        assert_forbidden(
            reports
                .activity(&viewer, &ActivityRequest::new(a.clone()))
                .await,
            expected,
        );
        assert_forbidden(
            reports
                .activity_all(&viewer, &ActivityRequest::new(a.clone()))
                .await,
            expected,
        );
        assert_forbidden(
            reports.customer_detail(&viewer, &a, CustomerId(1)).await,
            expected,
        );
        let log = EventLogRequest::new(a.clone());
        assert_forbidden(reports.event_log(&viewer, &log).await, expected);
        assert_forbidden(
            reports.event_detail(&viewer, &a, &EventId::from("x")).await,
            expected,
        );
        assert_forbidden(
            reports.export_event_log(&viewer, &log).map(|_| ()),
            expected,
        );
        assert_forbidden(
            reports
                .funnel(&viewer, &FunnelRequest::new(a.clone()))
                .await,
            expected,
        );
    }
}

#[tokio::test]
async fn a_manager_is_refused_the_admin_only_activity_page() {
    let reports = Reports::new(Arc::new(UntouchableStore));
    let manager = Viewer::new(ws("a"), Role::Manager);
    assert_forbidden(
        reports
            .activity(&manager, &ActivityRequest::new(ws("a")))
            .await,
        "role",
    );
    assert_forbidden(
        reports
            .customer_detail(&manager, &ws("a"), CustomerId(1))
            .await,
        "role",
    );
}

#[tokio::test]
async fn bad_requests_are_refused_before_the_store() {
    let reports = Reports::new(Arc::new(UntouchableStore));
    let admin = Viewer::new(ws("a"), Role::Administrator);
    let ranking = EngagementRequest::new(ws("a")).with_limit(101);
    assert!(matches!(
        reports.engagement(&admin, &ranking).await,
        Err(Error::InvalidQuery { .. })
    ));
    let five_weeks = EngagementRequest::new(ws("a")).with_range(RangeSpec::Custom {
        from: chrono::NaiveDate::from_ymd_opt(2026, 10, 1),
        to: chrono::NaiveDate::from_ymd_opt(2026, 11, 4),
    });
    let err = reports.engagement(&admin, &five_weeks).await.unwrap_err();
    assert_eq!(
        err.to_string().split(" (").next(),
        Some("Date Range must be less than 4 weeks")
    );
    let mut log = EventLogRequest::new(ws("a"));
    log.page_size = 0;
    assert!(matches!(
        reports.event_log(&admin, &log).await,
        Err(Error::InvalidQuery { .. })
    ));
    let mut funnel = FunnelRequest::new(ws("a"));
    funnel.steps.truncate(1);
    assert!(matches!(
        reports.funnel(&admin, &funnel).await,
        Err(Error::InvalidQuery { .. })
    ));
}
