//! [`ReferenceStore`]: the reference functions behind the [`EventStore`] trait.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};

use super::{Directory, activity, funnel, log, ranking, writes};
use crate::error::Result;
use crate::model::batch::EventBatch;
use crate::model::customer::Customer;
use crate::model::event::Event;
use crate::model::ids::{CustomerId, EventId, WorkspaceId};
use crate::model::validate::Limits;
use crate::store::EventStore;
use crate::store::query::{
    ActivityPage, ActivityQuery, AppendOutcome, BucketCount, BucketCountsQuery, EventFilter,
    EventPage, EventPageQuery, FunnelInput, FunnelQuery, PurgeMode, PurgeOutcome, PurgeScope,
    Ranking, RankingQuery,
};

/// Events per exported batch: small, so that consumers meet batch edges in small tests.
const EXPORT_BATCH: usize = 64;

/// The oracle backend: events and customers in memory, every primitive answered by the plain
/// functions of [`reference`](crate::reference).
///
/// It favours being obviously right over being fast (every query scans the workspace), so use it
/// in tests and as the expected answer for other backends, not in production; the
/// `engagement-memory` crate is the in-memory backend meant for use.
///
/// ```
/// use engagement_core::{
///     CustomerId, Event, EventStore, ReferenceStore, TimeWindow, Timestamp, TopCustomersQuery,
///     WorkspaceId,
/// };
///
/// # futures::executor::block_on(async {
/// let store = ReferenceStore::default();
/// let ws = WorkspaceId::new("acme")?;
/// let at = Timestamp::from_micros(1_000);
/// let events = [
///     Event::new("e1", CustomerId(7), "Page Viewed", at),
///     Event::new("e1", CustomerId(7), "Page Viewed", at), // the same id again: a duplicate
/// ];
/// let outcome = store.append(&ws, &events).await?;
/// assert_eq!((outcome.inserted, outcome.duplicates), (1, 1));
///
/// let query = TopCustomersQuery { window: TimeWindow::ALL, limit: 100 };
/// let top = store.top_customers(&ws, &query).await?;
/// assert_eq!((top[0].customer, top[0].score), (CustomerId(7), 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct ReferenceStore {
    workspaces: Mutex<HashMap<WorkspaceId, Workspace>>,
}

/// One workspace's data: its events in insertion order and its customer directory.
#[derive(Debug, Default)]
struct Workspace {
    events: Vec<Event>,
    customers: Directory,
}

impl ReferenceStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The map of workspaces. A panic in another thread cannot leave it half-updated (every
    /// write is computed first and applied in one step), so a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, HashMap<WorkspaceId, Workspace>> {
        self.workspaces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Answers from one workspace's data (an empty workspace when it has none). The lock is held
    /// only while `answer` runs, never across an `.await`.
    fn read<T>(&self, workspace: &WorkspaceId, answer: impl FnOnce(&Workspace) -> T) -> T {
        let workspaces = self.lock();
        match workspaces.get(workspace) {
            Some(data) => answer(data),
            None => answer(&Workspace::default()),
        }
    }

    fn write<T>(&self, workspace: &WorkspaceId, change: impl FnOnce(&mut Workspace) -> T) -> T {
        let mut workspaces = self.lock();
        change(workspaces.entry(workspace.clone()).or_default())
    }
}

#[async_trait]
impl EventStore for ReferenceStore {
    async fn append(&self, workspace: &WorkspaceId, events: &[Event]) -> Result<AppendOutcome> {
        Ok(self.write(workspace, |data| {
            let (outcome, new) = writes::append(&data.events, events);
            data.events.extend(new);
            outcome
        }))
    }

    async fn upsert_customers(
        &self,
        workspace: &WorkspaceId,
        customers: &[Customer],
    ) -> Result<()> {
        Limits::default().validate_customers(customers)?;
        self.write(workspace, |data| {
            for customer in customers {
                data.customers
                    .insert(customer.id, customer.clone().as_stored());
            }
        });
        Ok(())
    }

    async fn customers(
        &self,
        workspace: &WorkspaceId,
        ids: &[CustomerId],
    ) -> Result<Vec<Customer>> {
        let wanted: BTreeSet<CustomerId> = ids.iter().copied().collect();
        Ok(self.read(workspace, |data| {
            wanted
                .iter()
                .filter_map(|id| data.customers.get(id).cloned())
                .collect()
        }))
    }

    async fn ranking(&self, workspace: &WorkspaceId, query: &RankingQuery) -> Result<Ranking> {
        Ok(self.read(workspace, |data| {
            let scores = ranking::top_customers(&data.events, &data.customers, &query.top);
            let records = if query.records {
                let ids: BTreeSet<CustomerId> = scores.iter().map(|s| s.customer).collect();
                ids.iter()
                    .filter_map(|id| data.customers.get(id).cloned())
                    .collect()
            } else {
                Vec::new()
            };
            let standing = query.standing_of.and_then(|customer| {
                ranking::customer_rank(&data.events, &data.customers, query.top.window, customer)
            });
            Ranking {
                scores,
                records,
                standing,
            }
        }))
    }

    async fn activity_page(
        &self,
        workspace: &WorkspaceId,
        query: &ActivityQuery,
    ) -> Result<ActivityPage> {
        Ok(self.read(workspace, |data| {
            activity::activity_page(&data.events, &data.customers, query)
        }))
    }

    async fn bucket_counts(
        &self,
        workspace: &WorkspaceId,
        query: &BucketCountsQuery,
    ) -> Result<Vec<BucketCount>> {
        Ok(self.read(workspace, |data| {
            activity::bucket_counts(&data.events, query)
        }))
    }

    async fn event_page(
        &self,
        workspace: &WorkspaceId,
        query: &EventPageQuery,
    ) -> Result<EventPage> {
        Ok(self.read(workspace, |data| log::event_page(&data.events, query)))
    }

    async fn event(&self, workspace: &WorkspaceId, id: &EventId) -> Result<Option<Event>> {
        Ok(self.read(workspace, |data| log::event(&data.events, id)))
    }

    /// Snapshots the matching events under the lock, then streams the copy in batches of
    /// 64 events: a slow consumer holds nothing.
    fn export(
        &self,
        workspace: WorkspaceId,
        filter: EventFilter,
    ) -> BoxStream<'static, Result<EventBatch>> {
        let events = self.read(&workspace, |data| log::export(&data.events, &filter));
        let batches: Vec<Result<EventBatch>> = events
            .chunks(EXPORT_BATCH)
            .map(|chunk| Ok(EventBatch::from_events(chunk)))
            .collect();
        stream::iter(batches).boxed()
    }

    async fn funnel_input(
        &self,
        workspace: &WorkspaceId,
        query: &FunnelQuery,
    ) -> Result<FunnelInput> {
        Ok(self.read(workspace, |data| funnel::funnel_input(&data.events, query)))
    }

    async fn purge(
        &self,
        workspace: &WorkspaceId,
        scope: PurgeScope,
        mode: PurgeMode,
    ) -> Result<PurgeOutcome> {
        if mode.is_dry_run() {
            return Ok(self.read(workspace, |data| {
                writes::purge(&data.events, &data.customers, scope)
            }));
        }
        Ok(self.write(workspace, |data| {
            let outcome = writes::purge(&data.events, &data.customers, scope);
            data.events.retain(|e| !writes::purge_removes(scope, e));
            if let PurgeScope::Customer { customer } = scope {
                data.customers.remove(&customer);
            }
            outcome
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{TimeWindow, Timestamp};
    use futures::executor::block_on;

    fn ws(name: &str) -> WorkspaceId {
        WorkspaceId::new(name).unwrap()
    }

    #[test]
    fn workspaces_do_not_see_each_other() {
        let store = ReferenceStore::new();
        let e = Event::new("1", CustomerId(1), "X", Timestamp::from_micros(1));
        block_on(store.append(&ws("a"), std::slice::from_ref(&e))).unwrap();
        assert_eq!(
            block_on(store.event(&ws("a"), &e.id)).unwrap(),
            Some(e.clone())
        );
        assert_eq!(block_on(store.event(&ws("b"), &e.id)).unwrap(), None);
        let outcome = block_on(store.append(&ws("b"), &[e])).unwrap();
        assert_eq!(outcome.inserted, 1);
    }

    #[test]
    fn export_is_a_snapshot_that_outlives_the_lock() {
        let store = ReferenceStore::new();
        let w = ws("a");
        let events: Vec<Event> = (0..3)
            .map(|i| {
                Event::new(
                    format!("{i}"),
                    CustomerId(1),
                    "X",
                    Timestamp::from_micros(i),
                )
            })
            .collect();
        block_on(store.append(&w, &events)).unwrap();
        let stream = store.export(w.clone(), EventFilter::new(TimeWindow::ALL));
        // Writing while the stream is alive neither blocks nor changes what it yields.
        let scope = PurgeScope::Before {
            cutoff: Timestamp::MAX,
        };
        assert_eq!(
            block_on(store.purge(&w, scope, PurgeMode::Delete))
                .unwrap()
                .events,
            3
        );
        let got: Vec<Event> = block_on(
            crate::store::export_events(stream)
                .map(|r| r.unwrap())
                .collect::<Vec<_>>(),
        );
        assert_eq!(got, events);
    }

    #[test]
    fn dry_run_purge_changes_nothing() {
        let store = ReferenceStore::new();
        let w = ws("a");
        let e = Event::new("1", CustomerId(4), "X", Timestamp::from_micros(1));
        block_on(store.append(&w, &[e])).unwrap();
        block_on(store.upsert_customers(&w, &[Customer::new(CustomerId(4), "A", "B")])).unwrap();
        let scope = PurgeScope::Customer {
            customer: CustomerId(4),
        };
        let expected = PurgeOutcome {
            events: 1,
            customers: 1,
        };
        assert_eq!(
            block_on(store.purge(&w, scope, PurgeMode::DryRun)).unwrap(),
            expected
        );
        assert_eq!(
            block_on(store.purge(&w, scope, PurgeMode::Delete)).unwrap(),
            expected
        );
        assert_eq!(
            block_on(store.purge(&w, scope, PurgeMode::Delete)).unwrap(),
            PurgeOutcome::default()
        );
        assert!(
            block_on(store.customers(&w, &[CustomerId(4)]))
                .unwrap()
                .is_empty()
        );
    }
}
