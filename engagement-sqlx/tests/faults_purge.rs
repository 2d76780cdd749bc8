//! Case 35 of `bad-inputs.md` on every backend: a purge interrupted (its task cancelled) after
//! its first chunks, then run again, reaches the exact state of one uninterrupted purge. The
//! SQL stores purge in chunks and must be caught mid-way; the memory store purges in one step
//! under its lock, so there the same checks run on a purge that could not be interrupted. On
//! MySQL a cancelled call runs to its end (its driver cannot leave a connection half way), so
//! there the cancelled purge must still reach that state by itself.

// Built with neither SQLite nor a server suite (a server feature alone, its URL unset), the
// cases shared between backends have no caller.
#![cfg_attr(
    not(any(feature = "sqlite", engagement_test_postgres, engagement_test_mysql)),
    allow(dead_code, unused_imports)
)]

#[allow(dead_code)]
mod common;
mod reliability;

use std::sync::Arc;

use reliability::faults::{OnCancel, interrupted_purge, purge_interrupted_mid_way};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_purge_on_memory() {
    // One step under the lock: the cancel always comes too late.
    interrupted_purge(
        Arc::new(engagement_memory::MemoryStore::new()),
        OnCancel::Stops,
    )
    .await;
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_purge_on_sqlite() {
    use std::time::Duration;
    let store =
        reliability::sqlite_store("purge", 4, Duration::from_secs(10), Duration::from_secs(5))
            .await;
    purge_interrupted_mid_way(Arc::new(store), OnCancel::Stops).await;
}

#[cfg(all(engagement_test_postgres, feature = "postgres"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_purge_on_postgres() {
    let store = reliability::pg::store(4, std::time::Duration::from_secs(10)).await;
    purge_interrupted_mid_way(Arc::new(store), OnCancel::Stops).await;
}

#[cfg(not(all(engagement_test_postgres, feature = "postgres")))]
#[test]
fn interrupted_purge_on_postgres_skipped() {
    reliability::skip_or_fail(
        "ENGAGEMENT_TEST_POSTGRES_URL",
        "postgres",
        "PostgreSQL purge",
    );
}

#[cfg(all(engagement_test_mysql, feature = "mysql"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_purge_on_mysql() {
    let store = reliability::my::store(4, std::time::Duration::from_secs(10)).await;
    purge_interrupted_mid_way(Arc::new(store), OnCancel::RunsToEnd).await;
}

#[cfg(not(all(engagement_test_mysql, feature = "mysql")))]
#[test]
fn interrupted_purge_on_mysql_skipped() {
    reliability::skip_or_fail("ENGAGEMENT_TEST_MYSQL_URL", "mysql", "MySQL/MariaDB purge");
}
