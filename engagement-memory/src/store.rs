//! [`MemoryStore`]: the map of workspaces and the [`EventStore`] implementation.

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use futures::stream::{BoxStream, Stream, StreamExt};
use parking_lot::RwLock;

use engagement_core::{
    ActivityPage, ActivityQuery, AppendOutcome, BucketCount, BucketCountsQuery, Customer,
    CustomerId, Event, EventBatch, EventFilter, EventId, EventKey, EventPage, EventPageQuery,
    EventStore, FunnelInput, FunnelQuery, Limits, PurgeMode, PurgeOutcome, PurgeScope, Ranking,
    RankingQuery, Result, WorkspaceId,
};

use crate::directory::Record;
use crate::workspace::Workspace;

/// Events an export reads per lock acquisition: one batch, small enough to stay in a core's
/// cache until the consumer takes it.
const EXPORT_CHUNK: usize = 2048;

/// An exact, in-memory [`EventStore`]: each workspace's events in time-ordered columns with
/// interned values, per-customer postings and an id index. Cloning is cheap and shares the data.
///
/// Every call takes one workspace lock (a read lock for queries, a write lock for writes) for
/// the duration of its synchronous work, so each answer comes from one consistent state; no
/// lock is ever held across an `.await`. [`export`](EventStore::export) takes the read lock
/// once per chunk and resumes after the last `(occurred_at, id)` it returned.
#[derive(Clone, Default)]
pub struct MemoryStore {
    workspaces: Arc<RwLock<HashMap<WorkspaceId, Arc<RwLock<Workspace>>>>>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("workspaces", &self.workspaces.read().len())
            .finish()
    }
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Approximate heap bytes held by every workspace (columns, dictionaries, indexes, customer
    /// records), counting allocated capacity rather than used length.
    pub fn resident_bytes(&self) -> usize {
        let map = self.workspaces.read();
        map.values()
            .map(|ws| std::mem::size_of::<Workspace>() + ws.read().heap_bytes())
            .sum::<usize>()
            + map.capacity() * std::mem::size_of::<(WorkspaceId, Arc<RwLock<Workspace>>)>()
    }

    /// How many events the store holds across all workspaces.
    pub fn event_count(&self) -> usize {
        self.workspaces
            .read()
            .values()
            .map(|ws| ws.read().cols.len())
            .sum()
    }

    /// The workspace's state, if it has any.
    fn get(&self, workspace: &WorkspaceId) -> Option<Arc<RwLock<Workspace>>> {
        self.workspaces.read().get(workspace).cloned()
    }

    /// Runs `f` on the workspace under its read lock (on an empty workspace if it has no state).
    fn read<R>(&self, workspace: &WorkspaceId, f: impl FnOnce(&Workspace) -> R) -> R {
        match self.get(workspace) {
            Some(ws) => f(&ws.read()),
            None => f(&Workspace::default()),
        }
    }

    /// Runs `f` on the workspace under its write lock, creating it if needed.
    fn write<R>(&self, workspace: &WorkspaceId, f: impl FnOnce(&mut Workspace) -> R) -> R {
        let ws = match self.get(workspace) {
            Some(ws) => ws,
            None => self
                .workspaces
                .write()
                .entry(workspace.clone())
                .or_default()
                .clone(),
        };
        f(&mut ws.write())
    }
}

/// An export in progress: the key to resume after, and how much text an event held in the
/// last batch (to size the next one).
///
/// Reading a batch is synchronous (a read lock, no I/O), so the stream reads the next batch
/// inside `poll_next` and never returns `Pending`.
struct ExportStream {
    store: MemoryStore,
    workspace: WorkspaceId,
    filter: EventFilter,
    after: Option<EventKey>,
    text_per_event: usize,
    done: bool,
}

impl Stream for ExportStream {
    type Item = Result<EventBatch>;

    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<EventBatch>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let mut batch = EventBatch::with_capacity(EXPORT_CHUNK, this.text_per_event);
        this.store.read(&this.workspace, |ws| {
            ws.export_chunk(&this.filter, this.after.as_ref(), EXPORT_CHUNK, &mut batch);
        });
        this.done = batch.len() < EXPORT_CHUNK;
        let Some(last) = batch.last() else {
            return Poll::Ready(None);
        };
        this.after = Some(last.key());
        this.text_per_event = batch.text_len() / batch.len() + 1;
        Poll::Ready(Some(Ok(batch)))
    }
}

#[async_trait]
impl EventStore for MemoryStore {
    async fn append(&self, workspace: &WorkspaceId, events: &[Event]) -> Result<AppendOutcome> {
        if events.is_empty() {
            return Ok(AppendOutcome::default());
        }
        Ok(self.write(workspace, |ws| ws.append(events))?)
    }

    async fn upsert_customers(
        &self,
        workspace: &WorkspaceId,
        customers: &[Customer],
    ) -> Result<()> {
        Limits::default().validate_customers(customers)?;
        let records: Vec<Record> = customers
            .iter()
            .cloned()
            .map(|c| Record::new(c.as_stored()))
            .collect();
        if !records.is_empty() {
            self.write(workspace, |ws| {
                records.into_iter().for_each(|r| ws.dir.upsert(r))
            });
        }
        Ok(())
    }

    async fn customers(
        &self,
        workspace: &WorkspaceId,
        ids: &[CustomerId],
    ) -> Result<Vec<Customer>> {
        Ok(self.read(workspace, |ws| ws.records(ids)))
    }

    async fn ranking(&self, workspace: &WorkspaceId, query: &RankingQuery) -> Result<Ranking> {
        Ok(self.read(workspace, |ws| ws.ranking(query)))
    }

    async fn activity_page(
        &self,
        workspace: &WorkspaceId,
        query: &ActivityQuery,
    ) -> Result<ActivityPage> {
        Ok(self.read(workspace, |ws| ws.activity_page(query))?)
    }

    async fn bucket_counts(
        &self,
        workspace: &WorkspaceId,
        query: &BucketCountsQuery,
    ) -> Result<Vec<BucketCount>> {
        Ok(self.read(workspace, |ws| ws.bucket_counts(query)))
    }

    async fn event_page(
        &self,
        workspace: &WorkspaceId,
        query: &EventPageQuery,
    ) -> Result<EventPage> {
        Ok(self.read(workspace, |ws| ws.event_page(query))?)
    }

    async fn event(&self, workspace: &WorkspaceId, id: &EventId) -> Result<Option<Event>> {
        Ok(self.read(workspace, |ws| ws.event(id))?)
    }

    fn export(
        &self,
        workspace: WorkspaceId,
        filter: EventFilter,
    ) -> BoxStream<'static, Result<EventBatch>> {
        ExportStream {
            store: self.clone(),
            workspace,
            filter,
            after: None,
            text_per_event: 160,
            done: false,
        }
        .boxed()
    }

    async fn funnel_input(
        &self,
        workspace: &WorkspaceId,
        query: &FunnelQuery,
    ) -> Result<FunnelInput> {
        Ok(self.read(workspace, |ws| ws.funnel_input(query)))
    }

    async fn purge(
        &self,
        workspace: &WorkspaceId,
        scope: PurgeScope,
        mode: PurgeMode,
    ) -> Result<PurgeOutcome> {
        if mode.is_dry_run() {
            return Ok(self.read(workspace, |ws| ws.purge_count(scope)));
        }
        Ok(self.write(workspace, |ws| ws.purge(scope)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;
    use std::collections::HashSet;

    use engagement_core::{TimeWindow, Timestamp, TopCustomersQuery};

    fn ws() -> WorkspaceId {
        WorkspaceId::new("w").unwrap()
    }

    fn events(prefix: &str, n: usize, at: i64) -> Vec<Event> {
        (0..n)
            .map(|i| {
                let mut e = Event::new(
                    format!("{prefix}{i:06}"),
                    CustomerId((i % 97) as i64),
                    "Page Viewed",
                    Timestamp::from_micros(at),
                );
                e.page.path = format!("/p/{}", i % 50);
                e.page.domain = "shop.acme.test".into();
                e.ip = Some(std::net::Ipv4Addr::from(i as u32).into());
                e
            })
            .collect()
    }

    #[test]
    fn the_store_is_shareable() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<MemoryStore>();
    }

    #[tokio::test]
    async fn export_resumes_by_key_while_events_arrive() {
        let store = MemoryStore::new();
        let first = events("b", EXPORT_CHUNK * 2 + 10, 100);
        store.append(&ws(), &first).await.unwrap();
        let mut stream = engagement_core::store::export_events(
            store.export(ws(), EventFilter::new(TimeWindow::ALL)),
        );
        let mut seen = Vec::new();
        while seen.len() < EXPORT_CHUNK + 5 {
            seen.push(stream.try_next().await.unwrap().unwrap());
        }
        // Older than the cursor (skipped by keyset), and newer (picked up).
        store.append(&ws(), &events("a", 10, 100)).await.unwrap();
        store.append(&ws(), &events("c", 10, 100)).await.unwrap();
        seen.extend(stream.try_collect::<Vec<_>>().await.unwrap());
        let keys: Vec<_> = seen.iter().map(Event::key).collect();
        assert!(keys.is_sorted_by(|a, b| a < b), "ascending, no repeats");
        let ids: HashSet<&str> = seen.iter().map(|e| e.id.as_str()).collect();
        assert!(first.iter().all(|e| ids.contains(e.id.as_str())));
        assert_eq!(seen.len(), first.len() + 10);
        assert_eq!(seen.last().unwrap().id.as_str(), "c000009");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_and_readers_lose_nothing() {
        let store = MemoryStore::new();
        let tasks: Vec<_> = (0..4)
            .map(|t| {
                let store = store.clone();
                tokio::spawn(async move {
                    for b in 0..20 {
                        let batch = events(&format!("t{t}-{b}-"), 50, 1000 - b);
                        store.append(&ws(), &batch).await.unwrap();
                        let q = TopCustomersQuery {
                            window: TimeWindow::ALL,
                            limit: 5,
                        };
                        assert!(!store.top_customers(&ws(), &q).await.unwrap().is_empty());
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let q = EventPageQuery {
            filter: EventFilter::new(TimeWindow::ALL),
            after: None,
            limit: 1,
        };
        assert_eq!(
            store.event_page(&ws(), &q).await.unwrap().total,
            4 * 20 * 50
        );
        assert_eq!(store.event_count(), 4000);
    }

    #[tokio::test]
    async fn resident_bytes_grow_with_the_data_and_stay_compact() {
        let store = MemoryStore::new();
        assert_eq!(store.resident_bytes(), 0);
        for chunk in 0..20 {
            let batch = events(&format!("{chunk:02}-"), 10_000, chunk);
            store.append(&ws(), &batch).await.unwrap();
        }
        let bytes = store.resident_bytes();
        let per_event = bytes / store.event_count();
        // Every column, index and posting is counted: at least the 8-byte timestamps and the
        // ids, and far less than a Vec<Event> (hundreds of bytes an event). (At 200,000 events
        // the id index has just doubled: 21 of these bytes; 13 at 10M.)
        assert!(
            (40..=128).contains(&per_event),
            "{per_event} bytes per event"
        );
        assert!(format!("{store:?}").contains("workspaces: 1"));
    }
}
