//! [`StrArena`]: many short strings in one buffer, addressed by index.

use crate::grow;

/// Strings stored back to back in one `String`, with the end offset of each.
#[derive(Debug, Default, Clone)]
pub(crate) struct StrArena {
    text: String,
    ends: Vec<u64>,
}

impl StrArena {
    /// How many strings are stored.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    fn start(&self, i: usize) -> usize {
        match i.checked_sub(1) {
            Some(prev) => self.end(prev),
            None => 0,
        }
    }

    fn end(&self, i: usize) -> usize {
        self.ends.get(i).map_or(self.text.len(), |&e| {
            usize::try_from(e).unwrap_or(usize::MAX)
        })
    }

    /// The `i`-th string ("" past the end; indexes come from this arena).
    pub(crate) fn get(&self, i: usize) -> &str {
        debug_assert!(i < self.len(), "arena index {i} out of range");
        if i >= self.len() {
            return "";
        }
        self.text.get(self.start(i)..self.end(i)).unwrap_or("")
    }

    /// Appends a string; its index is the previous [`len`](Self::len).
    pub(crate) fn push(&mut self, s: &str) {
        let needed = self.text.len() + s.len();
        if needed > self.text.capacity() {
            let target = grow::grown_capacity(self.text.len(), needed, 1).max(64);
            self.text.reserve_exact(target - self.text.len());
        }
        self.text.push_str(s);
        grow::push(&mut self.ends, self.text.len() as u64);
    }

    /// Keeps the first `n` strings.
    pub(crate) fn truncate(&mut self, n: usize) {
        if n < self.len() {
            let end = self.start(n);
            self.text.truncate(end);
            self.ends.truncate(n);
        }
    }

    /// Reserves room for `additional` more strings.
    pub(crate) fn reserve(&mut self, additional: usize) {
        grow::reserve(&mut self.ends, additional);
    }

    /// Keeps the strings whose index passes `keep`, in order.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(usize) -> bool) {
        let mut kept = StrArena::default();
        for i in 0..self.len() {
            if keep(i) {
                kept.push(self.get(i));
            }
        }
        kept.text.shrink_to_fit();
        kept.ends.shrink_to_fit();
        *self = kept;
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.text.capacity() + grow::heap_bytes(&self.ends)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_truncates_and_retains() {
        let mut a = StrArena::default();
        for s in ["a", "", "ccc", "👍", "e"] {
            a.push(s);
        }
        assert_eq!(a.len(), 5);
        assert_eq!(
            (0..5).map(|i| a.get(i)).collect::<Vec<_>>(),
            ["a", "", "ccc", "👍", "e"]
        );
        a.truncate(3);
        assert_eq!(a.len(), 3);
        a.push("x");
        assert_eq!(a.get(3), "x");
        a.retain(|i| i != 1);
        assert_eq!(
            (0..3).map(|i| a.get(i)).collect::<Vec<_>>(),
            ["a", "ccc", "x"]
        );
        assert!(a.heap_bytes() >= 3 * 8 + 5);
    }
}
