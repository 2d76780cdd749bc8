//! [`NumberTable`]: the hash table of the id index and the customer directory, whose slots a
//! batch fetches from memory together.

/// An unoccupied slot. A slot holds a number below `u32::MAX` (a workspace stores fewer events
/// and customers), so no occupied slot equals it.
const EMPTY: u64 = u64::MAX;

/// The table doubles before more than three quarters of its slots are occupied.
const MAX_LOAD: (usize, usize) = (3, 4);

/// A hash set of dense numbers (event numbers, customer numbers), each stored with 32 bits of
/// the hash of what it stands for (an event id, a customer id), in one array of 8-byte slots (a
/// power of two of them) probed linearly from the slot the hash's low bits give. What a number
/// stands for is compared by the caller, so the table holds only the numbers.
///
/// The index of ten million ids is far larger than the caches, so nearly every probe of a new
/// id misses them (and a directory of 100,000 customers is evicted by those probes). One slot
/// array (rather than a table with separate control bytes) puts everything a probe reads in one
/// cache line, and a caller that knows a batch's hashes ahead can [`touch`](Self::touch) their
/// slots first: the loads are independent, so the processor overlaps their misses instead of
/// taking them one probe at a time.
#[derive(Debug, Default)]
pub(crate) struct NumberTable {
    /// `(hash << 32) | number`, or [`EMPTY`]; none, or a power of two of them.
    slots: Vec<u64>,
    /// Occupied slots.
    len: usize,
}

/// Packs a slot.
fn slot(hash: u32, number: u32) -> u64 {
    (u64::from(hash) << 32) | u64::from(number)
}

/// The hash of an occupied slot.
fn hash_of(slot: u64) -> u32 {
    (slot >> 32) as u32
}

/// The number of an occupied slot.
fn number_of(slot: u64) -> u32 {
    slot as u32
}

impl NumberTable {
    /// How many numbers are held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The slot where probing for `hash` starts.
    fn home(&self, hash: u32) -> usize {
        hash as usize & (self.slots.len() - 1)
    }

    /// The slot probed after `i`.
    fn after(&self, i: usize) -> usize {
        (i + 1) & (self.slots.len() - 1)
    }

    /// How many slots on from `from` slot `to` is, wrapping around the end.
    fn distance(&self, from: usize, to: usize) -> usize {
        to.wrapping_sub(from) & (self.slots.len() - 1)
    }

    /// The number whose hash is `hash` and that `matches`, if held.
    pub(crate) fn find(&self, hash: u32, mut matches: impl FnMut(u32) -> bool) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mut i = self.home(hash);
        loop {
            let s = self.slots[i];
            if s == EMPTY {
                return None;
            }
            if hash_of(s) == hash && matches(number_of(s)) {
                return Some(number_of(s));
            }
            i = self.after(i);
        }
    }

    /// The number whose hash is `hash` and that `matches`, if held; otherwise `None`, and
    /// `number` is inserted under `hash`.
    pub(crate) fn find_or_insert(
        &mut self,
        hash: u32,
        number: u32,
        mut matches: impl FnMut(u32) -> bool,
    ) -> Option<u32> {
        self.reserve(1);
        let mut i = self.home(hash);
        loop {
            let s = self.slots[i];
            if s == EMPTY {
                self.slots[i] = slot(hash, number);
                self.len += 1;
                return None;
            }
            if hash_of(s) == hash && matches(number_of(s)) {
                return Some(number_of(s));
            }
            i = self.after(i);
        }
    }

    /// Inserts `number`, known not to be held, under `hash`.
    pub(crate) fn insert_unique(&mut self, hash: u32, number: u32) {
        self.reserve(1);
        self.place(slot(hash, number));
        self.len += 1;
    }

    /// Puts an occupied slot into the first free slot from its home.
    fn place(&mut self, s: u64) {
        let mut i = self.home(hash_of(s));
        while self.slots[i] != EMPTY {
            i = self.after(i);
        }
        self.slots[i] = s;
    }

    /// Removes `number`, held under `hash`; whether it was held.
    pub(crate) fn remove(&mut self, hash: u32, number: u32) -> bool {
        if self.slots.is_empty() {
            return false;
        }
        let wanted = slot(hash, number);
        let mut hole = self.home(hash);
        loop {
            match self.slots[hole] {
                EMPTY => return false,
                s if s == wanted => break,
                _ => hole = self.after(hole),
            }
        }
        // Backward shift: each later slot of the run moves into the hole unless that would put
        // it before its home.
        let mut next = self.after(hole);
        while self.slots[next] != EMPTY {
            let s = self.slots[next];
            let home = self.home(hash_of(s));
            if self.distance(home, next) >= self.distance(hole, next) {
                self.slots[hole] = s;
                hole = next;
            }
            next = self.after(next);
        }
        self.slots[hole] = EMPTY;
        self.len -= 1;
        true
    }

    /// Grows the table, if need be, so that `additional` more numbers fit without growing it
    /// again.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let needed = self.len.saturating_add(additional);
        let (most, of) = MAX_LOAD;
        if needed * of <= self.slots.len() * most {
            return;
        }
        let capacity = (needed * of).div_ceil(most).next_power_of_two().max(16);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; capacity]);
        for s in old.into_iter().filter(|&s| s != EMPTY) {
            self.place(s);
        }
    }

    /// Reads the home slot of each of `hashes`, so that probes for them right after find the
    /// slots in the caches. The reads do not depend on each other, so their cache misses
    /// overlap; their sum goes to [`black_box`](std::hint::black_box) so that they happen.
    pub(crate) fn touch(&self, hashes: &[u32]) {
        if self.slots.is_empty() {
            return;
        }
        let sum = hashes
            .iter()
            .fold(0u64, |sum, &h| sum.wrapping_add(self.slots[self.home(h)]));
        std::hint::black_box(sum);
    }

    /// Heap bytes held.
    pub(crate) fn allocation_size(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Inserts and removes against a map, with hashes from a small range so that runs of
        /// occupied slots are long and wrap around the end of the array.
        #[test]
        fn behaves_as_a_map_from_number_to_hash(
            ops in proptest::collection::vec((any::<bool>(), 0u32..200, 0u32..40), 0..400),
        ) {
            let mut table = NumberTable::default();
            let mut model: HashMap<u32, u32> = HashMap::new();
            for (insert, number, hash) in ops {
                let hash = u32::MAX - hash; // every home in the last 40 slots
                match model.get(&number).copied() {
                    Some(held) if !insert => {
                        prop_assert!(table.remove(held, number));
                        model.remove(&number);
                    }
                    Some(held) => {
                        prop_assert_eq!(table.find_or_insert(held, 999, |n| n == number), Some(number));
                    }
                    None if insert => {
                        prop_assert_eq!(table.find_or_insert(hash, number, |n| n == number), None);
                        model.insert(number, hash);
                    }
                    None => prop_assert!(!table.remove(hash, number)),
                }
                prop_assert_eq!(table.len(), model.len());
                for (&n, &h) in &model {
                    prop_assert_eq!(table.find(h, |m| m == n), Some(n));
                }
            }
        }
    }

    #[test]
    fn grows_keeping_every_number_between_three_eighths_and_three_quarters_full() {
        let mut table = NumberTable::default();
        for n in 0..100_000u32 {
            table.insert_unique(n.wrapping_mul(2_654_435_761), n);
            let slots = table.allocation_size() / 8;
            assert!(table.len() * 4 <= slots * 3, "{} in {slots}", table.len());
            assert!(
                slots * 3 <= (8 * table.len()).max(48),
                "{} in {slots}",
                table.len()
            );
        }
        table.touch(&[1, 2, 3]);
        for n in (0..100_000u32).step_by(7) {
            assert_eq!(
                table.find(n.wrapping_mul(2_654_435_761), |m| m == n),
                Some(n)
            );
        }
        assert_eq!(
            table.find(5, |_| true),
            None,
            "no number below 100,000 has hash 5"
        );
        assert_eq!(table.allocation_size(), (1 << 18) * 8);
    }
}
