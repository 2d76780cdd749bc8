//! The event log: keyset pages newest first with an exact total, single events, and the
//! bounded chunks an export reads.

use engagement_core::{
    Event, EventBatch, EventFilter, EventId, EventKey, EventPage, EventPageQuery,
};

use crate::error::MemoryError;
use crate::filter::Compiled;
use crate::workspace::Workspace;

impl Workspace {
    /// See [`EventStore::event_page`](engagement_core::EventStore::event_page).
    pub(crate) fn event_page(&self, query: &EventPageQuery) -> Result<EventPage, MemoryError> {
        let filter = Compiled::new(self, &query.filter);
        let range = filter.range.clone();
        let total = filter.count(self, range.clone());
        let end = match &query.after {
            Some(key) => range
                .end
                .min(self.cols.lower_bound(key.at.as_micros(), key.id.as_str()))
                .max(range.start),
            None => range.end,
        };
        let events = filter
            .positions(self, range.start..end, query.limit, true)
            .into_iter()
            .map(|p| self.event_at(p))
            .collect::<Result<_, _>>()?;
        Ok(EventPage { events, total })
    }

    /// See [`EventStore::event`](engagement_core::EventStore::event).
    pub(crate) fn event(&self, id: &EventId) -> Result<Option<Event>, MemoryError> {
        self.cols
            .ids
            .find(id.as_str())
            .map(|p| self.event_at(p))
            .transpose()
    }

    /// Fills `out` (emptied first, its buffers reused) with up to `limit` events matching
    /// `filter` strictly after `after`, oldest first.
    pub(crate) fn export_chunk(
        &self,
        filter: &EventFilter,
        after: Option<&EventKey>,
        limit: usize,
        out: &mut EventBatch,
    ) {
        out.clear();
        let compiled = Compiled::new(self, filter);
        let range = compiled.range.clone();
        let start = match after {
            Some(key) => {
                let (at, id) = (key.at.as_micros(), key.id.as_str());
                let mut p = self.cols.lower_bound(at, id);
                if p < self.cols.len() && self.cols.cmp_key(p, at, id).is_eq() {
                    p += 1;
                }
                p.clamp(range.start, range.end)
            }
            None => range.start,
        };
        for p in compiled.positions(self, start..range.end, limit, false) {
            let customer = self.dir.id(self.cols.customer[p]);
            out.push(self.dict.view(&self.cols, p, customer));
        }
    }
}
