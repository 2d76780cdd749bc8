//! Growth for the big columns: doubling while a buffer is small, an eighth at a time once it is
//! large, so a large column carries at most ~12.5 % unused capacity.
//!
//! The allocator (glibc's, for one) keeps small blocks on its heap, where growing a block
//! copies it, and maps large ones, which it grows by remapping without a copy. Growing a small
//! buffer by an eighth would copy it about eight times its size before it is large enough to
//! be mapped (at 10M events, ~2.5 GB of copies and fresh pages across the columns); doubling
//! copies it about once.

/// Buffers double up to this many bytes; larger ones grow an eighth at a time. (glibc maps
/// every block above its mapping threshold, which it raises up to 32 MiB.)
const DOUBLING_UP_TO: usize = 32 << 20;

/// The capacity to grow a buffer of `len` items of `item_bytes` each to, so that it holds
/// `needed`: twice `len` but no more than [`DOUBLING_UP_TO`] bytes, or `len` and an eighth.
pub(crate) fn grown_capacity(len: usize, needed: usize, item_bytes: usize) -> usize {
    let limit = DOUBLING_UP_TO / item_bytes.max(1);
    let step = if len < limit {
        len.min(limit - len)
    } else {
        len / 8
    };
    needed.max(len.saturating_add(step.max(4)))
}

/// Makes room for `additional` more items in `v` (see the module doc for how much).
pub(crate) fn reserve<T>(v: &mut Vec<T>, additional: usize) {
    let needed = v.len().saturating_add(additional);
    if needed > v.capacity() {
        let target = grown_capacity(v.len(), needed, std::mem::size_of::<T>());
        v.reserve_exact(target - v.len());
    }
}

/// Pushes `item`, growing as [`reserve`] does.
pub(crate) fn push<T>(v: &mut Vec<T>, item: T) {
    reserve(v, 1);
    v.push(item);
}

/// Gives back most of the unused capacity of `v` once removals left it under a quarter full
/// (a purge that shortened retention), keeping an eighth for the appends to come.
pub(crate) fn shrink_after_removal<T>(v: &mut Vec<T>) {
    if v.len() < v.capacity() / 4 {
        v.shrink_to(v.len() + v.len() / 8);
    }
}

/// Pushes `item`, growing `v` by an eighth whatever its size: for the many small lists of a
/// kind (the customers' postings), whose unused capacity would add up while each copy is
/// small.
pub(crate) fn push_snug<T>(v: &mut Vec<T>, item: T) {
    if v.len() == v.capacity() {
        v.reserve_exact((v.len() / 8).max(4));
    }
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
    fn small_buffers_double_and_large_ones_grow_by_an_eighth() {
        let mut v: Vec<u32> = Vec::new();
        let mut grown = 0;
        for i in 0..100_000 {
            let before = v.capacity();
            push(&mut v, i);
            if v.capacity() != before {
                grown += 1;
                assert!(v.capacity() <= (2 * v.len()).max(4), "at {}", v.len());
            }
        }
        assert_eq!(v.len(), 100_000);
        assert!(grown <= 17, "{grown} reallocations");
        assert_eq!(heap_bytes(&v), v.capacity() * 4);

        let limit = DOUBLING_UP_TO / 4;
        assert_eq!(grown_capacity(limit, limit + 1, 4), limit + limit / 8);
        assert_eq!(grown_capacity(limit / 2, limit / 2 + 1, 4), limit);
        assert_eq!(grown_capacity(limit - 10, limit - 9, 4), limit);
        assert_eq!(grown_capacity(limit / 4, limit / 4 + 1, 4), limit / 2);
        assert_eq!(grown_capacity(0, 1, 8), 4);
        assert_eq!(grown_capacity(10, 1_000, 8), 1_000);
    }

    #[test]
    fn snug_lists_grow_by_an_eighth() {
        let mut v: Vec<u32> = Vec::new();
        for i in 0..10_000 {
            push_snug(&mut v, i);
            assert!(v.capacity() <= v.len() + (v.len() / 8).max(4));
        }
    }
}
