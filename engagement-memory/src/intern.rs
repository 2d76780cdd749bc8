//! Interners: each distinct value stored once and referred to by a small integer.

use std::hash::{BuildHasher, Hash};

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::arena::StrArena;
use crate::grow;

/// Where an interner keeps its distinct values, in insertion order.
pub(crate) trait Values: Default {
    /// The value type as looked up.
    type Value: ?Sized + Hash + Eq;
    /// Whether `a` equals `b` (as `==` does).
    fn same(a: &Self::Value, b: &Self::Value) -> bool {
        a == b
    }
    /// The `i`-th value.
    fn value(&self, i: usize) -> &Self::Value;
    /// Appends a value.
    fn push_value(&mut self, v: &Self::Value);
    /// How many values are stored.
    fn count(&self) -> usize;
    /// Heap bytes held.
    fn bytes(&self) -> usize;
}

impl Values for StrArena {
    type Value = str;
    fn same(a: &str, b: &str) -> bool {
        same_text(a.as_bytes(), b.as_bytes())
    }
    fn value(&self, i: usize) -> &str {
        self.get(i)
    }
    fn push_value(&mut self, v: &str) {
        self.push(v);
    }
    fn count(&self) -> usize {
        self.len()
    }
    fn bytes(&self) -> usize {
        self.heap_bytes()
    }
}

impl<T: Copy + Hash + Eq> Values for Vec<T> {
    type Value = T;
    fn value(&self, i: usize) -> &T {
        &self[i]
    }
    fn push_value(&mut self, v: &T) {
        grow::push(self, *v);
    }
    fn count(&self) -> usize {
        self.len()
    }
    fn bytes(&self) -> usize {
        grow::heap_bytes(self)
    }
}

/// `a == b`, without a call into `memcmp` for up to 16 bytes (nearly every interned string):
/// an append interns ten strings an event, and those calls were a fifth of its time.
fn same_text(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    // Two (possibly overlapping) words cover every byte.
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => a.first_chunk::<4>() == b.first_chunk() && a.last_chunk::<4>() == b.last_chunk(),
        8..=16 => a.first_chunk::<8>() == b.first_chunk() && a.last_chunk::<8>() == b.last_chunk(),
        _ => a == b,
    }
}

/// Old numbers to new ones, each new number assigned when its old one is first met: how a
/// column is renumbered into an interner rebuilt from the values it still uses.
#[derive(Debug)]
pub(crate) struct Renumbering(Vec<u32>);

impl Renumbering {
    /// No number met yet, of `len` old ones.
    pub(crate) fn new(len: usize) -> Self {
        Self(vec![u32::MAX; len])
    }

    /// The new number of `old`, assigned by `assign` the first time.
    pub(crate) fn map(&mut self, old: u32, assign: impl FnOnce(u32) -> u32) -> u32 {
        let new = &mut self.0[old as usize];
        if *new == u32::MAX {
            *new = assign(old);
        }
        *new
    }
}

/// Distinct values with a hash index from value to its number.
#[derive(Debug, Default, Clone)]
pub(crate) struct Interner<S> {
    values: S,
    table: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

/// Interned strings (names, URLs, paths, geo fields, metadata JSON).
pub(crate) type StrInterner = Interner<StrArena>;

/// Interned small fixed-size values (tuples of string numbers, IPv6 addresses).
pub(crate) type ValueInterner<T> = Interner<Vec<T>>;

impl<S: Values> Interner<S> {
    /// The number of `v`, if it was interned.
    pub(crate) fn lookup(&self, v: &S::Value) -> Option<u32> {
        let hash = self.hasher.hash_one(v);
        self.table
            .find(hash, |&i| S::same(self.values.value(i as usize), v))
            .copied()
    }

    /// The number of `v`, interning it when new.
    pub(crate) fn intern(&mut self, v: &S::Value) -> u32 {
        let hash = self.hasher.hash_one(v);
        let Self {
            values,
            table,
            hasher,
        } = self;
        if let Some(&i) = table.find(hash, |&i| S::same(values.value(i as usize), v)) {
            return i;
        }
        // More than u32::MAX distinct values cannot fit in memory alongside their events.
        let i = u32::try_from(values.count()).unwrap_or(u32::MAX);
        values.push_value(v);
        table.insert_unique(hash, i, |&j| hasher.hash_one(values.value(j as usize)));
        i
    }

    /// The value numbered `i`.
    pub(crate) fn get(&self, i: u32) -> &S::Value {
        self.values.value(i as usize)
    }

    /// How many distinct values are held.
    pub(crate) fn len(&self) -> usize {
        self.values.count()
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.values.bytes() + self.table.allocation_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_stored_once() {
        let mut i = StrInterner::default();
        let a = i.intern("/pricing");
        let b = i.intern("/cart");
        assert_ne!(a, b);
        assert_eq!(i.intern("/pricing"), a);
        assert_eq!(i.lookup("/cart"), Some(b));
        assert_eq!(i.lookup("/nope"), None);
        assert_eq!(i.get(a), "/pricing");
        assert_eq!(i.len(), 2);
    }

    proptest::proptest! {
        #[test]
        fn short_text_comparison_is_equality(
            a in proptest::collection::vec(0_u8..4, 0..24),
            b in proptest::collection::vec(0_u8..4, 0..24),
        ) {
            proptest::prop_assert_eq!(same_text(&a, &b), a == b);
            proptest::prop_assert!(same_text(&a, &a));
        }
    }

    #[test]
    fn short_texts_differing_in_any_one_byte_differ() {
        for n in 1..=20 {
            let a: Vec<u8> = (0..n).collect();
            for i in 0..usize::from(n) {
                let mut b = a.clone();
                b[i] ^= 0x80;
                assert!(!same_text(&a, &b), "length {n}, byte {i}");
            }
        }
    }

    #[test]
    fn values_are_stored_once_across_growth() {
        let mut i = ValueInterner::<[u32; 2]>::default();
        for n in 0..10_000u32 {
            assert_eq!(i.intern(&[n, n % 7]), n);
        }
        for n in 0..10_000u32 {
            assert_eq!(i.lookup(&[n, n % 7]), Some(n));
            assert_eq!(*i.get(n), [n, n % 7]);
        }
        assert!(i.heap_bytes() >= 10_000 * 8);
    }
}
