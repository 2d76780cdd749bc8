//! What the server-backed suites share: a name for this run's own database or schema, and which
//! names earlier runs left behind.

use std::time::{SystemTime, UNIX_EPOCH};

/// Names of test databases and schemas start with this.
pub(crate) const TEST_PREFIX: &str = "engagement_t_";

/// Runs older than this are over; what they left is dropped.
const STALE_AFTER_SECS: u64 = 6 * 3600;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// This test binary's own name: the prefix, the start time and the process id.
pub(crate) fn run_name() -> String {
    format!("{TEST_PREFIX}{}_{}", now_secs(), std::process::id())
}

/// Whether `name` was made by a run that started long enough ago to be over.
pub(crate) fn is_stale(name: &str) -> bool {
    name.strip_prefix(TEST_PREFIX)
        .and_then(|rest| rest.split('_').next())
        .and_then(|secs| secs.parse::<u64>().ok())
        .is_some_and(|secs| secs + STALE_AFTER_SECS < now_secs())
}

/// Runs `work` to completion on a runtime of its own, on another thread (test setup runs inside
/// the suite's runtime, which cannot block on a second one).
pub(crate) fn on_own_runtime<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build a runtime for the test setup")
            .block_on(work)
    })
    .join()
    .expect("the test setup thread panicked")
}
