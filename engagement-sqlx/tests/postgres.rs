//! The conformance suite and the differential test against the reference, on PostgreSQL.
//!
//! Runs when `ENGAGEMENT_TEST_POSTGRES_URL` is set (for example
//! `postgres://postgres@127.0.0.1:5432/postgres`): the test binary creates a schema of its own,
//! shared by every case (each case uses its own workspace), and drops the schemas that runs
//! older than six hours left behind. Without the variable the suite is one test that says it was
//! skipped.

#[cfg(all(engagement_test_postgres, feature = "postgres"))]
#[allow(dead_code)]
mod common;

#[cfg(all(engagement_test_postgres, feature = "postgres"))]
mod suite {
    use std::str::FromStr;
    use std::sync::OnceLock;

    use engagement_sqlx::PostgresStore;
    use engagement_sqlx::sqlx::Row;
    use engagement_sqlx::sqlx::postgres::{PgConnectOptions, PgPoolOptions};

    use super::common;

    pub(super) fn url() -> String {
        std::env::var("ENGAGEMENT_TEST_POSTGRES_URL").expect("ENGAGEMENT_TEST_POSTGRES_URL")
    }

    /// Connection options on `schema`.
    pub(super) fn options(schema: &str) -> PgConnectOptions {
        PgConnectOptions::from_str(&url())
            .expect("parse ENGAGEMENT_TEST_POSTGRES_URL")
            .options([("search_path", schema)])
    }

    /// Creates this run's schema (once) and drops stale ones.
    fn schema() -> &'static str {
        static SCHEMA: OnceLock<String> = OnceLock::new();
        SCHEMA.get_or_init(|| {
            let schema = common::run_name();
            let name = schema.clone();
            common::on_own_runtime(async move {
                let pool = PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&url())
                    .await
                    .expect("connect to ENGAGEMENT_TEST_POSTGRES_URL");
                let rows = engagement_sqlx::sqlx::query(
                    "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)",
                )
                .bind(common::TEST_PREFIX)
                .fetch_all(&pool)
                .await
                .expect("list test schemas");
                for row in rows {
                    let old: String = row.get(0);
                    if common::is_stale(&old) {
                        let drop = format!("DROP SCHEMA IF EXISTS {old} CASCADE");
                        engagement_sqlx::sqlx::raw_sql(engagement_sqlx::sqlx::AssertSqlSafe(drop))
                            .execute(&pool)
                            .await
                            .expect("drop a stale test schema");
                    }
                }
                let create = format!("CREATE SCHEMA {name}");
                engagement_sqlx::sqlx::raw_sql(engagement_sqlx::sqlx::AssertSqlSafe(create))
                    .execute(&pool)
                    .await
                    .expect("create the test schema");
            });
            schema
        })
    }

    pub(super) async fn store() -> PostgresStore {
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(options(schema()))
            .await
            .expect("connect to ENGAGEMENT_TEST_POSTGRES_URL");
        let store = PostgresStore::new(pool);
        store.migrate().await.expect("migrate the test schema");
        store
    }
}

#[cfg(all(engagement_test_postgres, feature = "postgres"))]
engagement_core::conformance_tests!(suite::store);

/// What only PostgreSQL shows: the planner's statistics, and a ranking read kept from
/// depending on them.
#[cfg(all(engagement_test_postgres, feature = "postgres"))]
mod postgres_only {
    use std::time::{Duration, Instant};

    use std::sync::Arc;

    use engagement_core::report::Reports;
    use engagement_core::{
        Customer, CustomerId, Event, EventStore, FixedClock, PurgeMode, PurgeScope, Role,
        TimeWindow, Timestamp, TopCustomersQuery, Viewer, WorkspaceId, names,
    };
    use engagement_memory::MemoryStore;
    use engagement_sqlx::sqlx::postgres::{PgPool, PgPoolOptions};
    use engagement_sqlx::sqlx::{AssertSqlSafe, Row, query, raw_sql};
    use engagement_sqlx::{PostgresStore, TablePrefix};

    use super::{common, suite};

    #[tokio::test]
    async fn closing_keeps_appends_and_refuses_later_calls() {
        common::closing_keeps_appends_and_refuses_later_calls(suite::store().await, suite::store())
            .await;
    }

    /// A store in a schema of its own (`{run}_{name}`), and a pool to read the server's
    /// statistics views beside it.
    async fn store_in_own_schema(name: &str) -> (PostgresStore, PgPool, String) {
        let schema = format!("{}_{name}", common::run_name());
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&suite::url())
            .await
            .expect("connect");
        raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .expect("create the schema");
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(suite::options(&schema))
            .await
            .expect("connect to the schema");
        let store = PostgresStore::new(pool);
        store.migrate().await.expect("migrate");
        (store, admin, schema)
    }

    /// A customer's detail panel (an activity page with its trend and latest milestones) is
    /// planned as the other reports are: its statements ran under the event log's
    /// `random_page_cost` of 1.1 when the page read the milestones with it (a view over the
    /// customers fails any read under another cost than the session's default).
    #[tokio::test]
    async fn the_detail_panel_is_planned_as_the_other_reports() {
        let (store, admin, schema) = store_in_own_schema("panel_costs").await;
        let ws = WorkspaceId::new("demo").expect("workspace");
        let now: Timestamp = "2026-11-20T12:00:00Z".parse().expect("now");
        let at: Timestamp = "2026-11-20T11:00:00Z".parse().expect("instant");
        store
            .upsert_customers(&ws, &[Customer::new(CustomerId(5), "Ada", "Lovelace")])
            .await
            .expect("upsert");
        let opened = [names::LINK_OPENED, names::ORDER_SUBMITTED]
            .map(|name| Event::new(format!("e-{name}"), CustomerId(5), name, at));
        store.append(&ws, &opened).await.expect("append");
        raw_sql(AssertSqlSafe(format!(
            "SET search_path = {schema};
             ALTER TABLE engagement_customers RENAME TO engagement_customers_t;
             CREATE FUNCTION read_at_report_costs() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $f$
             BEGIN
               IF current_setting('random_page_cost') <> (SELECT reset_val FROM pg_settings
                                                          WHERE name = 'random_page_cost') THEN
                 RAISE EXCEPTION 'customers read at random_page_cost %',
                   current_setting('random_page_cost');
               END IF;
               RETURN true;
             END $f$;
             CREATE VIEW engagement_customers AS
               SELECT * FROM engagement_customers_t WHERE read_at_report_costs();"
        )))
        .execute(&admin)
        .await
        .expect("a view over the customers");
        let reports = Reports::new(Arc::new(store)).with_clock(Arc::new(FixedClock::new(now)));
        let viewer = Viewer::new(ws.clone(), Role::Administrator);
        let detail = reports.customer_detail(&viewer, &ws, CustomerId(5)).await;
        raw_sql(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&admin)
            .await
            .expect("drop the schema");
        let detail = detail.expect("the detail panel, read at a report's costs");
        assert_eq!((detail.cards.views, detail.recent_milestones.len()), (1, 1));
    }

    /// `count` events, ids from `first` on, one customer each, a second apart.
    fn events(first: i64, count: i64) -> Vec<Event> {
        (first..first + count)
            .map(|i| {
                let at = Timestamp::from_micros(1_700_000_000_000_000 + i * 1_000_000);
                Event::new(format!("e{i}"), CustomerId(i), "Page Viewed", at)
            })
            .collect()
    }

    /// What `read` gives once `done` holds of it, or after 30 s: the server's statistics views
    /// reach other sessions up to seconds after a commit.
    async fn eventually<T, F: Future<Output = T>>(
        mut read: impl FnMut() -> F,
        done: impl Fn(&T) -> bool,
    ) -> T {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let value = read().await;
            if done(&value) || Instant::now() > deadline {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The values of `columns` (expressions over a row of the statistics view `view`, such
    /// as `pg_stat_user_tables`) for `table` of `schema`, once `done` holds of them or after
    /// 30 s: a session's counts reach the views up to seconds after its statements ran.
    async fn statistics<const N: usize>(
        admin: &PgPool,
        view: &str,
        (schema, table): (&str, &str),
        columns: [&str; N],
        done: impl Fn(&[i64; N]) -> bool,
    ) -> [i64; N] {
        let sql = format!(
            "SELECT {} FROM {view} WHERE schemaname = $1 AND relname = $2",
            columns.join(", ")
        );
        let read = || async {
            let row = query(AssertSqlSafe(sql.clone()))
                .bind(schema)
                .bind(table)
                .fetch_one(admin)
                .await
                .expect("read the statistics");
            std::array::from_fn(|i| row.get::<i64, _>(i))
        };
        eventually(read, done).await
    }

    /// How many times the events table of `schema` was analysed, once the server has counted
    /// at least `at_least` (or what it counted after 30 s).
    async fn analyses(admin: &PgPool, schema: &str, at_least: i64) -> i64 {
        analyses_of(admin, (schema, "engagement_events"), at_least).await
    }

    /// How many times `table` of `schema` was analysed, as [`analyses`].
    async fn analyses_of(admin: &PgPool, table: (&str, &str), at_least: i64) -> i64 {
        let [count] = statistics(
            admin,
            "pg_stat_user_tables",
            table,
            ["analyze_count"],
            |[count]| *count >= at_least,
        )
        .await;
        count
    }

    /// Appends `count` of [`events`] from `first` on.
    async fn append(store: &PostgresStore, workspace: &WorkspaceId, first: i64, count: i64) {
        store
            .append(workspace, &events(first, count))
            .await
            .expect("append");
    }

    /// A ranking whose candidates are more than the store reads one customer at a time (the
    /// rest left to the planner) agrees with the memory store, ties included.
    #[tokio::test]
    async fn a_ranking_of_many_candidates_agrees_with_the_memory_store() {
        let (store, _admin, _schema) = store_in_own_schema("many").await;
        let memory = MemoryStore::new();
        let workspace = WorkspaceId::new("many").expect("workspace");
        let day = 1_700_006_400_000_000_i64; // a UTC midnight
        // 1,500 customers with one event in the day, every 30th with two: the 100th place
        // scores 1, and every customer's total reaches that bar.
        let events: Vec<Event> = (0..1_500_i64)
            .flat_map(|c| {
                (0..=i64::from(c % 30 == 0)).map(move |k| {
                    let at = Timestamp::from_micros(day + c * 50_000_000 + k);
                    Event::new(format!("c{c}-{k}"), CustomerId(c), "Page Viewed", at)
                })
            })
            .collect();
        store.append(&workspace, &events).await.expect("append");
        memory.append(&workspace, &events).await.expect("append");
        let query = TopCustomersQuery {
            window: TimeWindow::new(
                Timestamp::from_micros(day),
                Timestamp::from_micros(day + 86_400_000_000),
            )
            .expect("window"),
            limit: 100,
        };
        let ranked = store.top_customers(&workspace, &query).await.expect("rank");
        assert_eq!(ranked.len(), 100);
        assert_eq!(
            ranked,
            memory
                .top_customers(&workspace, &query)
                .await
                .expect("rank")
        );
    }

    /// A bulk load is vacuumed and analysed by the store itself: this server runs without
    /// autovacuum in CI, and where autovacuum runs it records `last_autovacuum` and
    /// `last_autoanalyze`, not `last_vacuum` and `last_analyze`.
    #[tokio::test]
    async fn a_bulk_load_leaves_the_tables_vacuumed_and_analysed() {
        let (store, admin, schema) = store_in_own_schema("stats").await;
        let workspace = WorkspaceId::new("stats").expect("workspace");
        append(&store, &workspace, 0, 3_000).await;

        let read = || async {
            query(
                "SELECT relname FROM pg_stat_user_tables WHERE schemaname = $1 \
                 AND last_analyze IS NOT NULL AND last_vacuum IS NOT NULL ORDER BY relname",
            )
            .bind(&schema)
            .fetch_all(&admin)
            .await
            .expect("read the statistics' ages")
            .iter()
            .map(|row| row.get(0))
            .collect::<Vec<String>>()
        };
        let tables = eventually(read, |tables| tables.len() >= 5).await;
        assert_eq!(
            tables,
            [
                "engagement_customers",
                "engagement_daily",
                "engagement_events",
                "engagement_log_counts",
                "engagement_totals"
            ]
        );
    }

    /// The events table's sequential scans as the server has counted them, once it has
    /// counted at least `inserted` inserted rows and `deleted` deleted ones (or after 30 s),
    /// and those two counts: a session's counts reach the view together, up to seconds after
    /// its statements ran.
    async fn scans(admin: &PgPool, schema: &str, inserted: i64, deleted: i64) -> [i64; 3] {
        statistics(
            admin,
            "pg_stat_user_tables",
            (schema, "engagement_events"),
            ["seq_scan", "n_tup_ins", "n_tup_del"],
            |[_, ins, del]| *ins >= inserted && *del >= deleted,
        )
        .await
    }

    /// A retention purge reads its chunks from the time index, oldest first, when another
    /// workspace's events fill most of the table. Read as `… LIMIT 5000` without an order, each
    /// chunk was a sequential scan here: the planner expects to meet enough rows early, but
    /// this workspace's rows sit behind the other's, and behind those earlier chunks deleted.
    #[tokio::test]
    async fn a_purge_beside_a_larger_workspace_reads_by_index() {
        let (store, admin, schema) = store_in_own_schema("purgeplan").await;
        let other = WorkspaceId::new("other").expect("workspace");
        let purged = WorkspaceId::new("purged").expect("workspace");
        append(&store, &other, 0, 30_000).await;
        append(&store, &purged, 30_000, 12_000).await;
        store
            .refresh_statistics()
            .await
            .expect("refresh the statistics");
        let before = scans(&admin, &schema, 42_000, 0).await;
        assert_eq!(
            before[1..],
            [42_000, 0],
            "the appends, as the server counted them"
        );

        let cutoff = events(30_000, 12_000)[11_000].occurred_at;
        let outcome = store
            .purge(&purged, PurgeScope::Before { cutoff }, PurgeMode::Delete)
            .await
            .expect("purge");
        assert_eq!(outcome.events, 11_000);

        let after = scans(&admin, &schema, 42_000, 11_000).await;
        assert_eq!(
            after[1..],
            [42_000, 11_000],
            "the purge, as the server counted it"
        );
        assert_eq!(after[0], before[0], "sequential scans of the events");
        let held = |workspace| common::count(&store, workspace);
        assert_eq!(held(&purged).await.expect("count"), 1_000);
        assert_eq!(held(&other).await.expect("count"), 30_000);
    }

    /// Heap and index blocks of the customers table that statements on `pool`'s one
    /// connection have read so far (`pg_stat_force_next_flush` makes the server count them as
    /// soon as that connection's last statement ends, not up to a second later; PostgreSQL 15
    /// and later, where the store itself needs 12).
    async fn customer_blocks(pool: &PgPool, admin: &PgPool, schema: &str) -> [i64; 2] {
        query("SELECT pg_stat_force_next_flush()")
            .execute(pool)
            .await
            .expect("flush the statistics");
        statistics(
            admin,
            "pg_statio_user_tables",
            (schema, "engagement_customers"),
            [
                "heap_blks_read + heap_blks_hit",
                "idx_blks_read + idx_blks_hit",
            ],
            |_| true,
        )
        .await
    }

    /// A store in `schema` over a pool of one connection, so that the server's view of that
    /// connection is the view of every statement the store runs.
    async fn on_one_connection(schema: &str) -> PostgresStore {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(suite::options(schema))
            .await
            .expect("connect to the schema");
        PostgresStore::new(pool)
    }

    /// The top 100 of the UTC day from the first of [`events`] on.
    fn top_of_the_first_day() -> TopCustomersQuery {
        let day = events(0, 1)[0].occurred_at;
        let end = Timestamp::from_micros(day.as_micros() + 86_400_000_000);
        TopCustomersQuery {
            window: TimeWindow::new(day, end).expect("window"),
            limit: 100,
        }
    }

    /// The ranking leaves admin placeholders out by the index of placeholders, reading none of
    /// the workspace's other customer rows. Without that index a ranking here read 858 heap
    /// blocks of customers: each probed customer's row, or a scan of the workspace's customers,
    /// whose rows lie among the other workspace's.
    #[tokio::test]
    async fn a_ranking_reads_no_customer_rows_but_the_placeholders() {
        let (store, admin, schema) = store_in_own_schema("placeholders").await;
        let ranked = WorkspaceId::new("ranked").expect("workspace");
        let other = WorkspaceId::new("other").expect("workspace");
        // Each workspace's customers in turns of 1,000, as writes from many tenants land.
        for turn in 0..10_i64 {
            for workspace in [&ranked, &other] {
                let customers: Vec<Customer> = (turn * 1_000..(turn + 1) * 1_000)
                    .map(|id| Customer {
                        is_admin_placeholder: id % 2_000 == 7,
                        ..Customer::new(CustomerId(id), "First", format!("Last {id}"))
                    })
                    .collect();
                store
                    .upsert_customers(workspace, &customers)
                    .await
                    .expect("upsert the customers");
            }
        }
        append(&store, &ranked, 0, 3_000).await;
        store
            .refresh_statistics()
            .await
            .expect("refresh the statistics");
        let store = on_one_connection(&schema).await;
        let query = top_of_the_first_day();

        let before = customer_blocks(store.pool(), &admin, &schema).await;
        let top = store.top_customers(&ranked, &query).await.expect("rank");
        let after = customer_blocks(store.pool(), &admin, &schema).await;

        assert_eq!(top.len(), 100);
        assert!(
            top.iter().all(|score| score.customer.0 % 2_000 != 7),
            "no placeholder ranks: {top:?}"
        );
        assert!(
            after[1] > before[1],
            "the ranking read an index of customers"
        );
        assert!(
            after[0] - before[0] < 10,
            "customer heap blocks read: {} (before {before:?}, after {after:?})",
            after[0] - before[0]
        );
    }

    /// A ranking's statements, and a customer's rank, are planned for their arguments at every
    /// run: sqlx prepares each statement once per connection, and PostgreSQL would otherwise
    /// switch a prepared statement to one generic plan from its sixth run on, blind to its
    /// arguments.
    #[tokio::test]
    async fn reports_plan_their_statements_for_their_arguments_at_every_run() {
        let (store, _admin, schema) = store_in_own_schema("plans").await;
        let workspace = WorkspaceId::new("plans").expect("workspace");
        append(&store, &workspace, 0, 3_000).await;
        let store = on_one_connection(&schema).await;
        let query = top_of_the_first_day();
        for i in 0..10 {
            store.top_customers(&workspace, &query).await.expect("rank");
            store
                .customer_rank(&workspace, query.window, CustomerId(i))
                .await
                .expect("rank one customer");
        }

        // The connection's own prepared statements that take arguments (one without any is
        // always planned once).
        let plans = raw_sql(
            "SELECT COUNT(*), CAST(COALESCE(SUM(custom_plans), 0) AS BIGINT), \
             CAST(COALESCE(SUM(generic_plans), 0) AS BIGINT) \
             FROM pg_prepared_statements WHERE cardinality(parameter_types) > 0",
        )
        .fetch_one(store.pool())
        .await
        .expect("read the prepared statements");
        let [statements, custom, generic] = [0, 1, 2].map(|i| plans.get::<i64, _>(i));
        assert!(statements >= 3, "the ranking's statements: {statements}");
        assert_eq!(
            generic, 0,
            "generic plans ({statements} statements, {custom} custom plans)"
        );
        assert!(custom >= 10 * statements, "custom plans: {custom}");
    }

    /// Rows written after the last analysis, too few for the next by the events' growth, are
    /// analysed once the writes go quiet; `refresh_statistics` analyses at once.
    #[tokio::test]
    async fn the_rows_of_a_burst_are_analysed_once_writes_go_quiet_or_when_asked() {
        let (store, admin, schema) = store_in_own_schema("quiet").await;
        let workspace = WorkspaceId::new("quiet").expect("workspace");
        append(&store, &workspace, 0, 3_000).await;
        assert_eq!(
            analyses(&admin, &schema, 1).await,
            1,
            "the first thousand rows"
        );

        // Half of 3,000 events more are due by growth: 2,000 are not, but they are stale.
        append(&store, &workspace, 3_000, 2_000).await;
        assert_eq!(
            analyses(&admin, &schema, 2).await,
            2,
            "after a quiet second"
        );

        // Too few rows to wait for quiet: analysed only when asked.
        append(&store, &workspace, 5_000, 10).await;
        store
            .refresh_statistics()
            .await
            .expect("refresh the statistics");
        assert_eq!(analyses(&admin, &schema, 3).await, 3, "asked for");
    }

    /// Two stores made from one under two prefixes each count their own tables' rows: the
    /// other's writes neither make an analysis of them due nor take one's place.
    #[tokio::test]
    async fn stores_under_two_prefixes_each_analyse_their_own_tables() {
        let (store, admin, schema) = store_in_own_schema("prefixes").await;
        let prefixed = |prefix: &str| {
            store
                .clone()
                .with_prefix(TablePrefix::new(prefix).expect("prefix"))
        };
        let (one, two) = (prefixed("one_"), prefixed("two_"));
        one.migrate().await.expect("migrate");
        two.migrate().await.expect("migrate");
        let workspace = WorkspaceId::new("prefixes").expect("workspace");
        // 1,200 rows into one_, 600 between them into two_: one_ is due, two_ is not.
        append(&one, &workspace, 0, 600).await;
        append(&two, &workspace, 0, 600).await;
        append(&one, &workspace, 600, 600).await;
        assert_eq!(
            analyses_of(&admin, (&schema, "one_events"), 1).await,
            1,
            "one_events, 1,200 rows written"
        );
        assert_eq!(
            analyses_of(&admin, (&schema, "two_events"), 0).await,
            0,
            "two_events, 600 rows written"
        );
    }
}

#[cfg(not(all(engagement_test_postgres, feature = "postgres")))]
#[test]
fn postgres_suite_skipped() {
    let message = String::from(
        "skipped: set ENGAGEMENT_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres) \
         and enable the `postgres` feature to run the PostgreSQL conformance suite",
    );
    assert!(
        std::env::var_os("ENGAGEMENT_REQUIRE_SERVERS").is_none(),
        "ENGAGEMENT_REQUIRE_SERVERS is set, so the suite must run: {message}"
    );
    eprintln!("{message}");
}
