//! The conformance suite run against the reference store itself: the cases' hand-computed
//! answers check the oracle, and the macro is exercised end to end. A deliberately wrong store
//! shows that the differential test catches a backend that disagrees.

use std::panic::{AssertUnwindSafe, catch_unwind};

use async_trait::async_trait;
use engagement_core::{
    ActivityPage, ActivityQuery, AppendOutcome, BucketCount, BucketCountsQuery, Customer,
    CustomerId, CustomerScore, Event, EventFilter, EventId, EventPage, EventPageQuery, EventStore,
    FunnelInput, FunnelQuery, PurgeOutcome, PurgeScope, RankedScore, ReferenceStore, Result,
    TimeWindow, TopCustomersQuery, WorkspaceId, conformance, conformance_tests,
};
use futures::stream::BoxStream;

conformance_tests!(|| async { ReferenceStore::default() });

/// The reference store, except that a purge reports one event more than it deleted.
#[derive(Debug, Default)]
struct OverCountingPurge(ReferenceStore);

#[async_trait]
impl EventStore for OverCountingPurge {
    async fn append(&self, ws: &WorkspaceId, events: &[Event]) -> Result<AppendOutcome> {
        self.0.append(ws, events).await
    }
    async fn upsert_customers(&self, ws: &WorkspaceId, customers: &[Customer]) -> Result<()> {
        self.0.upsert_customers(ws, customers).await
    }
    async fn customers(&self, ws: &WorkspaceId, ids: &[CustomerId]) -> Result<Vec<Customer>> {
        self.0.customers(ws, ids).await
    }
    async fn top_customers(
        &self,
        ws: &WorkspaceId,
        query: &TopCustomersQuery,
    ) -> Result<Vec<CustomerScore>> {
        self.0.top_customers(ws, query).await
    }
    async fn customer_rank(
        &self,
        ws: &WorkspaceId,
        window: TimeWindow,
        customer: CustomerId,
    ) -> Result<Option<RankedScore>> {
        self.0.customer_rank(ws, window, customer).await
    }
    async fn activity_page(&self, ws: &WorkspaceId, query: &ActivityQuery) -> Result<ActivityPage> {
        self.0.activity_page(ws, query).await
    }
    async fn bucket_counts(
        &self,
        ws: &WorkspaceId,
        query: &BucketCountsQuery,
    ) -> Result<Vec<BucketCount>> {
        self.0.bucket_counts(ws, query).await
    }
    async fn event_page(&self, ws: &WorkspaceId, query: &EventPageQuery) -> Result<EventPage> {
        self.0.event_page(ws, query).await
    }
    async fn event(&self, ws: &WorkspaceId, id: &EventId) -> Result<Option<Event>> {
        self.0.event(ws, id).await
    }
    fn export(&self, ws: WorkspaceId, filter: EventFilter) -> BoxStream<'static, Result<Event>> {
        self.0.export(ws, filter)
    }
    async fn funnel_input(&self, ws: &WorkspaceId, query: &FunnelQuery) -> Result<FunnelInput> {
        self.0.funnel_input(ws, query).await
    }
    async fn purge(
        &self,
        ws: &WorkspaceId,
        scope: PurgeScope,
        dry_run: bool,
    ) -> Result<PurgeOutcome> {
        let mut outcome = self.0.purge(ws, scope, dry_run).await?;
        outcome.events += 1;
        Ok(outcome)
    }
}

#[test]
fn differential_test_catches_a_wrong_backend() {
    let run = catch_unwind(AssertUnwindSafe(|| {
        conformance::differential(|| async { OverCountingPurge::default() });
    }));
    let message = run
        .err()
        .and_then(|panic| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(
        message.contains("purge differs from the reference"),
        "expected a purge mismatch, got {message:?}"
    );
}

#[test]
fn a_case_catches_a_wrong_backend() {
    let run = catch_unwind(AssertUnwindSafe(|| {
        conformance::run(conformance::purge_before_cutoff(
            &OverCountingPurge::default(),
        ));
    }));
    assert!(
        run.is_err(),
        "purge_before_cutoff accepted a wrong purge count"
    );
}
