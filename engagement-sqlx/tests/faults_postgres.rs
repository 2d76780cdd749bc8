//! Fault injection on PostgreSQL (cases 30–32 of `bad-inputs.md`): the connection killed with
//! `pg_terminate_backend` in the middle of an export (inside a chunk query, between chunks,
//! and every connection of a large export read by several tasks), every pooled connection
//! busy, an export dropped early or cancelled mid-query, and an export's `COPY` cancelled
//! before its first row.
//!
//! Runs when `ENGAGEMENT_TEST_POSTGRES_URL` is set and the `postgres` feature is on; otherwise
//! one test says it was skipped (and fails when `ENGAGEMENT_REQUIRE_SERVERS` is set).

#[allow(dead_code)]
mod common;
mod reliability;

#[cfg(not(all(engagement_test_postgres, feature = "postgres")))]
#[test]
fn postgres_faults_skipped() {
    reliability::skip_or_fail(
        "ENGAGEMENT_TEST_POSTGRES_URL",
        "postgres",
        "PostgreSQL fault",
    );
}

#[cfg(all(engagement_test_postgres, feature = "postgres"))]
mod faults {
    use std::time::{Duration, Instant};

    use engagement_core::{Event, EventStore};
    use engagement_sqlx::PostgresStore;
    use engagement_sqlx::sqlx::postgres::PgPool;
    use engagement_sqlx::sqlx::{AssertSqlSafe, Connection, PgConnection, Row, query, raw_sql};
    use futures::StreamExt;
    use futures::stream::BoxStream;
    use tokio::task::JoinHandle;

    use super::reliability::faults::{
        after_kill, bounded, drain, dropped_export, pool_exhaustion, purges_beside_other_writers,
        still_serves,
    };
    use super::reliability::{pg, views, workspace};

    /// A store whose pool holds a single connection, and that connection's server pid.
    async fn single(acquire: Duration) -> (PostgresStore, i32) {
        let store = pg::store(1, acquire).await;
        let pid: i32 = query("SELECT pg_backend_pid()")
            .fetch_one(store.pool())
            .await
            .expect("pid")
            .get(0);
        (store, pid)
    }

    /// A second connection (outside the store's pool) holding an exclusive lock on the events
    /// table until it is closed.
    async fn lock_events() -> PgConnection {
        let mut conn = PgConnection::connect_with(&pg::options())
            .await
            .expect("connect");
        raw_sql(AssertSqlSafe(format!(
            "BEGIN; LOCK TABLE {}.engagement_events IN ACCESS EXCLUSIVE MODE",
            pg::schema()
        )))
        .execute(&mut conn)
        .await
        .expect("lock the events table");
        conn
    }

    /// Waits until `pid` is blocked on a lock.
    async fn wait_until_blocked(admin: &PgPool, pid: i32) {
        let started = Instant::now();
        loop {
            let waiting: Option<String> =
                query("SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1")
                    .bind(pid)
                    .fetch_optional(admin)
                    .await
                    .expect("read pg_stat_activity")
                    .and_then(|row| row.get(0));
            if waiting.as_deref() == Some("Lock") {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the export never reached the lock"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// An export of every event of `ws` in a task of its own, its query on the connection
    /// `pid` waiting on a lock of the events table that the returned connection holds.
    async fn export_held_on_a_lock(
        store: &PostgresStore,
        ws: &engagement_core::WorkspaceId,
        admin: &PgPool,
        pid: i32,
    ) -> (
        PgConnection,
        JoinHandle<(Vec<Event>, Option<engagement_core::Error>)>,
    ) {
        let locker = lock_events().await;
        let export = {
            let (store, ws) = (store.clone(), ws.clone());
            tokio::spawn(async move { drain(&store, &ws).await })
        };
        wait_until_blocked(admin, pid).await;
        (locker, export)
    }

    /// An export of every event of `ws` and its first `n` events, read before a fault.
    async fn export_prefix(
        store: &PostgresStore,
        ws: &engagement_core::WorkspaceId,
        n: usize,
    ) -> (
        BoxStream<'static, engagement_core::Result<Event>>,
        Vec<Event>,
    ) {
        let mut stream = engagement_core::store::export_events(store.export(
            ws.clone(),
            engagement_core::EventFilter::new(engagement_core::TimeWindow::ALL),
        ));
        let mut events = Vec::with_capacity(n);
        for _ in 0..n {
            events.push(stream.next().await.expect("a row").expect("an event"));
        }
        (stream, events)
    }

    /// Reads the rest of an export whose connection was killed after `events` were read: it
    /// either completes with every event of `written` exactly once, in order, or ends with a
    /// typed PostgreSQL error after an in-order prefix of them.
    async fn rest_loses_and_repeats_nothing(
        mut stream: BoxStream<'static, engagement_core::Result<Event>>,
        mut events: Vec<Event>,
        written: &[Event],
    ) {
        let mut error = None;
        while let Some(item) = bounded("the rest of the export", stream.next()).await {
            match item {
                Ok(e) => events.push(e),
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        match error {
            None => assert!(
                events == written,
                "a completed export holds every event once, in order"
            ),
            Some(e) => {
                assert!(
                    matches!(
                        e,
                        engagement_core::Error::Backend {
                            backend: "postgres",
                            ..
                        }
                    ),
                    "{e:?}"
                );
                assert!(
                    written.starts_with(&events),
                    "an interrupted export yields an in-order prefix"
                );
            }
        }
    }

    /// Ends the backend `pid`.
    async fn terminate(admin: &PgPool, pid: i32) {
        signal(admin, "SELECT pg_terminate_backend($1)", pid).await;
    }

    /// Cancels the statement the backend `pid` runs.
    async fn cancel(admin: &PgPool, pid: i32) {
        signal(admin, "SELECT pg_cancel_backend($1)", pid).await;
    }

    /// Runs `signal` (a `pg_*_backend` call) on the backend `pid`, which must be signalled.
    async fn signal(admin: &PgPool, signal: &'static str, pid: i32) {
        let done: bool = query(signal)
            .bind(pid)
            .fetch_one(admin)
            .await
            .unwrap_or_else(|e| panic!("{signal}: {e}"))
            .get(0);
        assert!(done, "{signal}: the backend {pid} was not signalled");
    }

    /// Case 30: the connection is killed while its export chunk query runs (held on a lock).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_killed_inside_an_export_query_ends_it_with_a_typed_error() {
        let (store, pid) = single(Duration::from_secs(10)).await;
        let ws = workspace("pg-kill-inside");
        store
            .append(&ws, &views("k", 5_000, 0))
            .await
            .expect("append");
        let admin = pg::admin().await;

        let (locker, export) = export_held_on_a_lock(&store, &ws, &admin, pid).await;
        terminate(&admin, pid).await;
        let result = bounded("the killed export", export)
            .await
            .expect("the export task");
        locker.close().await.expect("release the lock");
        after_kill(&store, &ws, "postgres", 5_000, result).await;
    }

    /// Case 30, between chunks: the idle pooled connection is killed after the first chunk was
    /// read. The export either ends with a typed error or — because the pool replaces the dead
    /// connection and the export resumes from its keyset — yields every event exactly once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_killed_between_export_chunks_loses_and_repeats_nothing() {
        let (store, pid) = single(Duration::from_secs(10)).await;
        let ws = workspace("pg-kill-between");
        // Two and a half chunks of 10,000: the kill falls between the first and the rest.
        let written = views("b", 25_000, 0);
        store.append(&ws, &written).await.expect("append");
        let admin = pg::admin().await;

        let (stream, events) = export_prefix(&store, &ws, 10).await;
        terminate(&admin, pid).await;
        rest_loses_and_repeats_nothing(stream, events, &written).await;
        still_serves(&store, &ws, 25_000).await;
    }

    /// Case 30 in an export large enough to be read by several tasks at once: every pooled
    /// connection is killed after the first 12,000 events were read. The export either ends
    /// with a typed error, having yielded only an in-order prefix, or — the pool replacing the
    /// dead connections — yields every event exactly once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connections_killed_in_a_parallel_export_lose_and_repeat_nothing() {
        let store = pg::store(4, Duration::from_secs(10)).await;
        let ws = workspace("pg-kill-parallel");
        let written = views("p", 40_000, 0);
        for batch in written.chunks(10_000) {
            store.append(&ws, batch).await.expect("append");
        }
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(store.pool().acquire().await.expect("a pooled connection"));
        }
        let mut pids = Vec::new();
        for conn in &mut held {
            let pid: i32 = query("SELECT pg_backend_pid()")
                .fetch_one(&mut **conn)
                .await
                .expect("pid")
                .get(0);
            pids.push(pid);
        }
        drop(held);
        let admin = pg::admin().await;

        let (stream, events) = export_prefix(&store, &ws, 12_000).await;
        for pid in pids {
            // A connection may already have been closed and replaced by the pool.
            let _ = query("SELECT pg_terminate_backend($1)")
                .bind(pid)
                .fetch_one(&admin)
                .await;
        }
        rest_loses_and_repeats_nothing(stream, events, &written).await;
        still_serves(&store, &ws, 40_000).await;
    }

    /// An export chunk's `COPY` (`postgres/large_reads.rs`) that fails before its first row:
    /// here cancelled while it waits on a lock, its statement prepared by an earlier export on
    /// the same single connection, so that the `COPY` is the first thing to reach the lock.
    /// The export ends with a typed error, and the connection — which sqlx would hand back out
    /// of step with the server, its `ReadyForQuery` still unread — is closed, not pooled, so
    /// the store still serves.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_copy_cancelled_at_its_start_leaves_the_pool_usable() {
        let (store, pid) = single(Duration::from_secs(10)).await;
        let ws = workspace("pg-copy-cancelled");
        store
            .append(&ws, &views("c", 5_000, 0))
            .await
            .expect("append");
        let (events, error) = drain(&store, &ws).await;
        assert_eq!(
            (events.len(), error.is_none()),
            (5_000, true),
            "the first export"
        );
        let admin = pg::admin().await;

        let (locker, export) = export_held_on_a_lock(&store, &ws, &admin, pid).await;
        cancel(&admin, pid).await;
        let (events, error) = bounded("the cancelled export", export)
            .await
            .expect("the export task");
        locker.close().await.expect("release the lock");
        assert!(
            events.is_empty()
                && matches!(
                    error,
                    Some(engagement_core::Error::Backend {
                        backend: "postgres",
                        ..
                    })
                ),
            "a typed error and no rows: {error:?} after {} rows",
            events.len()
        );
        still_serves(&store, &ws, 5_000).await;
        let (events, error) = drain(&store, &ws).await;
        assert_eq!(
            (events.len(), error.is_none()),
            (5_000, true),
            "a later export"
        );
    }

    /// Purges beside other workspaces' writers finish, with exact counts.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn purges_beside_other_workspaces_writers_finish() {
        let store = pg::store(8, Duration::from_secs(30)).await;
        purges_beside_other_writers(std::sync::Arc::new(store)).await;
    }

    /// A funnel reads its snapshot on two connections where the pool has one to spare (the
    /// conformance suite's pools do). On a pool of one it neither waits for a second one (the
    /// pool would time out) nor answers differently.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_funnel_on_a_pool_of_one_connection_reads_on_it_alone() {
        let (store, _) = single(Duration::from_secs(10)).await;
        engagement_core::conformance::funnel_input_of_many_journeys_matches_the_reference(&store)
            .await;
    }

    /// Case 32 on PostgreSQL.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_connection_busy_is_a_typed_timeout() {
        let acquire = Duration::from_millis(300);
        let store = pg::store(2, acquire).await;
        pool_exhaustion(&store, store.pool(), "postgres", acquire).await;
    }

    /// Case 31 on PostgreSQL, on a pool of one connection: after the dropped export (and the
    /// reads that follow it on the same pool) the server sees that connection idle, not inside
    /// a transaction, or no longer sees it at all: a connection dropped inside a `COPY` is
    /// closed and replaced rather than pooled. Seen in every run so far: idle.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_export_gives_its_connection_back_clean() {
        let (store, pid) = single(Duration::from_secs(10)).await;
        dropped_export(&store).await;
        let admin = pg::admin().await;
        let state: Option<String> = query("SELECT state FROM pg_stat_activity WHERE pid = $1")
            .bind(pid)
            .fetch_optional(&admin)
            .await
            .expect("read pg_stat_activity")
            .and_then(|row| row.get(0));
        assert!(
            matches!(state.as_deref(), None | Some("idle")),
            "the pooled connection is {state:?}"
        );
    }

    /// An export's arguments reach its `COPY` as settings of the copy's own transaction: on
    /// a pool of one connection, the statement the host runs next finds none of them (they
    /// were session settings before, and held the workspace's name).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_export_leaves_no_settings_on_its_pooled_connection() {
        let (store, _pid) = single(Duration::from_secs(10)).await;
        let ws = workspace("pg-settings");
        store.append(&ws, &views("c", 20, 0)).await.expect("append");
        let (events, error) = drain(&store, &ws).await;
        assert!(error.is_none(), "{error:?}");
        assert_eq!(events.len(), 20);
        let left: Vec<String> = query(
            "SELECT COALESCE(current_setting('engagement.copy_arg_' || n, true), '') \
             FROM generate_series(1, 8) AS n",
        )
        .fetch_all(store.pool())
        .await
        .expect("read the settings")
        .iter()
        .map(|row| row.get(0))
        .collect();
        assert!(left.iter().all(String::is_empty), "{left:?}");
    }

    /// Case 31, harder: the consumer gives up while an export chunk query is blocked. The lock
    /// released, the pool serves the next report in bounded time.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_export_cancelled_mid_query_leaves_the_pool_usable() {
        let (store, pid) = single(Duration::from_secs(10)).await;
        let ws = workspace("pg-cancel");
        store
            .append(&ws, &views("c", 3_000, 0))
            .await
            .expect("append");
        let admin = pg::admin().await;
        let (locker, export) = export_held_on_a_lock(&store, &ws, &admin, pid).await;
        export.abort();
        assert!(export.await.is_err_and(|e| e.is_cancelled()));
        locker.close().await.expect("release the lock");
        still_serves(&store as &dyn EventStore, &ws, 3_000).await;
    }

    /// Case 10: one row of a 10,000-event batch fails in the database (a NUL byte, which
    /// PostgreSQL text refuses; validation would have caught it, so this bypasses it): the
    /// append is refused for good, nothing of the batch is stored, and the corrected batch
    /// lands exactly once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_row_fails_the_whole_batch() {
        let store = pg::store(2, Duration::from_secs(10)).await;
        let ws = workspace("pg-row-failure");
        let mut batch = views("r", 10_000, 0);
        let last = batch.len() - 1;
        batch[last].name = "Page\0Viewed".into();
        let failed = store.append(&ws, &batch).await;
        assert!(
            matches!(
                failed,
                Err(engagement_core::Error::Refused {
                    backend: "postgres",
                    ..
                })
            ),
            "refused for good (a data exception), not retried by an ingestor: {failed:?}"
        );
        assert_eq!(
            super::common::count(&store, &ws).await.expect("count"),
            0,
            "nothing of the batch is stored"
        );
        batch[last].name = engagement_core::names::PAGE_VIEWED.into();
        let landed = store
            .append(&ws, &batch)
            .await
            .expect("the corrected batch");
        assert_eq!((landed.inserted, landed.duplicates), (10_000, 0));
        still_serves(&store, &ws, 10_000).await;
    }
}
