//! The load test (issue 7, part 3): eight writers and four readers on one workspace, 20,000
//! events, on every backend — memory, SQLite, and PostgreSQL / MariaDB when their URL is set.
//! At the end every event is counted exactly once, and every report taken during the run was
//! consistent in itself (activity summary = sum of its rows, log totals never shrink, ranking
//! scores never exceed the events stored). Figures go to stderr (`--nocapture`); the
//! `#[ignore]`d `large_*` tests run ten times the events for `docs/reliability.md`.

#[allow(dead_code)]
mod common;
mod reliability;

use std::sync::Arc;

use reliability::load::{Plan, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_memory() {
    run(
        Arc::new(engagement_memory::MemoryStore::new()),
        "memory",
        Plan::CI,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "larger run for the figures in docs/reliability.md"]
async fn large_memory() {
    run(
        Arc::new(engagement_memory::MemoryStore::new()),
        "memory",
        Plan::LARGE,
    )
    .await;
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use std::sync::Arc;
    use std::time::Duration;

    use super::reliability::load::{Plan, run};
    use super::reliability::sqlite_store;

    async fn store(name: &str) -> Arc<dyn engagement_core::EventStore> {
        Arc::new(sqlite_store(name, 4, Duration::from_secs(30), Duration::from_secs(5)).await)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn load_sqlite() {
        run(store("load").await, "sqlite", Plan::CI).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "larger run for the figures in docs/reliability.md"]
    async fn large_sqlite() {
        run(store("large").await, "sqlite", Plan::LARGE).await;
    }
}

#[cfg(all(engagement_test_postgres, feature = "postgres"))]
mod postgres {
    use std::sync::Arc;
    use std::time::Duration;

    use super::reliability::load::{Plan, run};
    use super::reliability::pg;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn load_postgres() {
        run(
            Arc::new(pg::store(8, Duration::from_secs(30)).await),
            "postgres",
            Plan::CI,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "larger run for the figures in docs/reliability.md"]
    async fn large_postgres() {
        run(
            Arc::new(pg::store(8, Duration::from_secs(30)).await),
            "postgres",
            Plan::LARGE,
        )
        .await;
    }
}

#[cfg(not(all(engagement_test_postgres, feature = "postgres")))]
#[test]
fn load_postgres_skipped() {
    reliability::skip_or_fail(
        "ENGAGEMENT_TEST_POSTGRES_URL",
        "postgres",
        "PostgreSQL load",
    );
}

#[cfg(all(engagement_test_mysql, feature = "mysql"))]
mod mysql {
    use std::sync::Arc;
    use std::time::Duration;

    use super::reliability::load::{Plan, run};
    use super::reliability::my;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn load_mysql() {
        run(
            Arc::new(my::store(8, Duration::from_secs(30)).await),
            "mysql",
            Plan::CI,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "larger run for the figures in docs/reliability.md"]
    async fn large_mysql() {
        run(
            Arc::new(my::store(8, Duration::from_secs(30)).await),
            "mysql",
            Plan::LARGE,
        )
        .await;
    }
}

#[cfg(not(all(engagement_test_mysql, feature = "mysql")))]
#[test]
fn load_mysql_skipped() {
    reliability::skip_or_fail("ENGAGEMENT_TEST_MYSQL_URL", "mysql", "MySQL/MariaDB load");
}
