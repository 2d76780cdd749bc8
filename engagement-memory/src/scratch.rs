//! Per-thread arrays reused across queries, so counting allocates nothing in steady state.

use std::cell::RefCell;
use std::thread::LocalKey;

/// A thread's reusable array of `T`.
pub(crate) type Scratch<T> = RefCell<Vec<T>>;

/// Runs `f` over `len` default values from the thread's `key` array, reusing its allocation
/// (a fresh array if the thread's is already in use).
pub(crate) fn with_zeroed<T: Clone + Default + 'static, R>(
    key: &'static LocalKey<Scratch<T>>,
    len: usize,
    f: impl FnOnce(&mut [T]) -> R,
) -> R {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut v) => {
            v.clear();
            v.resize(len, T::default());
            f(&mut v)
        }
        Err(_) => f(&mut vec![T::default(); len]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static TEST: Scratch<u32> = const { RefCell::new(Vec::new()) };
    }

    #[test]
    fn arrays_start_zeroed_even_when_nested() {
        with_zeroed(&TEST, 3, |a| {
            a[1] = 7;
            with_zeroed(&TEST, 2, |b| assert_eq!(b, [0, 0]));
        });
        with_zeroed(&TEST, 4, |a| assert_eq!(a, [0, 0, 0, 0]));
    }
}
