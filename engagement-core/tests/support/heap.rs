//! Counts the bytes each thread holds on the heap, to show that memory stays bounded. A test
//! binary includes it with `#[path = "support/heap.rs"] mod heap;` and installs
//! `heap::Counting` as its `#[global_allocator]`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static HELD: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // Const-initialised cells without destructors: no allocation, usable at any time.
    let _ = HELD.try_with(|held| {
        let now = held.get() + delta;
        held.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

/// The system allocator, counting what each thread holds.
pub(crate) struct Counting;

// SAFETY: every call is passed on to `System` unchanged; the counting touches no memory
// it hands out.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees for `alloc`, passed on.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            count(layout.size().cast_signed());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees for `alloc_zeroed`, passed on.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            count(layout.size().cast_signed());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's guarantees for `dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) };
        count(-layout.size().cast_signed());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's guarantees for `realloc`, passed on.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            count(new_size.cast_signed() - layout.size().cast_signed());
        }
        new
    }
}

/// The bytes this thread holds on the heap now (since it started; may be negative for a
/// thread that frees what another allocated).
pub(crate) fn held() -> isize {
    HELD.with(Cell::get)
}

/// What `f` gives, and the most bytes this thread held on the heap while it ran, above
/// what it held before.
pub(crate) fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = held();
    PEAK.with(|peak| peak.set(before));
    let out = f();
    let peak = PEAK.with(Cell::get);
    (out, (peak - before).unsigned_abs())
}
