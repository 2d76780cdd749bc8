//! The SQL backends' read paths where they depend on the database's settings rather than on the
//! data: one snapshot per report (case 34 of `bad-inputs.md`) whatever isolation level the
//! host's pool gives its connections, an order by text decided by the whole text whatever
//! the server's sort settings, and searches longer than a database takes as a pattern.
//!
//! The MySQL / MariaDB cases run when `ENGAGEMENT_TEST_MYSQL_URL` is set and the `mysql` feature
//! is on; otherwise one test says it was skipped (and fails when `ENGAGEMENT_REQUIRE_SERVERS` is
//! set).

#[allow(dead_code)]
mod common;
mod reliability;

/// Upserts `customers` into the store under test and into the reference it is compared with.
#[cfg_attr(
    not(any(feature = "sqlite", all(engagement_test_mysql, feature = "mysql"))),
    allow(dead_code)
)]
async fn upsert_on_both(
    store: &dyn engagement_core::EventStore,
    oracle: &engagement_core::ReferenceStore,
    ws: &engagement_core::WorkspaceId,
    customers: &[engagement_core::Customer],
) {
    use engagement_core::EventStore;
    store.upsert_customers(ws, customers).await.expect("upsert");
    oracle
        .upsert_customers(ws, customers)
        .await
        .expect("upsert");
}

/// Case 28 with a term longer than SQLite takes as a LIKE pattern (50,000 bytes): the search
/// matches nothing, as on the reference, instead of failing ("pattern too complex"); so does a
/// shorter term whose escaped pattern is that long.
#[cfg(feature = "sqlite")]
#[tokio::test]
async fn a_search_longer_than_any_pattern_matches_nothing() {
    use std::time::Duration;

    use engagement_core::{Customer, CustomerId, EventStore, ReferenceStore};

    let second = Duration::from_secs(5);
    let store = reliability::sqlite_store("long-search", 2, second, second).await;
    let oracle = ReferenceStore::new();
    let ws = reliability::workspace("long-search");
    let customers = [
        Customer::new(CustomerId(1), "a".repeat(2_048), "a".repeat(2_048)),
        Customer::new(CustomerId(2), "%", "Percent"),
    ];
    upsert_on_both(&store, &oracle, &ws, &customers).await;
    for term in ["a".repeat(60_000), "%".repeat(30_000)] {
        let query = common::search_query(&term);
        let want = oracle.activity_page(&ws, &query).await.expect("reference");
        assert_eq!(want.total_rows, 0, "nothing holds the term");
        let got = store.activity_page(&ws, &query).await;
        assert_eq!(
            got.as_ref().ok(),
            Some(&want),
            "a search of {} bytes: {got:?}",
            term.len()
        );
    }
}

#[cfg(not(all(engagement_test_mysql, feature = "mysql")))]
#[test]
fn mysql_read_paths_skipped() {
    reliability::skip_or_fail(
        "ENGAGEMENT_TEST_MYSQL_URL",
        "mysql",
        "MySQL/MariaDB read path",
    );
}

#[cfg(all(engagement_test_mysql, feature = "mysql"))]
mod mysql {
    use std::time::{Duration, Instant};

    use engagement_core::{
        ActivityQuery, ActivitySort, ActivitySortKey, Actor, Customer, CustomerFilter, CustomerId,
        Event, EventFilter, EventPageQuery, EventStore, Milestones, ReferenceStore, TimeWindow,
        Timestamp,
    };
    use engagement_sqlx::MySqlStore;
    use engagement_sqlx::sqlx::mysql::{MySqlPool, MySqlPoolOptions};
    use engagement_sqlx::sqlx::{AssertSqlSafe, Connection, Executor, MySqlConnection, raw_sql};
    use engagement_sqlx::sqlx::{Row, query};

    use super::reliability::faults::bounded;
    use super::reliability::{my, views, workspace};
    use super::{common, upsert_on_both};

    /// The first instant past the days the store keeps per-day counts of (about 136,000 years
    /// on): an event there is counted from the events alone.
    const PAST_THE_DAILY_COUNTS: i64 = 86_400_000_000 * 50_000_000;

    /// A database of its own, and a migrated store on it whose pool (of two connections) reads
    /// under READ COMMITTED, as a host's server or pool may be set up.
    async fn read_committed_store(name: &str) -> MySqlStore {
        raw_sql(AssertSqlSafe(format!(
            "CREATE DATABASE {name} CHARACTER SET utf8mb4"
        )))
        .execute(&my::admin().await)
        .await
        .expect("create the test database");
        let pool = MySqlPoolOptions::new()
            .max_connections(2)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                        .await
                        .map(drop)
                })
            })
            .connect_with(my::server().database(name))
            .await
            .expect("connect to the test database");
        let store = MySqlStore::new(pool);
        store.migrate().await.expect("migrate the test database");
        store
    }

    /// Whether a statement of `database` waits for a table's lock.
    async fn waits_for_a_lock(admin: &MySqlPool, database: &str) -> bool {
        let waiting: i64 = query(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
             WHERE DB = ? AND STATE LIKE '%metadata lock%'",
        )
        .bind(database)
        .fetch_one(admin)
        .await
        .expect("read the process list")
        .get(0);
        waiting > 0
    }

    /// Case 34 on a pool whose sessions read under READ COMMITTED: an event stored between the
    /// statements of one event-log page (its rows, then its total from the daily counts and the
    /// raw edges) is in neither, so the total still counts the five events stored before the
    /// page, not the late one. The page's total waits on a lock of the daily counts while the
    /// event is stored (the page is full, four of the five, so the store counts: a first page
    /// shorter than its limit is its own total, with no count to wait for).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_page_and_its_total_share_one_snapshot_under_read_committed() {
        let database = format!("{}_rc", common::run_name());
        let store = read_committed_store(&database).await;
        let admin = my::admin().await;
        let ws = workspace("my-read-committed");
        store.append(&ws, &views("rc", 5, 0)).await.expect("append");

        let mut locker = MySqlConnection::connect_with(&my::server().database(&database))
            .await
            .expect("connect");
        raw_sql("LOCK TABLES engagement_log_counts WRITE")
            .execute(&mut locker)
            .await
            .expect("lock the log counts");
        let page = {
            let (store, ws) = (store.clone(), ws.clone());
            tokio::spawn(async move {
                let query = EventPageQuery {
                    filter: EventFilter::new(TimeWindow::ALL),
                    after: None,
                    limit: 4,
                };
                store.event_page(&ws, &query).await
            })
        };
        let started = Instant::now();
        while !waits_for_a_lock(&admin, &database).await {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the page never reached the lock"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Staff's event past the daily counts: stored without touching the locked table.
        let mut late = Event::new(
            "rc-late",
            CustomerId(1),
            engagement_core::names::PAGE_VIEWED,
            Timestamp::from_micros(PAST_THE_DAILY_COUNTS + 1),
        );
        late.actor = Actor::Staff;
        store
            .append(&ws, &[late])
            .await
            .expect("append beside the page");
        raw_sql("UNLOCK TABLES")
            .execute(&mut locker)
            .await
            .expect("unlock");
        locker.close().await.expect("close");
        let page = bounded("the page", page)
            .await
            .expect("the page's task")
            .expect("the page");

        store.pool().close().await;
        raw_sql(AssertSqlSafe(format!("DROP DATABASE {database}")))
            .execute(&admin)
            .await
            .expect("drop the test database");
        assert_eq!(
            (page.events.len(), page.total),
            (4, 5),
            "the page and its total from one snapshot"
        );
    }

    /// A host's pool with `autocommit` off: each read outside a transaction left one open on
    /// its pooled connection, and the next reads there answered from that first read's
    /// snapshot. Another writer's event and customer (here a second store's) must be seen by
    /// the event by id, the customers, a customer's rank, the buckets and the export.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_see_later_commits_on_a_pool_without_autocommit() {
        use engagement_core::{BucketCountsQuery, EventId, RankedScore};
        use futures::TryStreamExt;

        let writer = my::store(1, Duration::from_secs(10)).await;
        let database: String = query("SELECT DATABASE()")
            .fetch_one(writer.pool())
            .await
            .expect("the store's database")
            .get(0);
        let pool = MySqlPoolOptions::new()
            .max_connections(1)
            .after_connect(|conn, _| {
                Box::pin(async move { conn.execute("SET autocommit = 0").await.map(drop) })
            })
            .connect_with(my::server().database(&database))
            .await
            .expect("connect to the test database");
        let reader = MySqlStore::new(pool);
        let ws = workspace("my-autocommit-off");
        let id = EventId::new("ac-1");
        let customer = CustomerId(7);
        let at = Timestamp::from_micros(1_700_000_000_000_000);
        let window = TimeWindow {
            from: at,
            to: Timestamp::from_micros(at.as_micros() + 1),
        };
        let buckets = BucketCountsQuery {
            customers: vec![customer],
            names: vec![engagement_core::names::PAGE_VIEWED.to_owned()],
            edges: vec![window.from, window.to],
        };
        let export = async |store: &MySqlStore| {
            store
                .export(ws.clone(), EventFilter::new(TimeWindow::ALL))
                .try_fold(0, |n, batch| async move { Ok(n + batch.len()) })
                .await
        };
        let read = async |store: &MySqlStore| {
            (
                store.event(&ws, &id).await.expect("event").is_some(),
                store
                    .customers(&ws, &[customer])
                    .await
                    .expect("customers")
                    .len(),
                store
                    .customer_rank(&ws, window, customer)
                    .await
                    .expect("rank"),
                store
                    .bucket_counts(&ws, &buckets)
                    .await
                    .expect("buckets")
                    .len(),
                export(store).await.expect("export"),
            )
        };
        assert_eq!(read(&reader).await, (false, 0, None, 0, 0), "nothing yet");

        writer
            .append(
                &ws,
                &[Event::new(
                    id.as_str(),
                    customer,
                    engagement_core::names::PAGE_VIEWED,
                    at,
                )],
            )
            .await
            .expect("append");
        writer
            .upsert_customers(&ws, &[Customer::new(customer, "Ann", "Lee")])
            .await
            .expect("upsert");
        let rank = Some(RankedScore { score: 1, rank: 1 });
        let got = read(&reader).await;

        reader.pool().close().await;
        writer.pool().close().await;
        raw_sql(AssertSqlSafe(format!("DROP DATABASE {database}")))
            .execute(&my::admin().await)
            .await
            .expect("drop the test database");
        assert_eq!(got, (true, 1, rank, 1, 1), "what committed since is read");
    }

    /// A host's session capping every `SELECT` without a `LIMIT` (`sql_select_limit = 3`): the
    /// customers read back, the existing ids of an append, the buckets and a funnel's steps
    /// came back cut to three rows, silently (the append then failed as a concurrent one,
    /// again and again).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_return_every_row_under_a_sessions_select_limit() {
        use engagement_core::{BucketCountsQuery, FunnelQuery, TimeWindow};

        let owner = my::store(1, Duration::from_secs(10)).await;
        let database: String = query("SELECT DATABASE()")
            .fetch_one(owner.pool())
            .await
            .expect("the store's database")
            .get(0);
        let pool = MySqlPoolOptions::new()
            .max_connections(2)
            .after_connect(|conn, _| {
                Box::pin(async move { conn.execute("SET sql_select_limit = 3").await.map(drop) })
            })
            .connect_with(my::server().database(&database))
            .await
            .expect("connect to the test database");
        let store = MySqlStore::new(pool);
        let ws = workspace("my-select-limit");
        let ids: Vec<CustomerId> = (1..=10).map(CustomerId).collect();
        let customers: Vec<Customer> = ids
            .iter()
            .map(|&id| Customer::new(id, "Ann", "Lee"))
            .collect();
        store
            .upsert_customers(&ws, &customers)
            .await
            .expect("upsert");
        let event = |n: i64| {
            Event::new(
                format!("sl-{n}"),
                CustomerId(n % 10 + 1),
                engagement_core::names::PAGE_VIEWED,
                Timestamp::from_micros(n),
            )
        };
        let first: Vec<Event> = (0..10).map(event).collect();
        let again: Vec<Event> = (0..15).map(event).collect();
        store.append(&ws, &first).await.expect("append");
        let outcome = store.append(&ws, &again).await;
        let read = store.customers(&ws, &ids).await.map(|c| c.len());
        let buckets = BucketCountsQuery {
            customers: ids.clone(),
            names: vec![engagement_core::names::PAGE_VIEWED.to_owned()],
            edges: vec![Timestamp::from_micros(0), Timestamp::from_micros(100)],
        };
        let counted = store.bucket_counts(&ws, &buckets).await.map(|b| b.len());
        let registered: Vec<Event> = ids
            .iter()
            .map(|&id| {
                Event::new(
                    format!("reg-{}", id.0),
                    id,
                    "Registered",
                    Timestamp::from_micros(50 + id.0),
                )
            })
            .collect();
        store.append(&ws, &registered).await.expect("append");
        let funnel = FunnelQuery {
            window: TimeWindow::new(Timestamp::from_micros(0), Timestamp::from_micros(100))
                .expect("a window"),
            steps: vec![
                engagement_core::names::PAGE_VIEWED.to_owned(),
                "Registered".to_owned(),
            ],
            conversion_window: chrono::TimeDelta::days(1),
            open_since: None,
        };
        let journeys = store
            .funnel_input(&ws, &funnel)
            .await
            .map(|input| (input.entered, input.journeys.len()));

        store.pool().close().await;
        owner.pool().close().await;
        raw_sql(AssertSqlSafe(format!("DROP DATABASE {database}")))
            .execute(&my::admin().await)
            .await
            .expect("drop the test database");
        let outcome = outcome.expect("the append of 10 stored and 5 new ids");
        assert_eq!((outcome.inserted, outcome.duplicates), (5, 10));
        assert_eq!(read.expect("customers"), 10, "every customer read back");
        assert_eq!(counted.expect("buckets"), 10, "a bucket of every customer");
        assert_eq!(
            journeys.expect("the funnel's steps"),
            (10, 10),
            "every customer entered and converted"
        );
    }

    /// The activity table sorted by name: names longer than the server's `max_sort_length`
    /// (1,024 bytes by default) that differ only past it sort as the reference sorts them, by
    /// the whole lower-cased name, not as equal names by customer id.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn names_sort_by_their_whole_text() {
        let store = my::store(2, Duration::from_secs(10)).await;
        let ws = workspace("my-long-names");
        let long = "a".repeat(1_100);
        let customers = [
            Customer::new(CustomerId(1), format!("{long}z"), "Smith"),
            Customer::new(CustomerId(2), format!("{long}b"), "Smith"),
            Customer::new(CustomerId(3), format!("{long}m"), "Smith"),
        ];
        let oracle = ReferenceStore::new();
        upsert_on_both(&store, &oracle, &ws, &customers).await;
        let ids = |page: engagement_core::ActivityPage| -> Vec<i64> {
            page.rows.iter().map(|r| r.customer.id.0).collect()
        };
        let mut got = Vec::new();
        let mut want = Vec::new();
        for descending in [false, true] {
            let query = ActivityQuery {
                window: TimeWindow::ALL,
                customers: CustomerFilter::default(),
                milestones: Milestones::default(),
                sort: ActivitySort {
                    key: ActivitySortKey::Name,
                    descending,
                },
                offset: 0,
                limit: 10,
                row_buckets: None,
                latest: None,
            };
            got.push(ids(store.activity_page(&ws, &query).await.expect("page")));
            want.push(ids(oracle.activity_page(&ws, &query).await.expect("page")));
        }

        let database: String = query("SELECT DATABASE()")
            .fetch_one(store.pool())
            .await
            .expect("the store's database")
            .get(0);
        store.pool().close().await;
        raw_sql(AssertSqlSafe(format!("DROP DATABASE {database}")))
            .execute(&my::admin().await)
            .await
            .expect("drop the test database");
        assert_eq!(
            want,
            [vec![2, 3, 1], vec![1, 3, 2]],
            "the reference's order"
        );
        assert_eq!(got, want, "sorted by the whole name");
    }
}
