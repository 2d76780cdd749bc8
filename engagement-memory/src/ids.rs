//! [`IdColumn`]: event ids in log order, with a hash index from id to position.

use std::hash::BuildHasher;

use hashbrown::hash_table::Entry;
use hashbrown::{DefaultHashBuilder, HashTable};

use crate::arena::StrArena;

/// The id of each stored event (position order) and an index from id to position.
///
/// An index slot holds the position and 32 bits of the id's hash (8 bytes): growing the index
/// rehashes from the slots alone, and a probe compares ids only when the 32 bits match. (With
/// positions alone, every growth re-read and re-hashed every stored id, in random order: a
/// tenth of a 10M-event load.)
#[derive(Debug, Default)]
pub(crate) struct IdColumn {
    arena: StrArena,
    index: HashTable<Slot>,
    hasher: DefaultHashBuilder,
}

/// One index slot: a position and its id's [`IdColumn::hash`].
#[derive(Debug, Clone, Copy)]
struct Slot {
    pos: u32,
    hash: u32,
}

impl Slot {
    /// The table's hash of the slot, rebuilt from its 32 bits (in both halves, so that the
    /// table's bucket bits and its tag bits each get well-mixed bits).
    fn table_hash(self) -> u64 {
        table_hash(self.hash)
    }
}

/// See [`Slot::table_hash`].
fn table_hash(hash: u32) -> u64 {
    (u64::from(hash) << 32) | u64::from(hash)
}

impl IdColumn {
    /// The id at `pos`.
    pub(crate) fn get(&self, pos: usize) -> &str {
        self.arena.get(pos)
    }

    /// 32 bits of `id`'s hash.
    fn hash(hasher: &DefaultHashBuilder, id: &str) -> u32 {
        (hasher.hash_one(id) >> 32) as u32
    }

    /// The position of `id`, if stored and indexed.
    pub(crate) fn find(&self, id: &str) -> Option<usize> {
        let hash = Self::hash(&self.hasher, id);
        self.index
            .find(table_hash(hash), |s| {
                s.hash == hash && self.arena.get(s.pos as usize) == id
            })
            .map(|s| s.pos as usize)
    }

    /// The position of `id` if it is indexed; otherwise `None`, and `id` is indexed at `next`,
    /// a position past the stored ids that an append is about to fill. `pending` gives the id
    /// of each such position claimed before (so that a batch finds its own repeats).
    ///
    /// One probe finds a stored id or claims the slot of a new one. Until the positions are
    /// filled the claims must be kept as they are (when the new events land there) or
    /// [`release`](Self::release)d.
    pub(crate) fn claim<'p>(
        &mut self,
        id: &str,
        next: u32,
        pending: impl Fn(u32) -> &'p str,
    ) -> Option<usize> {
        let hash = Self::hash(&self.hasher, id);
        let Self { arena, index, .. } = self;
        let stored = arena.len();
        let id_at = |pos: u32| match pos as usize {
            p if p < stored => arena.get(p),
            _ => pending(pos),
        };
        let entry = index.entry(
            table_hash(hash),
            |s| s.hash == hash && id_at(s.pos) == id,
            |s| s.table_hash(),
        );
        match entry {
            Entry::Occupied(slot) => Some(slot.get().pos as usize),
            Entry::Vacant(slot) => {
                slot.insert(Slot { pos: next, hash });
                None
            }
        }
    }

    /// Removes the claims [`claim`](Self::claim) made for `ids`, at positions `from`,
    /// `from + 1`, … in that order.
    pub(crate) fn release<'i>(&mut self, from: usize, ids: impl Iterator<Item = &'i str>) {
        let Self { index, hasher, .. } = self;
        for (pos, id) in (from..).zip(ids) {
            let hash = table_hash(Self::hash(hasher, id));
            if let Ok(slot) = index.find_entry(hash, |s| s.pos as usize == pos) {
                slot.remove();
            }
        }
    }

    /// Appends an id at the next position without indexing it (see [`index_from`](Self::index_from)).
    pub(crate) fn push(&mut self, id: &str) {
        self.arena.push(id);
    }

    /// Reserves room for `additional` more ids.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.arena.reserve(additional);
    }

    /// Indexes the ids at positions `from..len`.
    pub(crate) fn index_from(&mut self, from: usize) {
        let len = self.arena.len();
        self.index_at((from..len).map(|pos| pos as u32));
    }

    /// Indexes the ids at `positions` (pushed and not indexed yet).
    pub(crate) fn index_at(&mut self, positions: impl ExactSizeIterator<Item = u32>) {
        let Self {
            arena,
            index,
            hasher,
        } = self;
        let missing = positions.len();
        if index.capacity() - index.len() < missing {
            index.reserve(missing, |s| s.table_hash());
        }
        for pos in positions {
            let slot = Slot {
                pos,
                hash: Self::hash(hasher, arena.get(pos as usize)),
            };
            index.insert_unique(slot.table_hash(), slot, |s| s.table_hash());
        }
    }

    /// Removes the ids at positions `from..len` from the column and returns them in order, in
    /// an arena of their own (no allocation per id).
    ///
    /// Their index entries stay, at their old positions, until [`moved`](Self::moved) points
    /// them at where the ids are pushed again: one probe an id instead of a removal and an
    /// insertion (a late batch in a stream moves every event stored after its first).
    pub(crate) fn take_from(&mut self, from: usize) -> StrArena {
        let mut taken = StrArena::default();
        taken.reserve(self.arena.len().saturating_sub(from));
        for pos in from..self.arena.len() {
            taken.push(self.arena.get(pos));
        }
        self.arena.truncate(from);
        taken
    }

    /// Points the index entries of the ids [`take_from`](Self::take_from) took at their
    /// positions now: each `(old, new)` pair says the id taken from `old` was pushed again at
    /// `new`. Pairs come in the order the ids were taken, and no id moves to an earlier
    /// position (events stored after a late one only move later).
    pub(crate) fn moved(&mut self, moves: &[(u32, u32)]) {
        let Self {
            arena,
            index,
            hasher,
        } = self;
        // From the last: the only entry at `old` is then this id's, as every entry moved
        // before it went to a position after its own, later, old one.
        for &(old, new) in moves.iter().rev() {
            debug_assert!(new >= old, "an id moved from {old} back to {new}");
            let hash = Self::hash(hasher, arena.get(new as usize));
            let slot = index.find_mut(table_hash(hash), |s| s.pos == old);
            debug_assert!(slot.is_some(), "no index entry at {old}");
            if let Some(slot) = slot {
                slot.pos = new;
            }
        }
    }

    /// Keeps the ids whose position passes `keep`, and re-indexes them at their new positions.
    pub(crate) fn retain(&mut self, keep: impl FnMut(usize) -> bool) {
        self.arena.retain(keep);
        self.index = HashTable::new();
        self.index_from(0);
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.arena.heap_bytes() + self.index.allocation_size()
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

    /// A column holding `ids`, indexed.
    fn indexed<S: AsRef<str>>(ids: impl IntoIterator<Item = S>) -> IdColumn {
        let mut c = IdColumn::default();
        for id in ids {
            c.push(id.as_ref());
        }
        c.index_from(0);
        c
    }

    #[test]
    fn finds_ids_after_a_move_and_retain() {
        let mut c = indexed((0..1000).map(|i| format!("e{i}")));
        assert_eq!(c.find("e500"), Some(500));
        // A late id lands before the last two, which move one place on.
        let tail = c.take_from(998);
        assert_eq!((tail.len(), tail.get(0), tail.get(1)), (2, "e998", "e999"));
        c.push("late");
        c.push(tail.get(0));
        c.push(tail.get(1));
        c.moved(&[(998, 999), (999, 1000)]);
        c.index_at([998].into_iter());
        assert_eq!(c.find("late"), Some(998));
        assert_eq!(c.find("e998"), Some(999));
        assert_eq!(c.find("e999"), Some(1000));
        assert_eq!(c.find("e997"), Some(997));
        assert_eq!(c.index.len(), 1001);
        c.retain(|p| p % 2 == 1);
        assert_eq!(c.arena.len(), 500);
        assert_eq!(c.find("e1"), Some(0));
        assert_eq!(c.find("e0"), None);
        assert_eq!(c.find("e998"), Some(499));
    }

    #[test]
    fn claims_find_stored_and_claimed_ids_and_can_be_released() {
        let mut c = indexed(["a", "b"]);
        let batch = ["c", "a", "d", "c"];
        let mut claimed: Vec<&str> = Vec::new();
        let mut found = Vec::new();
        for id in batch {
            let next = (2 + claimed.len()) as u32;
            match c.claim(id, next, |pos| claimed[pos as usize - 2]) {
                Some(pos) => found.push((id, pos)),
                None => claimed.push(id),
            }
        }
        assert_eq!(claimed, ["c", "d"]);
        assert_eq!(found, [("a", 0), ("c", 2)]);
        // Kept: the new ids fill their claimed positions.
        let mut kept = indexed(["a", "b"]);
        for (i, id) in claimed.iter().enumerate() {
            assert_eq!(
                kept.claim(id, 2 + i as u32, |pos| claimed[pos as usize - 2]),
                None
            );
            kept.push(id);
        }
        assert_eq!(kept.find("d"), Some(3));
        // Released: as if never claimed.
        c.release(2, claimed.iter().copied());
        assert_eq!(c.index.len(), 2);
        assert_eq!(c.find("a"), Some(0));
        c.push("d");
        c.index_from(2);
        assert_eq!(c.find("d"), Some(2));
        assert_eq!(c.index.len(), 3);
    }

    #[test]
    fn ids_moved_onto_the_old_places_of_other_moved_ids_are_found() {
        let mut c = indexed((0..6).map(|i| format!("x{i}")));
        let tail = c.take_from(2);
        c.push("a");
        c.push("b");
        for i in 0..tail.len() {
            c.push(tail.get(i));
        }
        c.moved(&[(2, 4), (3, 5), (4, 6), (5, 7)]);
        c.index_at([2, 3].into_iter());
        for (id, pos) in [
            ("x0", 0),
            ("x1", 1),
            ("a", 2),
            ("b", 3),
            ("x2", 4),
            ("x3", 5),
            ("x4", 6),
            ("x5", 7),
        ] {
            assert_eq!(c.find(id), Some(pos), "{id}");
        }
    }
}
