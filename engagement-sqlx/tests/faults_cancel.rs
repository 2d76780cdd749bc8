//! Cancelled calls on every SQL backend: appends, reports and exports aborted at every point
//! of their first round trips, on a pool of one connection, leave that connection clean for
//! the next call (no transaction left open on the server, no answer left half read, no batch
//! half written).

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
use std::time::Duration;

use reliability::faults::cancelled_calls_leave_the_pool_clean;

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_calls_on_sqlite() {
    let store =
        reliability::sqlite_store("cancel", 1, Duration::from_secs(10), Duration::from_secs(5))
            .await;
    cancelled_calls_leave_the_pool_clean(Arc::new(store)).await;
}

#[cfg(all(engagement_test_postgres, feature = "postgres"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_calls_on_postgres() {
    let store = reliability::pg::store(1, Duration::from_secs(10)).await;
    cancelled_calls_leave_the_pool_clean(Arc::new(store)).await;
}

#[cfg(not(all(engagement_test_postgres, feature = "postgres")))]
#[test]
fn cancelled_calls_on_postgres_skipped() {
    reliability::skip_or_fail(
        "ENGAGEMENT_TEST_POSTGRES_URL",
        "postgres",
        "PostgreSQL cancellation",
    );
}

#[cfg(all(engagement_test_mysql, feature = "mysql"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_calls_on_mysql() {
    let store = reliability::my::store(1, Duration::from_secs(10)).await;
    cancelled_calls_leave_the_pool_clean(Arc::new(store)).await;
}

#[cfg(not(all(engagement_test_mysql, feature = "mysql")))]
#[test]
fn cancelled_calls_on_mysql_skipped() {
    reliability::skip_or_fail(
        "ENGAGEMENT_TEST_MYSQL_URL",
        "mysql",
        "MySQL/MariaDB cancellation",
    );
}
