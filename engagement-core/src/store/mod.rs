//! The store contract: the aggregate primitives every backend answers.

pub(crate) mod query;
pub(crate) mod reference;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};

use crate::error::Result;
use crate::model::batch::EventBatch;
use crate::model::customer::Customer;
use crate::model::event::Event;
use crate::model::ids::{CustomerId, EventId, WorkspaceId};
use crate::time::TimeWindow;
use query::{
    ActivityPage, ActivityQuery, AppendOutcome, BucketCount, BucketCountsQuery, CustomerScore,
    EventFilter, EventPage, EventPageQuery, FunnelInput, FunnelQuery, PurgeMode, PurgeOutcome,
    PurgeScope, RankedScore, Ranking, RankingQuery, TopCustomersQuery,
};

/// Where events and customers live, spoken to in aggregate primitives that a backend pushes
/// down (GROUP BY, index scans) instead of handing out every event.
///
/// # Contract
///
/// - **Tenancy.** Every method is scoped to one workspace; nothing ever reads, counts, returns or
///   deletes a row of another.
/// - **Time.** Windows are half-open `[from, to)` over `occurred_at`, in UTC microseconds.
///   Calendar rules are resolved by the caller, which hands over explicit edges.
/// - **Who is counted.** The aggregate primitives ([`ranking`](Self::ranking) and its parts
///   [`top_customers`](Self::top_customers) and [`customer_rank`](Self::customer_rank),
///   [`activity_page`](Self::activity_page), [`bucket_counts`](Self::bucket_counts),
///   [`funnel_input`](Self::funnel_input)) count only
///   events whose actor is [`Actor::Customer`](crate::Actor::Customer). The log primitives
///   ([`event_page`](Self::event_page), [`export`](Self::export), [`event`](Self::event)) return
///   every actor unless the filter narrows them.
/// - **Order.** The log orders by `(occurred_at, id)`, ids compared byte-wise. Rankings order by
///   score descending, then customer id ascending.
/// - **Snapshots.** Each call answers from one consistent state: a page and its total, or rows,
///   their summary and what was read with them, always agree. [`export`](Self::export) is the
///   exception: it reads one chunk at a time, each from its own state, in keyset order; every
///   event stored before it began and not purged meanwhile comes out exactly once, while an
///   append or purge landing during it may show in part.
/// - **Writes.** [`append`](Self::append) is idempotent on `(workspace, event id)` and
///   all-or-nothing. Callers validate events first (see [`Limits`](crate::Limits)).
/// - **Errors.** Backend failures are [`Error::Backend`](crate::Error::Backend) with the driver's
///   error as source, or [`Error::Busy`](crate::Error::Busy) when a lock or pool timed out, or
///   [`Error::Closed`](crate::Error::Closed) after [`close`](Self::close); nothing is written
///   when a write fails.
///
/// The [`reference`](crate::ReferenceStore) implementation defines the expected answer of every
/// primitive; the `conformance` feature checks a backend against it.
#[async_trait]
pub trait EventStore: Debug + Send + Sync + 'static {
    /// Stores a batch of events atomically, skipping ids the workspace already holds.
    ///
    /// An id stored before (or earlier in the same batch) counts as a duplicate when the payload
    /// is the same ([`Event::same_payload`]) and as a conflict otherwise; in both cases the first
    /// write is kept.
    ///
    /// # Errors
    /// A backend failure; then nothing of the batch is stored.
    async fn append(&self, workspace: &WorkspaceId, events: &[Event]) -> Result<AppendOutcome>;

    /// Inserts or replaces customer records (last write wins).
    ///
    /// The records are validated first, by [`Limits::validate_customers`](crate::Limits::validate_customers)
    /// with the default limits, so every backend refuses the same records the same way.
    ///
    /// # Errors
    /// [`Error::InvalidEvent`](crate::Error::InvalidEvent) naming the first invalid record and
    /// its field (a control character or NUL, text over the limit), or a backend failure; in
    /// both cases none of the records is written.
    async fn upsert_customers(&self, workspace: &WorkspaceId, customers: &[Customer])
    -> Result<()>;

    /// The customer records among `ids` that exist, ordered by id.
    ///
    /// # Errors
    /// A backend failure.
    async fn customers(&self, workspace: &WorkspaceId, ids: &[CustomerId])
    -> Result<Vec<Customer>>;

    /// The ranking of the window: the customers with the most events, at most `limit` rows,
    /// score ≥ 1, admin placeholders excluded (customers without a record are not
    /// placeholders); with it, as the query asks, the ranked customers' records and one
    /// customer's place in the full ranking, all read from one state (so no record read with
    /// the ranking is a placeholder, and a standing within `limit` is a row of it).
    ///
    /// # Errors
    /// A backend failure.
    async fn ranking(&self, workspace: &WorkspaceId, query: &RankingQuery) -> Result<Ranking>;

    /// The scores of [`ranking`](Self::ranking) alone. A backend answers it through `ranking`
    /// unless it overrides it.
    ///
    /// # Errors
    /// A backend failure.
    async fn top_customers(
        &self,
        workspace: &WorkspaceId,
        query: &TopCustomersQuery,
    ) -> Result<Vec<CustomerScore>> {
        let ranking = self.ranking(workspace, &RankingQuery::new(*query)).await?;
        Ok(ranking.scores)
    }

    /// One customer's rank and score in the full ranking [`ranking`](Self::ranking) would
    /// produce without a limit; `None` when the customer has no event in the window or is an
    /// admin placeholder. A backend answers it through `ranking` unless it overrides it.
    ///
    /// # Errors
    /// A backend failure.
    async fn customer_rank(
        &self,
        workspace: &WorkspaceId,
        window: TimeWindow,
        customer: CustomerId,
    ) -> Result<Option<RankedScore>> {
        let alone = RankingQuery::new(TopCustomersQuery { window, limit: 0 });
        let ranking = self
            .ranking(workspace, &alone.with_standing_of(customer))
            .await?;
        Ok(ranking.standing)
    }

    /// One page of customer records matching the filter, with their counters over the window,
    /// the number of matching customers and the summary over all of them. Customers with no
    /// events appear with zero counters; events of customers without a record are not listed.
    /// What the query asks to read with the rows ([`ActivityQuery::row_buckets_query`],
    /// [`ActivityQuery::latest_query`]) is what [`bucket_counts`](Self::bucket_counts) and
    /// [`event_page`](Self::event_page) answer, from the same state as the rows.
    ///
    /// # Errors
    /// A backend failure.
    async fn activity_page(
        &self,
        workspace: &WorkspaceId,
        query: &ActivityQuery,
    ) -> Result<ActivityPage>;

    /// Counts of the named events per customer and bucket; only non-zero cells, ordered by
    /// (customer, bucket). Fewer than two edges means no buckets.
    ///
    /// # Errors
    /// A backend failure.
    async fn bucket_counts(
        &self,
        workspace: &WorkspaceId,
        query: &BucketCountsQuery,
    ) -> Result<Vec<BucketCount>>;

    /// The events matching the filter that come after the cursor in newest-first order, at most
    /// `limit`, and the exact number of events matching the filter.
    ///
    /// # Errors
    /// A backend failure.
    async fn event_page(
        &self,
        workspace: &WorkspaceId,
        query: &EventPageQuery,
    ) -> Result<EventPage>;

    /// One event by id.
    ///
    /// # Errors
    /// A backend failure.
    async fn event(&self, workspace: &WorkspaceId, id: &EventId) -> Result<Option<Event>>;

    /// Every event matching the filter, oldest first, as a stream of non-empty batches that the
    /// backend fills one bounded chunk at a time (no connection or lock is held while the
    /// consumer is slow), each chunk from the state it reads: an append or purge landing during
    /// the export may show in part (see the trait's snapshots). A failure ends the stream with an `Err` item, so an incomplete export
    /// is always detectable. [`export_events`] turns the batches into owned events.
    ///
    /// # Errors
    /// A backend failure, as the stream's last item (the batches before it were complete).
    fn export(
        &self,
        workspace: WorkspaceId,
        filter: EventFilter,
    ) -> BoxStream<'static, Result<EventBatch>>;

    /// What a funnel over the steps needs; see [`FunnelInput`] for exactly which events.
    ///
    /// # Errors
    /// A backend failure.
    async fn funnel_input(
        &self,
        workspace: &WorkspaceId,
        query: &FunnelQuery,
    ) -> Result<FunnelInput>;

    /// Deletes what the scope names (in bounded chunks, so a rerun after an interruption reaches
    /// the same state), or with [`PurgeMode::DryRun`] only counts it.
    ///
    /// # Errors
    /// A backend failure; chunks already deleted stay deleted.
    async fn purge(
        &self,
        workspace: &WorkspaceId,
        scope: PurgeScope,
        mode: PurgeMode,
    ) -> Result<PurgeOutcome>;

    /// Ends the store's connections once the calls using them have finished; a host calls it
    /// as it shuts down, so that a server sees its sessions end and SQLite folds its write-ahead
    /// log into the database file and removes it. Every clone of the store shares the close;
    /// a SQL store answers later calls with [`Error::Closed`](crate::Error::Closed). A store
    /// without connections (the in-memory ones, and this default) has nothing to end and keeps
    /// answering.
    async fn close(&self) {}
}

macro_rules! forward_event_store {
    ($($wrapper:ident),*) => {$(
        #[async_trait]
        impl<T: EventStore + ?Sized> EventStore for $wrapper<T> {
            async fn append(&self, workspace: &WorkspaceId, events: &[Event]) -> Result<AppendOutcome> {
                (**self).append(workspace, events).await
            }
            async fn upsert_customers(&self, workspace: &WorkspaceId, customers: &[Customer]) -> Result<()> {
                (**self).upsert_customers(workspace, customers).await
            }
            async fn customers(&self, workspace: &WorkspaceId, ids: &[CustomerId]) -> Result<Vec<Customer>> {
                (**self).customers(workspace, ids).await
            }
            async fn ranking(&self, workspace: &WorkspaceId, query: &RankingQuery) -> Result<Ranking> {
                (**self).ranking(workspace, query).await
            }
            async fn top_customers(&self, workspace: &WorkspaceId, query: &TopCustomersQuery) -> Result<Vec<CustomerScore>> {
                (**self).top_customers(workspace, query).await
            }
            async fn customer_rank(&self, workspace: &WorkspaceId, window: TimeWindow, customer: CustomerId) -> Result<Option<RankedScore>> {
                (**self).customer_rank(workspace, window, customer).await
            }
            async fn activity_page(&self, workspace: &WorkspaceId, query: &ActivityQuery) -> Result<ActivityPage> {
                (**self).activity_page(workspace, query).await
            }
            async fn bucket_counts(&self, workspace: &WorkspaceId, query: &BucketCountsQuery) -> Result<Vec<BucketCount>> {
                (**self).bucket_counts(workspace, query).await
            }
            async fn event_page(&self, workspace: &WorkspaceId, query: &EventPageQuery) -> Result<EventPage> {
                (**self).event_page(workspace, query).await
            }
            async fn event(&self, workspace: &WorkspaceId, id: &EventId) -> Result<Option<Event>> {
                (**self).event(workspace, id).await
            }
            fn export(&self, workspace: WorkspaceId, filter: EventFilter) -> BoxStream<'static, Result<EventBatch>> {
                (**self).export(workspace, filter)
            }
            async fn funnel_input(&self, workspace: &WorkspaceId, query: &FunnelQuery) -> Result<FunnelInput> {
                (**self).funnel_input(workspace, query).await
            }
            async fn purge(&self, workspace: &WorkspaceId, scope: PurgeScope, mode: PurgeMode) -> Result<PurgeOutcome> {
                (**self).purge(workspace, scope, mode).await
            }
            async fn close(&self) {
                (**self).close().await
            }
        }
    )*};
}

forward_event_store!(Arc, Box);

/// The events of an [`EventStore::export`] stream as owned [`Event`]s, in order, for callers
/// that want events rather than batches (tests, small exports). An `Err` item ends the stream,
/// as in the source.
///
/// ```
/// use futures::{StreamExt, TryStreamExt};
/// use engagement_core::store::export_events;
/// use engagement_core::{CustomerId, Event, EventFilter, EventStore, ReferenceStore, TimeWindow, Timestamp, WorkspaceId};
///
/// # futures::executor::block_on(async {
/// let store = ReferenceStore::default();
/// let ws = WorkspaceId::new("acme")?;
/// store.append(&ws, &[Event::new("e1", CustomerId(1), "Page Viewed", Timestamp::EPOCH)]).await?;
/// let events: Vec<Event> = export_events(store.export(ws, EventFilter::new(TimeWindow::ALL)))
///     .try_collect()
///     .await?;
/// assert_eq!(events.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub fn export_events(
    batches: BoxStream<'static, Result<EventBatch>>,
) -> BoxStream<'static, Result<Event>> {
    batches
        .scan(false, |failed, batch| {
            if *failed {
                return futures::future::ready(None);
            }
            let items: Vec<Result<Event>> = match batch.and_then(|batch| {
                batch
                    .to_events()
                    .map_err(|e| crate::Error::backend("export", e))
            }) {
                Ok(events) => events.into_iter().map(Ok).collect(),
                Err(e) => {
                    *failed = true;
                    vec![Err(e)]
                }
            };
            futures::future::ready(Some(stream::iter(items)))
        })
        .flatten()
        .boxed()
}
