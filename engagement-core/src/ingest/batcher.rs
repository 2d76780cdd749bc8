//! Per-workspace batches that close by size or by age: pure bookkeeping, no I/O.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::model::event::Event;
use crate::model::ids::WorkspaceId;

/// A batch ready to be written.
pub(crate) type Batch = (WorkspaceId, Vec<Event>);

#[derive(Debug)]
struct Open {
    events: Vec<Event>,
    since: Instant,
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
            max_batch: max_batch.max(1),
            max_age,
            open: HashMap::new(),
        }
    }

    /// Adds an event; returns its workspace's batch when that is now full.
    pub(crate) fn push(
        &mut self,
        workspace: WorkspaceId,
        event: Event,
        now: Instant,
    ) -> Option<Batch> {
        let open = match self.open.get_mut(&workspace) {
            Some(open) => open,
            None => self.open.entry(workspace.clone()).or_insert_with(|| Open {
                events: Vec::with_capacity(self.max_batch.min(4_096)),
                since: now,
            }),
        };
        open.events.push(event);
        if open.events.len() >= self.max_batch {
            let open = self.open.remove(&workspace)?;
            return Some((workspace, open.events));
        }
        None
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
            .filter_map(|ws| self.open.remove(&ws).map(|open| (ws, open.events)))
            .collect()
    }

    /// When the next batch comes due, if any is open.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.open
            .values()
            .map(|open| open.since + self.max_age)
            .min()
    }

    /// Every open batch, whatever its age.
    pub(crate) fn drain(&mut self) -> Vec<Batch> {
        self.open
            .drain()
            .map(|(ws, open)| (ws, open.events))
            .collect()
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

    #[test]
    fn batches_close_by_size_per_workspace() {
        let now = Instant::now();
        let mut b = Batcher::new(2, Duration::from_secs(1));
        assert!(b.push(ws("a"), ev("1"), now).is_none());
        assert!(b.push(ws("b"), ev("2"), now).is_none());
        let (w, events) = b.push(ws("a"), ev("3"), now).unwrap();
        assert_eq!((w, events.len()), (ws("a"), 2));
        assert_eq!(b.pending(), 1);
    }

    #[test]
    fn batches_close_by_age() {
        let start = Instant::now();
        let mut b = Batcher::new(100, Duration::from_millis(250));
        b.push(ws("a"), ev("1"), start);
        b.push(ws("b"), ev("2"), start + Duration::from_millis(100));
        assert_eq!(b.next_deadline(), Some(start + Duration::from_millis(250)));
        assert!(b.due(start + Duration::from_millis(249)).is_empty());
        let due = b.due(start + Duration::from_millis(250));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].0, ws("a"));
        assert_eq!(b.next_deadline(), Some(start + Duration::from_millis(350)));
        assert_eq!(b.drain().len(), 1);
        assert_eq!(b.next_deadline(), None);
    }
}
