//! [`IdColumn`]: event ids in log order, with a hash index from id to position.

use std::hash::BuildHasher;

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
        let Self {
            arena,
            index,
            hasher,
        } = self;
        let missing = arena.len().saturating_sub(from);
        if index.capacity() - index.len() < missing {
            index.reserve(missing, |s| s.table_hash());
        }
        for pos in from..arena.len() {
            let slot = Slot {
                pos: pos as u32,
                hash: Self::hash(hasher, arena.get(pos)),
            };
            index.insert_unique(slot.table_hash(), slot, |s| s.table_hash());
        }
    }

    /// Removes the ids at positions `from..len` from the index and the column, returning them
    /// in order, in an arena of their own (no allocation per id).
    pub(crate) fn split_off(&mut self, from: usize) -> StrArena {
        let Self {
            arena,
            index,
            hasher,
        } = self;
        let mut taken = StrArena::default();
        taken.reserve(arena.len().saturating_sub(from));
        for pos in from..arena.len() {
            let id = arena.get(pos);
            let hash = table_hash(Self::hash(hasher, id));
            if let Ok(entry) = index.find_entry(hash, |s| s.pos == pos as u32) {
                entry.remove();
            }
            taken.push(id);
        }
        arena.truncate(from);
        taken
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ids_after_split_and_retain() {
        let mut c = IdColumn::default();
        for i in 0..1000 {
            c.push(&format!("e{i}"));
        }
        c.index_from(0);
        assert_eq!(c.find("e500"), Some(500));
        let tail = c.split_off(998);
        assert_eq!((tail.len(), tail.get(0), tail.get(1)), (2, "e998", "e999"));
        assert_eq!(c.find("e999"), None);
        assert_eq!(c.find("e997"), Some(997));
        c.push("late");
        c.index_from(998);
        assert_eq!(c.find("late"), Some(998));
        c.retain(|p| p % 2 == 1);
        assert_eq!(c.arena.len(), 499);
        assert_eq!(c.find("e1"), Some(0));
        assert_eq!(c.find("e0"), None);
        assert_eq!(c.find("e997"), Some(498));
    }
}
