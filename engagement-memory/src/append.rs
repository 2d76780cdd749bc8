//! Idempotent, all-or-nothing appends that keep the columns in log order.
//!
//! A batch is first classified (new, duplicate, conflict) and encoded without touching the
//! columns. Classifying gives each new event the next event number and claims its id's slot
//! in the id index under it: one probe finds a stored id or indexes a new one. When the batch
//! lands after everything stored, in its own order (the common case), the rows are pushed at
//! the end; otherwise they are sorted and spliced in, and a late event moves only the stored
//! suffix after its place, so the cost of an out-of-order arrival is proportional to how late
//! it is. Either way the id index is not touched again: it maps ids to event numbers, which
//! moves keep. A batch refused on the way releases its claims.

use std::borrow::Cow;

use engagement_core::{AppendOutcome, Event};

use crate::arena::StrArena;
use crate::columns::Row;
use crate::dict::metadata_json;
use crate::error::MemoryError;
use crate::workspace::Workspace;

/// Events whose index slots (of their ids, then of their customers) are fetched together:
/// enough misses to overlap, few enough that their cache lines are all still there for the
/// lookups.
const TOUCHED_TOGETHER: usize = 64;

impl Workspace {
    /// Stores the new events of `events`; see [`EventStore::append`](engagement_core::EventStore::append).
    pub(crate) fn append(&mut self, events: &[Event]) -> Result<AppendOutcome, MemoryError> {
        let held = self.cols.len();
        if held + events.len() >= u32::MAX as usize {
            return Err(MemoryError::Full {
                held,
                adding: events.len(),
            });
        }
        let mut fresh: Vec<(&Event, Cow<'static, str>)> = Vec::with_capacity(events.len());
        let mut outcome = match self.classify(events, held, &mut fresh) {
            Ok(outcome) => outcome,
            Err(err) => {
                self.release(held, &fresh);
                return Err(err);
            }
        };
        // Nothing below fails: encode (interning only adds values) and store. The customers'
        // index slots are fetched a chunk at a time, as the ids' were.
        let mut rows: Vec<Row<'_>> = Vec::with_capacity(fresh.len());
        let mut hashes = Vec::with_capacity(TOUCHED_TOGETHER);
        for chunk in fresh.chunks(TOUCHED_TOGETHER) {
            hashes.clear();
            hashes.extend(chunk.iter().map(|(e, _)| self.dir.hash(e.customer)));
            self.dir.touch(&hashes);
            for ((event, json), &hash) in chunk.iter().zip(&hashes) {
                let customer = self.dir.dense_or_insert(event.customer, hash);
                let number = (held + rows.len()) as u32;
                rows.push(self.dict.encode(event, customer, json, number));
            }
        }
        outcome.inserted = rows.len() as u64;
        let in_order = rows.is_sorted_by(|a, b| a.key_cmp(b).is_lt());
        let after_all = match (held.checked_sub(1), rows.first()) {
            (Some(last), Some(first)) => self.cols.cmp_key(last, first.at, &first.id).is_lt(),
            _ => true,
        };
        if in_order && after_all {
            self.push_at_end(rows);
        } else {
            if !in_order {
                rows.sort_unstable_by(Row::key_cmp);
            }
            self.splice(rows);
        }
        Ok(outcome)
    }

    /// Claims the id of each new event of `events` in the id index under its event number
    /// (`held` and its rank among the new ones), and puts the new events in `fresh`; counts the
    /// others as duplicates or conflicts. On an error the claims of `fresh` stay, to be
    /// released.
    ///
    /// The ids are hashed and their index slots fetched a chunk at a time, before the chunk's
    /// claims (see [`IdColumn::touch`](crate::ids::IdColumn::touch)).
    fn classify<'a>(
        &mut self,
        events: &'a [Event],
        held: usize,
        fresh: &mut Vec<(&'a Event, Cow<'static, str>)>,
    ) -> Result<AppendOutcome, MemoryError> {
        let mut outcome = AppendOutcome::default();
        let mut hashes = Vec::with_capacity(TOUCHED_TOGETHER);
        for chunk in events.chunks(TOUCHED_TOGETHER) {
            hashes.clear();
            hashes.extend(chunk.iter().map(|e| self.cols.ids.hash(e.id.as_str())));
            self.cols.ids.touch(&hashes);
            for (event, &hash) in chunk.iter().zip(&hashes) {
                let next = (held + fresh.len()) as u32;
                let pending = |number: u32| fresh[number as usize - held].0.id.as_str();
                let same = match self.cols.ids.claim(event.id.as_str(), hash, next, pending) {
                    None => {
                        // Serialized for new events only (a retried batch repeats every one).
                        match metadata_json(&event.metadata) {
                            Ok(json) => fresh.push((event, json)),
                            Err(err) => {
                                let id = std::iter::once(event.id.as_str());
                                self.cols.ids.release(next as usize, id);
                                return Err(err);
                            }
                        }
                        continue;
                    }
                    Some(pos) if pos < held => self.event_at(pos)?.same_payload(event),
                    Some(pos) => fresh[pos - held].0.same_payload(event),
                };
                if same {
                    outcome.duplicates += 1;
                } else {
                    outcome.conflicts.push(event.id.clone());
                }
            }
        }
        Ok(outcome)
    }

    /// Releases the id claims of `fresh`, numbered `held` and on.
    fn release(&mut self, held: usize, fresh: &[(&Event, Cow<'static, str>)]) {
        let ids = fresh.iter().map(|(event, _)| event.id.as_str());
        self.cols.ids.release(held, ids);
    }

    /// Pushes rows that sort after everything stored, in order.
    fn push_at_end(&mut self, rows: Vec<Row<'_>>) {
        self.cols.reserve(rows.len());
        for chunk in rows.chunks(TOUCHED_TOGETHER) {
            self.dir
                .touch_postings(chunk.iter().map(|row| row.customer));
            for row in chunk {
                let pos = self.cols.len() as u32;
                self.cols.push(row);
                self.dir.post(row.customer, pos);
            }
        }
    }

    /// Inserts sorted rows with ids not stored yet, keeping every index in step.
    fn splice(&mut self, rows: Vec<Row<'_>>) {
        let Some(first) = rows.first() else {
            return;
        };
        let len = self.cols.len();
        let at_end = len == 0 || self.cols.cmp_key(len - 1, first.at, &first.id).is_lt();
        let from = if at_end {
            len
        } else {
            self.cols.lower_bound(first.at, &first.id)
        };
        let mut moved_ids = StrArena::default();
        let moved = self.cols.split_off(from, &mut moved_ids);
        for row in &moved {
            self.dir.unpost_from(row.customer, from as u32);
        }
        self.cols.reserve(moved.len() + rows.len());
        merge_sorted(moved, rows, |row| self.cols.push(&row));
        for pos in from..self.cols.len() {
            self.dir.post(self.cols.customer[pos], pos as u32);
        }
    }
}

/// Feeds the rows of two sorted runs to `sink` in merged order.
fn merge_sorted<'a>(a: Vec<Row<'a>>, b: Vec<Row<'a>>, mut sink: impl FnMut(Row<'a>)) {
    let mut a = a.into_iter().peekable();
    let mut b = b.into_iter().peekable();
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.key_cmp(y).is_lt(),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return,
        };
        let next = if take_a { a.next() } else { b.next() };
        if let Some(row) = next {
            sink(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engagement_core::{CustomerId, Timestamp};

    fn ev(id: &str, customer: i64, at: i64) -> Event {
        Event::new(
            id,
            CustomerId(customer),
            "Page Viewed",
            Timestamp::from_micros(at),
        )
    }

    fn check_invariants(ws: &Workspace) {
        let n = ws.cols.len();
        for p in 1..n {
            assert!(
                ws.cols
                    .cmp_key(p - 1, ws.cols.at[p], ws.cols.ids.get(p))
                    .is_lt()
            );
        }
        for p in 0..n {
            assert_eq!(ws.cols.ids.find(ws.cols.ids.get(p)), Some(p));
        }
        assert_eq!(
            ws.cols.ids.indexed(),
            n,
            "an entry per stored id, no claim left"
        );
        let mut posted = 0;
        for d in 0..ws.dir.len() as u32 {
            let list = &ws.dir.postings[d as usize];
            assert!(list.is_sorted_by(|a, b| a < b));
            assert!(list.iter().all(|&p| ws.cols.customer[p as usize] == d));
            posted += list.len();
        }
        assert_eq!(posted, n);
    }

    #[test]
    fn duplicates_and_conflicts_keep_the_first_write() {
        let mut ws = Workspace::default();
        let out = ws
            .append(&[ev("a", 1, 10), ev("a", 1, 10), ev("b", 2, 5)])
            .unwrap();
        assert_eq!((out.inserted, out.duplicates), (2, 1));
        let mut changed = ev("a", 1, 10);
        changed.page.path = "/x".into();
        let mut retry = ev("b", 2, 5);
        retry.received_at = Timestamp::from_micros(99);
        let out = ws.append(&[changed, retry, ev("c", 3, 1)]).unwrap();
        assert_eq!((out.inserted, out.duplicates), (1, 1));
        assert_eq!(out.conflicts, [engagement_core::EventId::new("a")]);
        assert_eq!(
            ws.event_at(ws.cols.ids.find("a").unwrap()).unwrap(),
            ev("a", 1, 10)
        );
        check_invariants(&ws);
    }

    #[test]
    fn a_batch_after_everything_keeps_its_claims_and_finds_its_repeats() {
        let mut ws = Workspace::default();
        ws.append(&[ev("a", 1, 1), ev("b", 2, 2)]).unwrap();
        let out = ws
            .append(&[ev("c", 1, 3), ev("c", 1, 3), ev("d", 3, 4), ev("a", 1, 5)])
            .unwrap();
        assert_eq!((out.inserted, out.duplicates), (2, 1));
        assert_eq!(out.conflicts, [engagement_core::EventId::new("a")]);
        assert_eq!(ws.cols.ids.find("d"), Some(3));
        check_invariants(&ws);
        // A repeat of a new id with another payload in the same batch is a conflict.
        let mut other = ev("e", 1, 6);
        other.page.path = "/e".into();
        let out = ws.append(&[ev("e", 1, 6), other]).unwrap();
        assert_eq!((out.inserted, out.duplicates), (1, 0));
        assert_eq!(out.conflicts, [engagement_core::EventId::new("e")]);
        check_invariants(&ws);
    }

    #[test]
    fn events_moved_by_a_late_batch_are_still_found_as_duplicates_and_conflicts() {
        let mut ws = Workspace::default();
        let first: Vec<Event> = (0..50)
            .map(|i| ev(&format!("a{i}"), i % 3, 100 + i))
            .collect();
        ws.append(&first).unwrap();
        // Lands before every stored event, so all of them move on by five places.
        let late: Vec<Event> = (0..5).map(|i| ev(&format!("b{i}"), 7, 10 + i)).collect();
        ws.append(&late).unwrap();
        check_invariants(&ws);
        assert_eq!(ws.cols.ids.find("a0"), Some(5));
        let mut changed = first[49].clone();
        changed.page.path = "/changed".into();
        let mut resent: Vec<Event> = first.iter().chain(&late).cloned().collect();
        resent.push(changed);
        let out = ws.append(&resent).unwrap();
        assert_eq!((out.inserted, out.duplicates), (0, 55));
        assert_eq!(out.conflicts, [engagement_core::EventId::new("a49")]);
        assert_eq!(
            ws.event_at(54).unwrap(),
            first[49],
            "the first write is kept"
        );
        check_invariants(&ws);
    }

    #[test]
    fn out_of_order_batches_stay_sorted_and_indexed() {
        let mut ws = Workspace::default();
        let mut expected = Vec::new();
        for batch in 0..30i64 {
            let events: Vec<Event> = (0..7i64)
                .map(|i| {
                    let at = (batch * 37 + i * 11) % 50;
                    ev(&format!("e{batch}-{i}"), (batch + i) % 4, at)
                })
                .collect();
            expected.extend(events.iter().map(|e| (e.occurred_at, e.id.clone())));
            ws.append(&events).unwrap();
            check_invariants(&ws);
        }
        expected.sort();
        let stored: Vec<_> = (0..ws.cols.len())
            .map(|p| {
                (
                    Timestamp::from_micros(ws.cols.at[p]),
                    ws.cols.ids.get(p).into(),
                )
            })
            .collect();
        assert_eq!(stored, expected);
    }
}
