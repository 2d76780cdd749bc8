//! [`Workspace`]: one tenant's events, dictionaries and customer directory.

use std::ops::Range;

use engagement_core::{Customer, CustomerId, Event, TimeWindow};

use crate::columns::Columns;
use crate::dict::Dictionaries;
use crate::directory::Directory;
use crate::error::MemoryError;

/// Everything one workspace holds. Queries live in the modules named after them.
#[derive(Debug, Default)]
pub(crate) struct Workspace {
    /// The events, in log order.
    pub(crate) cols: Columns,
    /// Interned values the columns refer to.
    pub(crate) dict: Dictionaries,
    /// Customers, their records and postings.
    pub(crate) dir: Directory,
}

impl Workspace {
    /// The event at `pos`, rebuilt.
    pub(crate) fn event_at(&self, pos: usize) -> Result<Event, MemoryError> {
        let customer = self.dir.id(self.cols.customer[pos]);
        self.dict.decode(&self.cols, pos, customer)
    }

    /// The positions of the events in `window`.
    pub(crate) fn window(&self, window: TimeWindow) -> Range<usize> {
        self.cols
            .time_range(window.from.as_micros(), window.to.as_micros())
    }

    /// The part of customer `d`'s postings that lies in `range`.
    pub(crate) fn postings_in(&self, d: u32, range: &Range<usize>) -> &[u32] {
        let list = &self.dir.postings[d as usize];
        let start = list.partition_point(|&p| (p as usize) < range.start);
        let end = list
            .partition_point(|&p| (p as usize) < range.end)
            .max(start);
        &list[start..end]
    }

    /// The records among `ids` that exist, ordered by id, each once.
    pub(crate) fn records(&self, ids: &[CustomerId]) -> Vec<Customer> {
        let mut found: Vec<Customer> = ids
            .iter()
            .filter_map(|&id| Some(self.dir.record(self.dir.dense(id)?)?.customer.clone()))
            .collect();
        found.sort_by_key(|c| c.id);
        found.dedup_by_key(|c| c.id);
        found
    }

    /// Approximate heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.cols.heap_bytes() + self.dict.heap_bytes() + self.dir.heap_bytes()
    }
}
