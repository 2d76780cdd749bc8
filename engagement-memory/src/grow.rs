//! Gentle growth for the big columns: an eighth at a time instead of doubling, so a column
//! carries at most ~12.5 % unused capacity (large reallocations are remapped, not copied).

/// Makes room for `additional` more items in `v`, growing by at least an eighth.
pub(crate) fn reserve<T>(v: &mut Vec<T>, additional: usize) {
    let needed = v.len().saturating_add(additional);
    if needed > v.capacity() {
        let target = needed.max(v.len() + (v.len() / 8).max(4));
        v.reserve_exact(target - v.len());
    }
}

/// Pushes `item`, growing gently.
pub(crate) fn push<T>(v: &mut Vec<T>, item: T) {
    reserve(v, 1);
    v.push(item);
}

/// Heap bytes a vector holds (its capacity).
pub(crate) fn heap_bytes<T>(v: &Vec<T>) -> usize {
    v.capacity() * std::mem::size_of::<T>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_is_bounded_by_an_eighth() {
        let mut v: Vec<u32> = Vec::new();
        for i in 0..100_000 {
            push(&mut v, i);
            assert!(v.capacity() <= v.len() + (v.len() / 8).max(4));
        }
        assert_eq!(v.len(), 100_000);
        assert_eq!(heap_bytes(&v), v.capacity() * 4);
    }
}
