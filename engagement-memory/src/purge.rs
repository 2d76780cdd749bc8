//! Retention and erasure: removing events (and a record) and renumbering every index.

use engagement_core::{PurgeOutcome, PurgeScope};

use crate::workspace::Workspace;

impl Workspace {
    /// The number of events before `cutoff`, which are a prefix of the log.
    fn before(&self, cutoff: engagement_core::Timestamp) -> u32 {
        self.cols.at.partition_point(|&t| t < cutoff.as_micros()) as u32
    }

    /// What [`purge`](Self::purge) would remove.
    pub(crate) fn purge_count(&self, scope: PurgeScope) -> PurgeOutcome {
        match scope {
            PurgeScope::Before { cutoff } => PurgeOutcome {
                events: u64::from(self.before(cutoff)),
                customers: 0,
            },
            PurgeScope::Customer { customer } => match self.dir.dense(customer) {
                None => PurgeOutcome::default(),
                Some(d) => PurgeOutcome {
                    events: self.dir.postings[d as usize].len() as u64,
                    customers: u64::from(self.dir.record(d).is_some()),
                },
            },
        }
    }

    /// See [`EventStore::purge`](engagement_core::EventStore::purge). The memory backend removes
    /// everything in one step under its write lock, so there is no partial state to resume;
    /// then it forgets the values and customers nothing held refers to any more.
    pub(crate) fn purge(&mut self, scope: PurgeScope) -> PurgeOutcome {
        let outcome = self.purge_count(scope);
        match scope {
            PurgeScope::Before { cutoff } => {
                let cut = self.before(cutoff);
                if cut > 0 {
                    self.remove(|p| p < cut, |p| p.min(cut));
                }
            }
            PurgeScope::Customer { customer } => {
                if let Some(d) = self.dir.dense(customer) {
                    self.dir.remove_record(d);
                    let gone = std::mem::take(&mut self.dir.postings[d as usize]);
                    if !gone.is_empty() {
                        self.remove(
                            |p| gone.binary_search(&p).is_ok(),
                            |p| gone.partition_point(|&g| g < p) as u32,
                        );
                    }
                }
            }
        }
        if outcome != PurgeOutcome::default() {
            self.compact();
        }
        outcome
    }

    /// Removes the events at the positions `removed` accepts; `removed_before(p)` counts them
    /// below `p`.
    fn remove(&mut self, removed: impl Fn(u32) -> bool, removed_before: impl Fn(u32) -> u32) {
        self.cols.retain(&|p| !removed(p as u32));
        self.dir.renumber(removed, removed_before);
    }

    /// Forgets the values and customers nothing held refers to any more (see
    /// [`Dictionaries::compacted`](crate::dict::Dictionaries::compacted) and
    /// [`Directory::compact`](crate::directory::Directory::compact)).
    fn compact(&mut self) {
        self.dict = self.dict.compacted(&mut self.cols);
        self.dir.compact(&mut self.cols.customer);
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use engagement_core::{CustomerId, Event, Metadata, PurgeScope, Timestamp};
    use serde_json::json;

    use crate::dict::metadata_json;
    use crate::workspace::Workspace;

    fn ev(id: &str, customer: i64, at: i64) -> Event {
        let mut e = Event::new(
            id,
            CustomerId(customer),
            "Page Viewed",
            Timestamp::from_micros(at),
        );
        e.page.url = format!("https://a.test/?session={id}");
        e.geo.city = format!("city of {id}");
        e.ip = Some(IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, at as u16]));
        e.metadata = Metadata::from_iter([("order".to_owned(), json!(id))]);
        e
    }

    #[test]
    fn erasure_forgets_the_customers_values_and_number() {
        let mut ws = Workspace::default();
        let gone = ev("gone", 42, 10);
        let kept = ev("kept", 7, 20);
        ws.append(&[gone.clone(), kept.clone()]).unwrap();
        let outcome = ws.purge(PurgeScope::Customer {
            customer: CustomerId(42),
        });
        assert_eq!(outcome.events, 1);
        assert_eq!(ws.dict.text.lookup(&gone.page.url), None);
        assert_eq!(ws.dict.text.lookup(&gone.geo.city), None);
        let json = metadata_json(&gone.metadata).unwrap();
        assert_eq!(ws.dict.metadata.lookup(&json), None);
        let Some(IpAddr::V6(v6)) = gone.ip else {
            unreachable!()
        };
        assert_eq!(ws.dict.ipv6.lookup(&v6.octets()), None);
        assert_eq!(ws.dir.dense(CustomerId(42)), None);
        assert_eq!(ws.dir.len(), 1);
        assert_eq!(ws.event_at(0).unwrap(), kept, "the other event, renumbered");
        // Appends go on as before, the erased customer coming back as a new one.
        ws.append(&[gone.clone(), ev("later", 7, 30)]).unwrap();
        let back: Vec<Event> = (0..3).map(|p| ws.event_at(p).unwrap()).collect();
        assert_eq!(back, [gone, kept, ev("later", 7, 30)]);
    }

    #[test]
    fn a_purge_of_most_events_gives_their_memory_back() {
        let mut ws = Workspace::default();
        let batch: Vec<Event> = (0..20_000)
            .map(|i| ev(&format!("e{i}"), i % 50, i))
            .collect();
        ws.append(&batch).unwrap();
        let before = ws.cols.heap_bytes();
        ws.purge(PurgeScope::Before {
            cutoff: Timestamp::from_micros(19_900),
        });
        assert_eq!(ws.cols.len(), 100);
        let after = ws.cols.heap_bytes();
        assert!(after * 20 < before, "{before} bytes before, {after} after");
    }

    #[test]
    fn retention_keeps_the_dictionaries_to_what_is_held() {
        let mut ws = Workspace::default();
        for round in 0..5i64 {
            let batch: Vec<Event> = (0..100)
                .map(|i| ev(&format!("r{round}-{i}"), i % 7, round * 1_000 + i))
                .collect();
            ws.append(&batch).unwrap();
            ws.purge(PurgeScope::Before {
                cutoff: Timestamp::from_micros(round * 1_000),
            });
            assert_eq!(ws.cols.len(), 100, "one round held");
            // Each held event has its own URL, city, metadata and address; the empty text
            // (path, domain, referrer, country, region, zone) is the one value they share.
            assert_eq!(ws.dict.text.len(), 201, "round {round}");
            assert_eq!(ws.dict.metadata.len(), 100, "round {round}");
            assert_eq!(ws.dict.ipv6.len(), 100, "round {round}");
            assert_eq!(ws.dict.pages.len(), 100, "round {round}");
        }
    }
}
