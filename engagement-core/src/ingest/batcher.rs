//! Per-workspace batches that close by size or by age: pure bookkeeping, no I/O.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::senders::{SenderId, Senders};
use crate::model::event::Event;
use crate::model::ids::WorkspaceId;

/// What a deadline must leave before the end of `Instant`, well over the millisecond Tokio
/// rounds a timer's deadline up by (with a `+` that panics past the end): a deadline closer to
/// the end is one no clock reaches.
const TIMER_HEADROOM: Duration = Duration::from_secs(1);

/// A batch ready to be written.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) workspace: WorkspaceId,
    pub(crate) events: Vec<Event>,
    /// Whose events it holds, for the senders' flushes.
    pub(crate) senders: Senders,
}

#[derive(Debug)]
struct Open {
    events: Vec<Event>,
    senders: Senders,
    since: Instant,
}

impl Open {
    fn close(self, workspace: WorkspaceId) -> Batch {
        Batch {
            workspace,
            events: self.events,
            senders: self.senders,
        }
    }
}

/// Open batches, one per workspace.
#[derive(Debug)]
pub(crate) struct Batcher {
    max_batch: usize,
    max_age: Duration,
    open: HashMap<WorkspaceId, Open>,
}

impl Batcher {
    pub(crate) fn new(max_batch: usize, max_age: Duration) -> Self {
        Self {
            max_batch,
            max_age,
            open: HashMap::new(),
        }
    }

    /// Adds an event `sender` sent; returns its workspace's batch when that is now full.
    pub(crate) fn push(
        &mut self,
        workspace: WorkspaceId,
        event: Event,
        sender: SenderId,
        now: Instant,
    ) -> Option<Batch> {
        let max_batch = self.max_batch;
        let open = self.open_for(&workspace, now);
        open.events.push(event);
        open.senders.add(sender, 1);
        if open.events.len() >= max_batch {
            let open = self.open.remove(&workspace)?;
            return Some(open.close(workspace));
        }
        None
    }

    /// Adds events `sender` sent, in order, filling the workspace's open batch and closing one batch per
    /// `max_batch` events; returns the batches closed (the remainder stays open). Each event
    /// is moved once, whatever the number of batches.
    pub(crate) fn push_many(
        &mut self,
        workspace: WorkspaceId,
        events: Vec<Event>,
        sender: SenderId,
        now: Instant,
    ) -> Vec<Batch> {
        let max_batch = self.max_batch;
        let mut closed = Vec::new();
        let mut events = events.into_iter();
        while events.len() > 0 {
            let open = self.open_for(&workspace, now);
            let taken = (max_batch - open.events.len()).min(events.len());
            open.events.extend(events.by_ref().take(taken));
            open.senders.add(sender, taken);
            if open.events.len() >= max_batch
                && let Some(open) = self.open.remove(&workspace)
            {
                closed.push(open.close(workspace.clone()));
            }
        }
        closed
    }

    fn open_for(&mut self, workspace: &WorkspaceId, now: Instant) -> &mut Open {
        // Grown as events come: reserving `max_batch` events up front would cost every
        // workspace with one event waiting the memory of a whole batch (312 KB at the default).
        self.open.entry(workspace.clone()).or_insert_with(|| Open {
            events: Vec::new(),
            senders: Senders::default(),
            since: now,
        })
    }

    /// Removes and returns every batch whose oldest event has waited `max_age` by `now`.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<Batch> {
        let ready: Vec<WorkspaceId> = self
            .open
            .iter()
            .filter(|(_, open)| now.saturating_duration_since(open.since) >= self.max_age)
            .map(|(ws, _)| ws.clone())
            .collect();
        ready
            .into_iter()
            .filter_map(|ws| self.open.remove(&ws).map(|open| open.close(ws)))
            .collect()
    }

    /// When the next batch comes due, if any is open and comes due at an instant the clock can
    /// name with [`TIMER_HEADROOM`] to spare: a `max_age` past that (`Duration::MAX`, "never
    /// by age") would overflow the `Instant`, in this sum or in the timer's, and panic the
    /// worker, losing its open batches.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.open
            .values()
            .filter_map(|open| open.since.checked_add(self.max_age))
            .filter(|due| due.checked_add(TIMER_HEADROOM).is_some())
            .min()
    }

    /// Every open batch, whatever its age.
    pub(crate) fn drain(&mut self) -> Vec<Batch> {
        self.open.drain().map(|(ws, open)| open.close(ws)).collect()
    }

    /// Events waiting in open batches.
    pub(crate) fn pending(&self) -> usize {
        self.open.values().map(|open| open.events.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::CustomerId;
    use crate::time::Timestamp;

    fn ev(id: &str) -> Event {
        Event::new(id, CustomerId(1), "X", Timestamp::EPOCH)
    }

    fn ws(name: &str) -> WorkspaceId {
        WorkspaceId::new(name).unwrap()
    }

    const SHARED: SenderId = SenderId::SHARED;

    #[test]
    fn batches_close_by_size_per_workspace() {
        let now = Instant::now();
        let mut b = Batcher::new(2, Duration::from_secs(1));
        assert!(b.push(ws("a"), ev("1"), SHARED, now).is_none());
        assert!(b.push(ws("b"), ev("2"), SHARED, now).is_none());
        let batch = b.push(ws("a"), ev("3"), SHARED, now).unwrap();
        assert_eq!((batch.workspace, batch.events.len()), (ws("a"), 2));
        assert_eq!(b.pending(), 1);
    }

    #[test]
    fn many_events_fill_the_open_batch_then_close_full_ones() {
        let now = Instant::now();
        let mut b = Batcher::new(3, Duration::from_secs(1));
        assert!(b.push(ws("a"), ev("0"), SHARED, now).is_none());
        let many = (1..=7).map(|i| ev(&i.to_string())).collect();
        let closed = b.push_many(ws("a"), many, SHARED, now);
        let ids: Vec<Vec<&str>> = closed
            .iter()
            .map(|batch| batch.events.iter().map(|e| e.id.as_str()).collect())
            .collect();
        assert_eq!(ids, [["0", "1", "2"], ["3", "4", "5"]]);
        assert_eq!(b.pending(), 2);
        assert!(b.push_many(ws("a"), Vec::new(), SHARED, now).is_empty());
        assert_eq!(b.drain().len(), 1);
    }

    #[test]
    fn batches_close_by_age() {
        let start = Instant::now();
        let mut b = Batcher::new(100, Duration::from_millis(250));
        b.push(ws("a"), ev("1"), SHARED, start);
        b.push(ws("b"), ev("2"), SHARED, start + Duration::from_millis(100));
        assert_eq!(b.next_deadline(), Some(start + Duration::from_millis(250)));
        assert!(b.due(start + Duration::from_millis(249)).is_empty());
        let due = b.due(start + Duration::from_millis(250));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].workspace, ws("a"));
        assert_eq!(b.next_deadline(), Some(start + Duration::from_millis(350)));
        assert_eq!(b.drain().len(), 1);
        assert_eq!(b.next_deadline(), None);
    }
}
