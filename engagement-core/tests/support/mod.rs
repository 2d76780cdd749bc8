//! A store wrapper for tests that need a backend to misbehave in controlled ways.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use async_trait::async_trait;
use engagement_core::{
    ActivityPage, ActivityQuery, AppendOutcome, BucketCount, BucketCountsQuery, Customer,
    CustomerId, Error, Event, EventBatch, EventFilter, EventId, EventPage, EventPageQuery,
    EventStore, FunnelInput, FunnelQuery, PurgeMode, PurgeOutcome, PurgeScope, Ranking,
    RankingQuery, ReferenceStore, Result, Timestamp, WorkspaceId, names,
};
use futures::stream::BoxStream;
use tokio::sync::Semaphore;

/// The reference store, with faults switched on by the test.
#[derive(Debug)]
pub(crate) struct Faulty {
    /// The store that answers.
    pub(crate) inner: ReferenceStore,
    /// The next this-many appends fail with [`Error::Busy`] before touching the store.
    pub(crate) failing_appends: AtomicU32,
    /// The next this-many appends are refused for good ([`Error::Refused`]) before touching
    /// the store (a value its database cannot hold).
    pub(crate) refusing_appends: AtomicU32,
    /// The next this-many appends panic before touching the store (a driver or a store with a
    /// bug).
    pub(crate) panicking_appends: AtomicU32,
    /// Appends attempted, failed ones included.
    pub(crate) append_calls: AtomicU64,
    /// The first event id of every append attempted, in the order the appends were called.
    pub(crate) first_ids: Mutex<Vec<EventId>>,
    /// Every append waits for a permit here first (a slow or stuck database).
    pub(crate) gate: Option<Semaphore>,
    /// Added to every purge count (a backend that misreports).
    pub(crate) purge_over_count: u64,
    /// The next this-many rankings flag their first customer an admin placeholder right after
    /// they are read (a host flagging an account while a report runs).
    pub(crate) flagging_rankings: AtomicU32,
    /// Before every read of customers, activity, buckets or log pages, this customer of this
    /// workspace gets a link open and an order at this instant (a writer that never rests).
    pub(crate) busy_customer: Option<(WorkspaceId, CustomerId, Timestamp)>,
    /// Writes made for `busy_customer`, which number their events.
    pub(crate) busy_writes: AtomicU64,
}

impl Default for Faulty {
    fn default() -> Self {
        Self {
            inner: ReferenceStore::default(),
            failing_appends: AtomicU32::new(0),
            refusing_appends: AtomicU32::new(0),
            panicking_appends: AtomicU32::new(0),
            append_calls: AtomicU64::new(0),
            first_ids: Mutex::new(Vec::new()),
            gate: None,
            purge_over_count: 0,
            flagging_rankings: AtomicU32::new(0),
            busy_customer: None,
            busy_writes: AtomicU64::new(0),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("injected fault")]
struct InjectedFault;

/// Takes one from `count` unless it is at zero; whether it did.
fn take_one(count: &AtomicU32) -> bool {
    count
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

impl Faulty {
    /// The write of `busy_customer` before a read, if there is one.
    async fn write_before_read(&self) -> Result<()> {
        let Some((ws, customer, at)) = &self.busy_customer else {
            return Ok(());
        };
        let n = self.busy_writes.fetch_add(1, Ordering::SeqCst);
        let events = [names::LINK_OPENED, names::ORDER_SUBMITTED]
            .map(|name| Event::new(format!("busy-{n}-{name}"), *customer, name, *at));
        self.inner.append(ws, &events).await.map(drop)
    }
}

#[async_trait]
impl EventStore for Faulty {
    async fn append(&self, ws: &WorkspaceId, events: &[Event]) -> Result<AppendOutcome> {
        self.append_calls.fetch_add(1, Ordering::SeqCst);
        if let Some(first) = events.first() {
            let mut first_ids = self.first_ids.lock().unwrap_or_else(|e| e.into_inner());
            first_ids.push(first.id.clone());
        }
        if let Some(gate) = &self.gate {
            let _permit = gate
                .acquire()
                .await
                .map_err(|e| Error::backend("faulty", e))?;
        }
        assert!(
            !take_one(&self.panicking_appends),
            "injected panic inside append"
        );
        if take_one(&self.failing_appends) {
            return Err(Error::Busy {
                backend: "faulty",
                source: Box::new(InjectedFault),
            });
        }
        if take_one(&self.refusing_appends) {
            return Err(Error::Refused {
                backend: "faulty",
                source: Box::new(InjectedFault),
            });
        }
        self.inner.append(ws, events).await
    }
    async fn upsert_customers(&self, ws: &WorkspaceId, customers: &[Customer]) -> Result<()> {
        self.inner.upsert_customers(ws, customers).await
    }
    async fn customers(&self, ws: &WorkspaceId, ids: &[CustomerId]) -> Result<Vec<Customer>> {
        self.write_before_read().await?;
        self.inner.customers(ws, ids).await
    }
    async fn ranking(&self, ws: &WorkspaceId, query: &RankingQuery) -> Result<Ranking> {
        let ranking = self.inner.ranking(ws, query).await?;
        if let Some(first) = ranking.scores.first()
            && take_one(&self.flagging_rankings)
        {
            let mut flagged = Customer::new(first.customer, "Ops", "Account");
            flagged.is_admin_placeholder = true;
            self.inner.upsert_customers(ws, &[flagged]).await?;
        }
        Ok(ranking)
    }
    async fn activity_page(&self, ws: &WorkspaceId, query: &ActivityQuery) -> Result<ActivityPage> {
        self.write_before_read().await?;
        self.inner.activity_page(ws, query).await
    }
    async fn bucket_counts(
        &self,
        ws: &WorkspaceId,
        query: &BucketCountsQuery,
    ) -> Result<Vec<BucketCount>> {
        self.write_before_read().await?;
        self.inner.bucket_counts(ws, query).await
    }
    async fn event_page(&self, ws: &WorkspaceId, query: &EventPageQuery) -> Result<EventPage> {
        self.write_before_read().await?;
        self.inner.event_page(ws, query).await
    }
    async fn event(&self, ws: &WorkspaceId, id: &EventId) -> Result<Option<Event>> {
        self.inner.event(ws, id).await
    }
    fn export(
        &self,
        ws: WorkspaceId,
        filter: EventFilter,
    ) -> BoxStream<'static, Result<EventBatch>> {
        self.inner.export(ws, filter)
    }
    async fn funnel_input(&self, ws: &WorkspaceId, query: &FunnelQuery) -> Result<FunnelInput> {
        self.inner.funnel_input(ws, query).await
    }
    async fn purge(
        &self,
        ws: &WorkspaceId,
        scope: PurgeScope,
        mode: PurgeMode,
    ) -> Result<PurgeOutcome> {
        let mut outcome = self.inner.purge(ws, scope, mode).await?;
        outcome.events += self.purge_over_count;
        Ok(outcome)
    }
}
