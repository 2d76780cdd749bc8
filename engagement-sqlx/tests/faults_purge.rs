//! Case 35 of `bad-inputs.md` on every backend: a purge interrupted (its task cancelled) after
//! its first chunks, then run again, reaches the exact state of one uninterrupted purge.

#[allow(dead_code)]
mod common;
mod reliability;

use std::sync::Arc;

use reliability::faults::interrupted_purge;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_purge_on_memory() {
    interrupted_purge(Arc::new(engagement_memory::MemoryStore::new())).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_purge_on_sqlite() {
    use std::time::Duration;
    let store =
        reliability::sqlite_store("purge", 4, Duration::from_secs(10), Duration::from_secs(5))
            .await;
    let interrupted = interrupted_purge(Arc::new(store)).await;
    eprintln!("sqlite purge interrupted mid-way: {interrupted}");
}

#[cfg(all(engagement_test_postgres, feature = "postgres"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_purge_on_postgres() {
    let store = reliability::pg::store(4, std::time::Duration::from_secs(10)).await;
    let interrupted = interrupted_purge(Arc::new(store)).await;
    eprintln!("postgres purge interrupted mid-way: {interrupted}");
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
    let interrupted = interrupted_purge(Arc::new(store)).await;
    eprintln!("mysql purge interrupted mid-way: {interrupted}");
}

#[cfg(not(all(engagement_test_mysql, feature = "mysql")))]
#[test]
fn interrupted_purge_on_mysql_skipped() {
    reliability::skip_or_fail("ENGAGEMENT_TEST_MYSQL_URL", "mysql", "MySQL/MariaDB purge");
}
