//! [`MemoryStore`]: the map of workspaces and the [`EventStore`] implementation.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use parking_lot::RwLock;

use engagement_core::{
    ActivityPage, ActivityQuery, AppendOutcome, BucketCount, BucketCountsQuery, Customer,
    CustomerId, CustomerScore, Event, EventFilter, EventId, EventKey, EventPage, EventPageQuery,
    EventStore, FunnelInput, FunnelQuery, PurgeOutcome, PurgeScope, RankedScore, Result,
    TimeWindow, TopCustomersQuery, WorkspaceId,
};

use crate::directory::Record;
use crate::workspace::Workspace;

/// Events an export reads per lock acquisition.
const EXPORT_CHUNK: usize = 4096;

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

/// Where an export stands between chunks.
struct ExportState {
    store: MemoryStore,
    workspace: WorkspaceId,
    filter: EventFilter,
    after: Option<EventKey>,
    done: bool,
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
        let records: Vec<Record> = customers.iter().cloned().map(Record::new).collect();
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
        let mut found: Vec<Customer> = self.read(workspace, |ws| {
            ids.iter()
                .filter_map(|&id| Some(ws.dir.record(ws.dir.dense(id)?)?.customer.clone()))
                .collect()
        });
        found.sort_by_key(|c| c.id);
        found.dedup_by_key(|c| c.id);
        Ok(found)
    }

    async fn top_customers(
        &self,
        workspace: &WorkspaceId,
        query: &TopCustomersQuery,
    ) -> Result<Vec<CustomerScore>> {
        Ok(self.read(workspace, |ws| ws.top_customers(query)))
    }

    async fn customer_rank(
        &self,
        workspace: &WorkspaceId,
        window: TimeWindow,
        customer: CustomerId,
    ) -> Result<Option<RankedScore>> {
        Ok(self.read(workspace, |ws| ws.customer_rank(window, customer)))
    }

    async fn activity_page(
        &self,
        workspace: &WorkspaceId,
        query: &ActivityQuery,
    ) -> Result<ActivityPage> {
        Ok(self.read(workspace, |ws| ws.activity_page(query)))
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
    ) -> BoxStream<'static, Result<Event>> {
        let state = ExportState {
            store: self.clone(),
            workspace,
            filter,
            after: None,
            done: false,
        };
        stream::unfold(state, |mut s| async move {
            if s.done {
                return None;
            }
            let chunk = s.store.read(&s.workspace, |ws| {
                ws.export_chunk(&s.filter, s.after.as_ref(), EXPORT_CHUNK)
            });
            let items: Vec<Result<Event>> = match chunk {
                Err(e) => {
                    s.done = true;
                    vec![Err(e.into())]
                }
                Ok(events) if events.is_empty() => return None,
                Ok(events) => {
                    s.done = events.len() < EXPORT_CHUNK;
                    s.after = events.last().map(Event::key);
                    events.into_iter().map(Ok).collect()
                }
            };
            Some((stream::iter(items), s))
        })
        .flatten()
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
        dry_run: bool,
    ) -> Result<PurgeOutcome> {
        if dry_run {
            return Ok(self.read(workspace, |ws| ws.purge_count(scope)));
        }
        Ok(self.write(workspace, |ws| ws.purge(scope)))
    }
}
