//! The conformance suite run against the reference store itself: the cases' hand-computed
//! answers check the oracle, and the macro is exercised end to end. A deliberately wrong store
//! shows that the differential test catches a backend that disagrees.

mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};

use engagement_core::{ReferenceStore, conformance, conformance_tests};
use support::Faulty;

conformance_tests!(|| async { ReferenceStore::default() });

/// The reference store, except that a purge reports one event more than it deleted.
fn over_counting_purge() -> Faulty {
    Faulty {
        purge_over_count: 1,
        ..Faulty::default()
    }
}

#[test]
fn differential_test_catches_a_wrong_backend() {
    let run = catch_unwind(AssertUnwindSafe(|| {
        conformance::differential(|| async { over_counting_purge() });
    }));
    let message = run
        .err()
        .and_then(|panic| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(
        message.contains("purge differs from the reference"),
        "expected a purge mismatch, got {message:?}"
    );
}

#[test]
fn a_case_catches_a_wrong_backend() {
    let run = catch_unwind(AssertUnwindSafe(|| {
        conformance::run(conformance::purge_before_cutoff(&over_counting_purge()));
    }));
    assert!(
        run.is_err(),
        "purge_before_cutoff accepted a wrong purge count"
    );
}
