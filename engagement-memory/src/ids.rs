//! [`IdColumn`]: event ids in log order, with a hash index from id to position.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::arena::StrArena;

/// The id of each stored event (position order) and an index from id to position.
///
/// The index holds only positions (4 bytes a slot); an id is hashed from the arena when needed.
#[derive(Debug, Default)]
pub(crate) struct IdColumn {
    arena: StrArena,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl IdColumn {
    /// The id at `pos`.
    pub(crate) fn get(&self, pos: usize) -> &str {
        self.arena.get(pos)
    }

    /// How many ids are stored.
    pub(crate) fn len(&self) -> usize {
        self.arena.len()
    }

    /// The position of `id`, if stored and indexed.
    pub(crate) fn find(&self, id: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(id);
        self.index
            .find(hash, |&p| self.arena.get(p as usize) == id)
            .map(|&p| p as usize)
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
            index.reserve(missing, |&p| hasher.hash_one(arena.get(p as usize)));
        }
        for pos in from..arena.len() {
            let hash = hasher.hash_one(arena.get(pos));
            index.insert_unique(hash, pos as u32, |&p| {
                hasher.hash_one(arena.get(p as usize))
            });
        }
    }

    /// Removes the ids at positions `from..len` from the index and the column, returning them.
    pub(crate) fn split_off(&mut self, from: usize) -> Vec<String> {
        let taken: Vec<String> = (from..self.len()).map(|p| self.get(p).to_owned()).collect();
        for (offset, id) in taken.iter().enumerate() {
            let pos = (from + offset) as u32;
            let hash = self.hasher.hash_one(id.as_str());
            if let Ok(entry) = self.index.find_entry(hash, |&p| p == pos) {
                entry.remove();
            }
        }
        self.arena.truncate(from);
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
        assert_eq!(tail, ["e998", "e999"]);
        assert_eq!(c.find("e999"), None);
        assert_eq!(c.find("e997"), Some(997));
        c.push("late");
        c.index_from(998);
        assert_eq!(c.find("late"), Some(998));
        c.retain(|p| p % 2 == 1);
        assert_eq!(c.len(), 499);
        assert_eq!(c.find("e1"), Some(0));
        assert_eq!(c.find("e0"), None);
        assert_eq!(c.find("e997"), Some(498));
    }
}
