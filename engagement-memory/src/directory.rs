//! [`Directory`]: customers by dense index, with their records and their event postings.

use std::hash::BuildHasher;

use hashbrown::DefaultHashBuilder;

use engagement_core::{Customer, CustomerId};

use crate::grow;
use crate::number_table::NumberTable;

/// A customer record with what the activity report matches and sorts on, computed once.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// The record as upserted.
    pub(crate) customer: Customer,
    /// [`Customer::search_text`].
    pub(crate) search: String,
    /// The lower-cased full name (the name sort key).
    pub(crate) sort_name: String,
}

impl Record {
    /// Precomputes the search text and sort name of `customer`.
    pub(crate) fn new(customer: Customer) -> Self {
        Self {
            search: customer.search_text(),
            sort_name: customer.full_name().to_lowercase(),
            customer,
        }
    }
}

/// Every customer a workspace has seen (in an event or a record), numbered densely.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    /// Dense numbers by 32 bits of their customer id's hash.
    index: NumberTable,
    hasher: DefaultHashBuilder,
    ids: Vec<CustomerId>,
    records: Vec<Option<Box<Record>>>,
    /// Whether each customer is an admin placeholder (only customers with a record can be).
    pub(crate) placeholder: Vec<bool>,
    /// Each customer's event positions, ascending (so in log order).
    pub(crate) postings: Vec<Vec<u32>>,
}

impl Directory {
    /// How many customers are numbered.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// The dense number of `id`, if seen.
    pub(crate) fn dense(&self, id: CustomerId) -> Option<u32> {
        self.index
            .find(self.hash(id), |d| self.ids[d as usize] == id)
    }

    /// 32 bits of `id`'s hash, as [`dense_or_insert`](Self::dense_or_insert) takes it.
    pub(crate) fn hash(&self, id: CustomerId) -> u32 {
        (self.hasher.hash_one(id.0) >> 32) as u32
    }

    /// Fetches the index slots of the customers whose [`hash`](Self::hash)es are `hashes`
    /// into the caches, for lookups that follow at once.
    pub(crate) fn touch(&self, hashes: &[u32]) {
        self.index.touch(hashes);
    }

    /// Reads the last posting of each of `customers` (dense numbers), so that posting to them
    /// right after finds the lists' ends in the caches; as [`touch`](Self::touch) does, the
    /// independent reads overlap their cache misses.
    pub(crate) fn touch_postings(&self, customers: impl Iterator<Item = u32>) {
        let sum = customers.fold(0u32, |sum, d| {
            let last = self.postings[d as usize]
                .last()
                .copied()
                .unwrap_or_default();
            sum.wrapping_add(last)
        });
        std::hint::black_box(sum);
    }

    /// The dense number of `id` (whose [`hash`](Self::hash) is `hash`), numbering it when new.
    pub(crate) fn dense_or_insert(&mut self, id: CustomerId, hash: u32) -> u32 {
        let next = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        let ids = &self.ids;
        if let Some(d) = self
            .index
            .find_or_insert(hash, next, |d| ids[d as usize] == id)
        {
            return d;
        }
        self.ids.push(id);
        self.records.push(None);
        self.placeholder.push(false);
        self.postings.push(Vec::new());
        next
    }

    /// The customer id of dense number `d`.
    pub(crate) fn id(&self, d: u32) -> CustomerId {
        self.ids[d as usize]
    }

    /// The record of dense number `d`, if any.
    pub(crate) fn record(&self, d: u32) -> Option<&Record> {
        self.records[d as usize].as_deref()
    }

    /// Inserts or replaces a record.
    pub(crate) fn upsert(&mut self, record: Record) {
        let d = self.dense_or_insert(record.customer.id, self.hash(record.customer.id)) as usize;
        self.placeholder[d] = record.customer.is_admin_placeholder;
        self.records[d] = Some(Box::new(record));
    }

    /// Removes the record of `d`; whether there was one.
    pub(crate) fn remove_record(&mut self, d: u32) -> bool {
        self.placeholder[d as usize] = false;
        self.records[d as usize].take().is_some()
    }

    /// Adds event position `pos` at the end of `d`'s postings.
    pub(crate) fn post(&mut self, d: u32, pos: u32) {
        grow::push_snug(&mut self.postings[d as usize], pos);
    }

    /// Forgets `d`'s postings at positions `from` and later.
    pub(crate) fn unpost_from(&mut self, d: u32, from: u32) {
        let list = &mut self.postings[d as usize];
        let keep = list.partition_point(|&p| p < from);
        list.truncate(keep);
    }

    /// Rewrites every posting after events were removed: `removed_before(p)` counts the removed
    /// positions before `p`, `removed(p)` says whether `p` itself was removed.
    pub(crate) fn renumber(
        &mut self,
        removed: impl Fn(u32) -> bool,
        removed_before: impl Fn(u32) -> u32,
    ) {
        for list in &mut self.postings {
            list.retain(|&p| !removed(p));
            for p in list.iter_mut() {
                *p -= removed_before(*p);
            }
        }
    }

    /// Forgets the customers left with neither a record nor an event (after a purge: an
    /// erased customer, or one whose events all aged out), numbering the others densely again
    /// in their order, and `customers` (the events' customer column) with them.
    pub(crate) fn compact(&mut self, customers: &mut [u32]) {
        let held: Vec<usize> = (0..self.len())
            .filter(|&d| self.records[d].is_some() || !self.postings[d].is_empty())
            .collect();
        if held.len() == self.len() {
            return;
        }
        let mut kept = Self {
            hasher: self.hasher.clone(),
            ..Self::default()
        };
        let mut renumbered = vec![u32::MAX; self.len()];
        for d in held {
            let id = self.ids[d];
            let number = kept.ids.len() as u32;
            renumbered[d] = number;
            kept.index.insert_unique(kept.hash(id), number);
            kept.ids.push(id);
            kept.records.push(self.records[d].take());
            kept.placeholder.push(self.placeholder[d]);
            kept.postings.push(std::mem::take(&mut self.postings[d]));
        }
        for customer in customers {
            *customer = renumbered[*customer as usize];
        }
        *self = kept;
    }

    /// Heap bytes held (approximate for the records).
    pub(crate) fn heap_bytes(&self) -> usize {
        let index = self.index.allocation_size();
        let records: usize = self
            .records
            .iter()
            .flatten()
            .map(|r| {
                let c = &r.customer;
                std::mem::size_of::<Record>()
                    + c.code.capacity()
                    + c.first_name.capacity()
                    + c.last_name.capacity()
                    + c.email.capacity()
                    + r.search.capacity()
                    + r.sort_name.capacity()
            })
            .sum();
        let postings: usize = self.postings.iter().map(grow::heap_bytes).sum();
        index
            + grow::heap_bytes(&self.ids)
            + grow::heap_bytes(&self.records)
            + grow::heap_bytes(&self.placeholder)
            + grow::heap_bytes(&self.postings)
            + postings
            + records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customers_are_numbered_once_in_order_of_arrival_across_growth() {
        let mut dir = Directory::default();
        let id = |i: i64| CustomerId(if i % 2 == 0 { i } else { -i * 1_000_003 });
        for i in 0..10_000 {
            assert_eq!(dir.dense_or_insert(id(i), dir.hash(id(i))), i as u32);
        }
        for i in (0..10_000).rev() {
            assert_eq!(dir.dense_or_insert(id(i), dir.hash(id(i))), i as u32);
            assert_eq!(dir.dense(id(i)), Some(i as u32));
            assert_eq!(dir.id(i as u32), id(i));
        }
        assert_eq!(
            dir.dense(CustomerId(1)),
            None,
            "1 was never seen (odd ids are negated)"
        );
        assert_eq!(dir.len(), 10_000);
    }

    #[test]
    fn numbers_records_and_postings() {
        let mut dir = Directory::default();
        let a = dir.dense_or_insert(CustomerId(50), dir.hash(CustomerId(50)));
        let mut admin = Customer::new(CustomerId(-3), "Ann", "Lee");
        admin.is_admin_placeholder = true;
        dir.upsert(Record::new(admin));
        let b = dir.dense(CustomerId(-3)).unwrap();
        assert_eq!((a, b, dir.len()), (0, 1, 2));
        assert!(dir.record(a).is_none());
        assert_eq!(dir.record(b).unwrap().sort_name, "ann lee");
        assert!(dir.placeholder[b as usize]);
        assert!(dir.record(b).is_some());
        for p in [0, 2, 5, 7] {
            dir.post(a, p);
        }
        dir.unpost_from(a, 5);
        assert_eq!(dir.postings[a as usize], [0, 2]);
        dir.post(b, 3);
        // Remove positions 0 and 3: 2 becomes 1.
        dir.renumber(
            |p| p == 0 || p == 3,
            |p| u32::from(p > 0) + u32::from(p > 3),
        );
        assert_eq!(dir.postings[a as usize], [1]);
        assert!(dir.postings[b as usize].is_empty());
        assert!(dir.remove_record(b));
        assert!(!dir.remove_record(b));
        assert!(!dir.placeholder[b as usize]);
        assert!(dir.heap_bytes() > 0);
    }
}
