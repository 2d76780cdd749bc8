//! Fault injection on MySQL / MariaDB (cases 30–32 of `bad-inputs.md`): the connection killed
//! with `KILL <id>` in the middle of an export chunk query, every pooled connection busy, an
//! export dropped early.
//!
//! Runs when `ENGAGEMENT_TEST_MYSQL_URL` is set and the `mysql` feature is on; otherwise one
//! test says it was skipped (and fails when `ENGAGEMENT_REQUIRE_SERVERS` is set).

#[allow(dead_code)]
mod common;
mod reliability;

#[cfg(not(all(engagement_test_mysql, feature = "mysql")))]
#[test]
fn mysql_faults_skipped() {
    reliability::skip_or_fail("ENGAGEMENT_TEST_MYSQL_URL", "mysql", "MySQL/MariaDB fault");
}

#[cfg(all(engagement_test_mysql, feature = "mysql"))]
mod faults {
    use std::time::{Duration, Instant};

    use engagement_core::EventStore;
    use engagement_sqlx::MySqlStore;
    use engagement_sqlx::sqlx::mysql::MySqlPool;
    use engagement_sqlx::sqlx::{AssertSqlSafe, Connection, MySqlConnection, Row, query, raw_sql};

    use super::reliability::faults::{
        after_kill, bounded, drain, dropped_export, pool_exhaustion, purges_beside_other_writers,
    };
    use super::reliability::{my, views, workspace};

    /// A store whose pool holds a single connection, and that connection's thread id.
    async fn single(acquire: Duration) -> (MySqlStore, u64) {
        let store = my::store(1, acquire).await;
        let id: u64 = query("SELECT CONNECTION_ID()")
            .fetch_one(store.pool())
            .await
            .expect("connection id")
            .get(0);
        (store, id)
    }

    /// Waits until thread `id` waits for a lock (`LOCK TABLES` from another connection).
    async fn wait_until_blocked(admin: &MySqlPool, id: u64) {
        let started = Instant::now();
        loop {
            let state: Option<String> =
                query("SELECT STATE FROM information_schema.PROCESSLIST WHERE ID = ?")
                    .bind(id)
                    .fetch_optional(admin)
                    .await
                    .expect("read the process list")
                    .and_then(|row| row.get(0));
            if state.is_some_and(|s| s.to_lowercase().contains("lock")) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the export never reached the lock"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Case 30: the connection is killed while its export chunk query waits on a table lock.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_killed_inside_an_export_query_ends_it_with_a_typed_error() {
        let (store, id) = single(Duration::from_secs(10)).await;
        let ws = workspace("my-kill-inside");
        store
            .append(&ws, &views("k", 5_000, 0))
            .await
            .expect("append");
        let admin = my::admin().await;

        let database: String = query("SELECT DATABASE()")
            .fetch_one(store.pool())
            .await
            .expect("the store's database")
            .get(0);
        let mut locker = MySqlConnection::connect_with(&my::server().database(&database))
            .await
            .expect("connect");
        raw_sql("LOCK TABLES engagement_events WRITE")
            .execute(&mut locker)
            .await
            .expect("lock the events table");
        let export = {
            let (store, ws) = (store.clone(), ws.clone());
            tokio::spawn(async move { drain(&store, &ws).await })
        };
        wait_until_blocked(&admin, id).await;
        raw_sql(AssertSqlSafe(format!("KILL {id}")))
            .execute(&admin)
            .await
            .expect("KILL");
        let result = bounded("the killed export", export)
            .await
            .expect("the export task");
        raw_sql("UNLOCK TABLES")
            .execute(&mut locker)
            .await
            .expect("unlock");
        locker.close().await.expect("close");
        after_kill(&store, &ws, "mysql", 5_000, result).await;
    }

    /// Purges beside other workspaces' writers finish, however InnoDB's locks conflict.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn purges_beside_other_workspaces_writers_finish() {
        let store = my::store(8, Duration::from_secs(30)).await;
        purges_beside_other_writers(std::sync::Arc::new(store)).await;
    }

    /// Case 32 on MySQL / MariaDB.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_connection_busy_is_a_typed_timeout() {
        let acquire = Duration::from_millis(300);
        let store = my::store(2, acquire).await;
        pool_exhaustion(&store, store.pool(), "mysql", acquire).await;
    }

    /// Case 31 on MySQL / MariaDB, on a pool of one connection: after the dropped export that
    /// connection is not inside a transaction.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_export_gives_its_connection_back_clean() {
        let (store, _) = single(Duration::from_secs(10)).await;
        dropped_export(&store).await;
        let open: u64 = query("SELECT @@in_transaction")
            .fetch_one(store.pool())
            .await
            .expect("read @@in_transaction")
            .get(0);
        assert_eq!(
            open, 0,
            "the pooled connection is left inside a transaction"
        );
    }

    /// A host's `BEGIN` cancelled on the pool it shares with the store (sqlx counts the
    /// transaction only once the server answered, so the connection comes back still inside
    /// it): the store's next calls, on that one connection, work and end it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hosts_cancelled_begin_does_not_break_the_next_call() {
        let (store, _) = single(Duration::from_secs(10)).await;
        let ws = workspace("host-begin");
        // The aborts sweep 0 to 2× the time a begin takes here (acquire, ping, `BEGIN`), so
        // some land while `BEGIN` is in flight however fast or loaded the machine is.
        let mut timed = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            drop(store.pool().begin().await.expect("begin"));
            timed.push(started.elapsed());
        }
        timed.sort();
        let typical = timed[2];
        let mut leaked = 0;
        // At least one sweep; more while none landed in flight (a loaded machine moves the
        // timing), up to ten.
        let mut rounds = 0_u32;
        while rounds < 400 || (leaked == 0 && rounds < 4_000) {
            let round = rounds;
            rounds += 1;
            let pool = store.pool().clone();
            let begin = tokio::spawn(async move { pool.begin().await.map(drop) });
            let started = Instant::now();
            while started.elapsed() < typical * (round % 400) / 200 {
                std::hint::spin_loop();
            }
            begin.abort();
            let _ = begin.await;
            let open: u64 = query("SELECT @@in_transaction")
                .fetch_one(store.pool())
                .await
                .expect("read @@in_transaction")
                .get(0);
            leaked += open;
            let batch = views(&format!("r{round}"), 2, 0);
            bounded(
                "the append after a cancelled begin",
                store.append(&ws, &batch),
            )
            .await
            .unwrap_or_else(|e| panic!("the append after cancelled begin {round}: {e}"));
        }
        assert!(
            leaked > 0,
            "no begin was cut in flight: the case was not met"
        );
        let total = super::common::count(&store, &ws).await.expect("count");
        assert_eq!(total, 2 * u64::from(rounds));
    }
}
