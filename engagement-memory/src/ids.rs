//! [`IdColumn`]: event ids in log order, with a hash index from id to event.

use std::hash::BuildHasher;

use hashbrown::DefaultHashBuilder;

use crate::arena::StrArena;
use crate::grow;
use crate::number_table::NumberTable;

/// The id of each stored event (position order) and an index from id to event.
///
/// Every stored event has a *number*, the order in which it was stored (`0..len`, dense), and
/// the index maps ids to numbers, not to positions: a late event that moves the events stored
/// after its place changes their positions but not their numbers, so it touches no index
/// entry. Two plain arrays translate: the number at each position (moved with the other
/// columns) and the position of each number (rewritten for the events that move). (With
/// positions in the index, a late batch re-pointed an entry for every event it moved and
/// re-inserted its own: two probes of a table far larger than the caches for each event of a
/// batch that arrives a batch late, as batches from concurrent senders do.)
///
/// An index slot holds the number and 32 bits of the id's hash (8 bytes): growing the index
/// rehashes from the slots alone, and a probe compares ids only when the 32 bits match. An
/// append hashes its ids a chunk at a time and [`touch`](Self::touch)es their slots before
/// claiming them, so that the chunk's cache misses overlap.
#[derive(Debug, Default)]
pub(crate) struct IdColumn {
    arena: StrArena,
    /// The number of the event at each position.
    numbers: Vec<u32>,
    /// The position of each event number.
    positions: Vec<u32>,
    index: NumberTable,
    hasher: DefaultHashBuilder,
}

impl IdColumn {
    /// The id at `pos`.
    pub(crate) fn get(&self, pos: usize) -> &str {
        self.arena.get(pos)
    }

    /// The number of the event at `pos`.
    #[cfg(test)]
    fn number(&self, pos: usize) -> u32 {
        self.numbers[pos]
    }

    /// 32 bits of `id`'s hash, as [`claim`](Self::claim) takes it.
    pub(crate) fn hash(&self, id: &str) -> u32 {
        (self.hasher.hash_one(id) >> 32) as u32
    }

    /// Fetches the index slots of the ids whose [`hash`](Self::hash)es are `hashes` into the
    /// caches, for claims that follow at once.
    pub(crate) fn touch(&self, hashes: &[u32]) {
        self.index.touch(hashes);
    }

    /// The position of `id`, if stored.
    pub(crate) fn find(&self, id: &str) -> Option<usize> {
        let position = |number: u32| self.positions[number as usize] as usize;
        self.index
            .find(self.hash(id), |number| {
                self.arena.get(position(number)) == id
            })
            .map(position)
    }

    /// The position of `id` (whose [`hash`](Self::hash) is `hash`) if it is stored, or the
    /// number it claimed (`len` or more) if it is claimed; otherwise `None`, and `id` claims
    /// number `next`, one past the stored events that an append is about to store. `pending`
    /// gives the id of each number claimed before (so that a batch finds its own repeats).
    ///
    /// One probe finds a stored id or claims the slot of a new one. Until the numbers are
    /// [`push`](Self::push)ed the claims must be kept as they are or
    /// [`release`](Self::release)d.
    pub(crate) fn claim<'p>(
        &mut self,
        id: &str,
        hash: u32,
        next: u32,
        pending: impl Fn(u32) -> &'p str,
    ) -> Option<usize> {
        let Self {
            arena,
            positions,
            index,
            ..
        } = self;
        let stored = arena.len() as u32;
        // A stored event's position; a claimed number stands for itself.
        let position = |number: u32| {
            if number < stored {
                positions[number as usize] as usize
            } else {
                number as usize
            }
        };
        let id_at = |number: u32| {
            if number < stored {
                arena.get(position(number))
            } else {
                pending(number)
            }
        };
        index
            .find_or_insert(hash, next, |number| id_at(number) == id)
            .map(position)
    }

    /// Removes the claims [`claim`](Self::claim) made for `ids`, numbered `from`, `from + 1`,
    /// … in that order.
    pub(crate) fn release<'i>(&mut self, from: usize, ids: impl Iterator<Item = &'i str>) {
        for (number, id) in (from..).zip(ids) {
            let hash = self.hash(id);
            self.index.remove(hash, number as u32);
        }
    }

    /// Appends the id of event `number` at the next position. A new event's number must have
    /// been claimed; a moved one keeps its number.
    pub(crate) fn push(&mut self, id: &str, number: u32) {
        let pos = self.arena.len() as u32;
        self.arena.push(id);
        grow::push(&mut self.numbers, number);
        let n = number as usize;
        if let Some(missing) = (n + 1).checked_sub(self.positions.len()) {
            // Numbers of a late batch come in key order; those skipped are pushed later.
            grow::reserve(&mut self.positions, missing);
            self.positions.resize(n + 1, pos);
        }
        self.positions[n] = pos;
    }

    /// Reserves room for `additional` more ids.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.arena.reserve(additional);
        grow::reserve(&mut self.numbers, additional);
        grow::reserve(&mut self.positions, additional);
    }

    /// Removes the ids at positions `from..len` from the column and returns them in order, in
    /// an arena of their own (no allocation per id), with their numbers. Their index entries
    /// stay: the ids are [`push`](Self::push)ed again under the same numbers.
    pub(crate) fn take_from(&mut self, from: usize) -> (StrArena, Vec<u32>) {
        let mut taken = StrArena::default();
        taken.reserve(self.arena.len().saturating_sub(from));
        for pos in from..self.arena.len() {
            taken.push(self.arena.get(pos));
        }
        self.arena.truncate(from);
        (taken, self.numbers.split_off(from))
    }

    /// Keeps the ids whose position passes `keep`, numbers them anew in position order and
    /// rebuilds the index.
    pub(crate) fn retain(&mut self, keep: impl FnMut(usize) -> bool) {
        self.arena.retain(keep);
        let len = self.arena.len() as u32;
        self.numbers = (0..len).collect();
        self.positions = (0..len).collect();
        self.index = NumberTable::default();
        self.index.reserve(self.arena.len());
        for number in 0..len {
            let hash = self.hash(self.arena.get(number as usize));
            self.index.insert_unique(hash, number);
        }
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.arena.heap_bytes()
            + grow::heap_bytes(&self.numbers)
            + grow::heap_bytes(&self.positions)
            + self.index.allocation_size()
    }

    /// How many index entries there are (one per stored id, between appends).
    #[cfg(test)]
    pub(crate) fn indexed(&self) -> usize {
        self.index.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A column holding `ids` in order, each claimed and pushed as an append does.
    fn indexed<S: AsRef<str>>(ids: impl IntoIterator<Item = S>) -> IdColumn {
        let mut c = IdColumn::default();
        for (number, id) in ids.into_iter().enumerate() {
            let number = number as u32;
            assert_eq!(
                c.claim(id.as_ref(), c.hash(id.as_ref()), number, |_| ""),
                None
            );
            c.push(id.as_ref(), number);
        }
        c
    }

    #[test]
    fn a_late_id_moves_positions_and_leaves_the_index_alone() {
        let mut c = indexed((0..1000).map(|i| format!("e{i}")));
        assert_eq!(c.find("e500"), Some(500));
        // A late id lands before the last two, which move one place on.
        assert_eq!(c.claim("late", c.hash("late"), 1000, |_| "late"), None);
        let (tail, numbers) = c.take_from(998);
        assert_eq!((tail.len(), tail.get(0), tail.get(1)), (2, "e998", "e999"));
        assert_eq!(numbers, [998, 999]);
        c.push("late", 1000);
        c.push(tail.get(0), numbers[0]);
        c.push(tail.get(1), numbers[1]);
        assert_eq!(c.find("late"), Some(998));
        assert_eq!(c.number(998), 1000);
        assert_eq!(c.find("e998"), Some(999));
        assert_eq!(c.find("e999"), Some(1000));
        assert_eq!(c.find("e997"), Some(997));
        assert_eq!(c.index.len(), 1001);
        // A claim finds stored ids at their positions now.
        assert_eq!(c.claim("e999", c.hash("e999"), 1001, |_| ""), Some(1000));
        c.retain(|p| p % 2 == 1);
        assert_eq!(c.arena.len(), 500);
        assert_eq!(c.find("e1"), Some(0));
        assert_eq!(c.find("e0"), None);
        assert_eq!(c.find("e998"), Some(499));
        assert_eq!((c.number(499), c.index.len()), (499, 500), "numbered anew");
    }

    #[test]
    fn claims_find_stored_and_claimed_ids_and_can_be_released() {
        let mut c = indexed(["a", "b"]);
        let batch = ["c", "a", "d", "c"];
        let mut claimed: Vec<&str> = Vec::new();
        let mut found = Vec::new();
        for id in batch {
            let next = (2 + claimed.len()) as u32;
            match c.claim(id, c.hash(id), next, |number| claimed[number as usize - 2]) {
                Some(pos) => found.push((id, pos)),
                None => claimed.push(id),
            }
        }
        assert_eq!(claimed, ["c", "d"]);
        assert_eq!(found, [("a", 0), ("c", 2)]);
        // Kept: the new ids are pushed under their claimed numbers, here in the other order.
        let mut kept = indexed(["a", "b"]);
        for (i, id) in claimed.iter().enumerate() {
            let number = 2 + i as u32;
            assert_eq!(
                kept.claim(id, kept.hash(id), number, |n| claimed[n as usize - 2]),
                None
            );
        }
        kept.push("d", 3);
        kept.push("c", 2);
        assert_eq!((kept.find("d"), kept.find("c")), (Some(2), Some(3)));
        // Released: as if never claimed.
        c.release(2, claimed.iter().copied());
        assert_eq!(c.index.len(), 2);
        assert_eq!(c.find("a"), Some(0));
        assert_eq!(c.claim("d", c.hash("d"), 2, |_| ""), None);
        c.push("d", 2);
        assert_eq!(c.find("d"), Some(2));
        assert_eq!(c.index.len(), 3);
    }
}
