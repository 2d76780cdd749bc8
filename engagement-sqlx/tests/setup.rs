//! Connecting, configuring and migrating: migrations run by several stores at once, a migration
//! that fails half-way, a ledger written by a newer version, and stores under other prefixes.
//!
//! The SQLite cases always run. The PostgreSQL and MySQL ones run when
//! `ENGAGEMENT_TEST_POSTGRES_URL` / `ENGAGEMENT_TEST_MYSQL_URL` are set and their feature is
//! on, each case in a schema or database of its own that it drops when it ends; otherwise one
//! test says they were skipped (and fails when `ENGAGEMENT_REQUIRE_SERVERS` is set).

// Built with neither SQLite nor a server suite (a server feature alone, its URL unset), the
// cases shared between backends have no caller.
#![cfg_attr(
    not(any(feature = "sqlite", engagement_test_postgres, engagement_test_mysql)),
    allow(dead_code, unused_imports)
)]

#[allow(dead_code)]
mod common;

use engagement_core::{CustomerId, Error, Event, EventStore, Timestamp, WorkspaceId};

/// Three page views of customer 1.
fn events() -> Vec<Event> {
    (0..3)
        .map(|i| {
            Event::new(
                format!("e{i}"),
                CustomerId(1),
                "Page Viewed",
                Timestamp::from_micros(i),
            )
        })
        .collect()
}

/// Asserts that `store` works: it takes an append and reads it back.
async fn serves(store: &dyn EventStore) {
    let ws = WorkspaceId::new("setup").expect("workspace");
    let outcome = store.append(&ws, &events()).await.expect("append");
    assert_eq!(outcome.inserted + outcome.duplicates, 3);
    let id = engagement_core::EventId::new("e1");
    assert!(store.event(&ws, &id).await.expect("read").is_some());
}

/// Asserts that `store`, whose migrations have not run, says so when it is used: a read and
/// a write fail with an error that names `migrate()`.
async fn asks_for_migrate(store: &dyn EventStore) {
    let ws = WorkspaceId::new("setup").expect("workspace");
    let read = store.event(&ws, &engagement_core::EventId::new("e1")).await;
    let write = store.append(&ws, &events()).await.map(drop);
    for (what, result) in [("read", read.map(drop)), ("write", write)] {
        match result {
            Err(Error::Backend { source, .. }) => assert!(
                source.to_string().contains("run `migrate()`"),
                "{what}: {source}"
            ),
            other => panic!("{what} before migrate: {other:?}"),
        }
    }
}

/// Asserts that `result` is the error of a database migrated by a newer version.
fn assert_newer(result: engagement_core::Result<()>, backend: &str) {
    match result {
        Err(Error::Backend { backend: b, source }) if b == backend => {
            assert!(source.to_string().contains("newer version"), "{source}");
        }
        other => panic!("expected the newer-version error, got {other:?}"),
    }
}

/// The host's table under the name of migration 1's second table.
const CLASH: &str = "CREATE TABLE engagement_customers (x INTEGER)";
/// The host's table gone again.
const UNCLASH: &str = "DROP TABLE engagement_customers";
/// A ledger row of a migration this build does not know.
const NEWER: &str = "INSERT INTO engagement_schema_migrations (version, description, checksum, \
                     applied_at) VALUES (999, 'from the future', 'x', 0)";

/// A migration whose second table clashes with a host's table fails, and once that table is
/// gone the rerun applies every migration. `exec` runs SQL on the store's database; `between`
/// checks what the failure left.
async fn a_clash_fails_and_the_rerun_works(
    store: &dyn EventStore,
    migrate: impl AsyncFn() -> engagement_core::Result<()>,
    exec: impl AsyncFn(&'static str),
    between: impl AsyncFn(),
) {
    exec(CLASH).await;
    assert!(migrate().await.is_err(), "the clash fails migration 1");
    between().await;
    exec(UNCLASH).await;
    migrate().await.expect("the rerun applies every migration");
    serves(store).await;
}

/// A ledger holding a migration newer than this build knows is refused with a typed error.
async fn a_newer_ledger_is_refused(
    migrate: impl AsyncFn() -> engagement_core::Result<()>,
    exec: impl AsyncFn(&'static str),
    backend: &str,
) {
    migrate().await.expect("migrate");
    exec(NEWER).await;
    assert_newer(migrate().await, backend);
}

/// A customer whose search text an earlier version stored lower-cased by
/// `str::to_lowercase` (`ΚΩΣ` as `κως`, the word-final Σ as ς) is not found by a search for
/// `ΚΩΣ` (folded to `κωσ`) until the migration that folds stored texts runs: `forget` takes
/// that migration's ledger row away, so that `migrate` runs it again.
async fn search_texts_stored_before_the_fold_are_folded(
    store: &dyn EventStore,
    migrate: impl AsyncFn() -> engagement_core::Result<()>,
    exec: impl AsyncFn(&'static str),
    forget: &'static str,
) {
    use engagement_core::Customer;
    migrate().await.expect("migrate");
    let ws = WorkspaceId::new("fold").expect("workspace");
    let stored = [
        Customer::new(CustomerId(1), "ΚΩΣ", "Old"),
        Customer::new(CustomerId(2), "Ann", "Other"),
    ];
    store.upsert_customers(&ws, &stored).await.expect("upsert");
    let found = async |term: &str| -> Vec<i64> {
        let query = common::search_query(term);
        let page = store.activity_page(&ws, &query).await.expect("search");
        page.rows.iter().map(|r| r.customer.id.0).collect()
    };
    assert_eq!(found("ΚΩΣ").await, [1], "stored after the fold");
    exec("UPDATE engagement_customers SET search_text = REPLACE(search_text, 'σ', 'ς')").await;
    assert!(found("ΚΩΣ").await.is_empty(), "stored as before the fold");
    exec(forget).await;
    migrate().await.expect("the folding migration runs again");
    assert_eq!(found("ΚΩΣ").await, [1], "folded by the migration");
    assert_eq!(found("ann").await, [2], "other texts unchanged");
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use engagement_sqlx::SqliteStore;
    use engagement_sqlx::sqlx::{AssertSqlSafe, Row, raw_sql};

    use super::{
        a_clash_fails_and_the_rerun_works, a_newer_ledger_is_refused, asks_for_migrate,
        search_texts_stored_before_the_fold_are_folded, serves,
    };

    /// The directory of this test binary's files, removed by [`remove_dir`].
    fn dir() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("engagement-setup-{}", std::process::id()))
    }

    fn remove_dir() {
        let _ = std::fs::remove_dir_all(dir());
    }

    async fn ledger_rows(store: &SqliteStore, ledger: &str) -> i64 {
        raw_sql(AssertSqlSafe(format!("SELECT COUNT(*) FROM {ledger}")))
            .fetch_one(store.pool())
            .await
            .expect("read the ledger")
            .get(0)
    }

    /// Runs `sql` on `store`'s database.
    async fn exec(store: &SqliteStore, sql: &'static str) {
        raw_sql(sql).execute(store.pool()).await.expect(sql);
    }

    #[tokio::test]
    async fn a_store_used_before_it_is_migrated_says_to_migrate() {
        let store = SqliteStore::connect("sqlite::memory:").await.expect("open");
        asks_for_migrate(&store).await;
        store.migrate().await.expect("migrate");
        serves(&store).await;
    }

    #[tokio::test]
    async fn a_migration_failing_half_way_leaves_nothing_and_a_rerun_works() {
        let store = SqliteStore::connect("sqlite::memory:").await.expect("open");
        let migrate = async || store.migrate().await;
        let run = async |sql| exec(&store, sql).await;
        a_clash_fails_and_the_rerun_works(&store, migrate, run, async || {}).await;
        assert_eq!(ledger_rows(&store, "engagement_schema_migrations").await, 7);
    }

    #[tokio::test]
    async fn search_texts_stored_before_the_fold_are_folded_by_migrate() {
        let store = SqliteStore::connect("sqlite::memory:").await.expect("open");
        search_texts_stored_before_the_fold_are_folded(
            &store,
            async || store.migrate().await,
            async |sql| exec(&store, sql).await,
            "DELETE FROM engagement_schema_migrations WHERE version = 7",
        )
        .await;
    }

    #[tokio::test]
    async fn a_ledger_from_a_newer_version_is_refused() {
        let store = SqliteStore::connect("sqlite::memory:").await.expect("open");
        let migrate = async || store.migrate().await;
        a_newer_ledger_is_refused(migrate, async |sql| exec(&store, sql).await, "sqlite").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stores_migrating_one_file_at_once_apply_each_migration_once() {
        std::fs::create_dir_all(dir()).expect("create the test directory");
        let url = format!("sqlite://{}", dir().join("concurrent-migrate.db").display());
        let stores = futures::future::join_all(
            (0..4).map(|_| async { SqliteStore::connect(&url).await.expect("open") }),
        )
        .await;
        let results = futures::future::join_all(stores.iter().map(SqliteStore::migrate)).await;
        for result in results {
            result.expect("every store's migrate succeeds");
        }
        assert_eq!(
            ledger_rows(&stores[0], "engagement_schema_migrations").await,
            7
        );
        serves(&stores[0]).await;
        for store in &stores {
            store.pool().close().await;
        }
        remove_dir();
    }
}

/// A server that cannot be reached is a `Backend` error that says why: the pool retried the
/// refused connection until its 10 s timeout and then said only that it was busy.
/// Port 1 on the loopback has no server on it, so no server is needed.
#[cfg(all(feature = "postgres", feature = "mysql"))]
#[tokio::test]
async fn an_unreachable_server_is_a_backend_error_that_says_why() {
    for url in [
        "postgres://postgres@127.0.0.1:1/x",
        "mysql://root@127.0.0.1:1/x",
    ] {
        let Err(err) = engagement_sqlx::connect(url).await else {
            panic!("{url}: connected, but no server listens there");
        };
        let mut said = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(e) = source {
            said = format!("{said}: {e}");
            source = e.source();
        }
        assert!(matches!(err, Error::Backend { .. }), "{url}: {said}");
        assert!(said.to_lowercase().contains("refused"), "{url}: {said}");
    }
}

#[cfg(not(all(engagement_test_postgres, feature = "postgres")))]
#[test]
fn postgres_setup_skipped() {
    skip_or_fail("ENGAGEMENT_TEST_POSTGRES_URL", "postgres");
}

#[cfg(not(all(engagement_test_mysql, feature = "mysql")))]
#[test]
fn mysql_setup_skipped() {
    skip_or_fail("ENGAGEMENT_TEST_MYSQL_URL", "mysql");
}

/// Says a server's cases were skipped, or fails when `ENGAGEMENT_REQUIRE_SERVERS` is set.
#[allow(dead_code)]
fn skip_or_fail(var: &str, feature: &str) {
    let message = format!(
        "skipped: set {var} and enable the `{feature}` feature to run its connect and migrate tests"
    );
    assert!(
        std::env::var_os("ENGAGEMENT_REQUIRE_SERVERS").is_none(),
        "ENGAGEMENT_REQUIRE_SERVERS is set, so they must run: {message}"
    );
    eprintln!("{message}");
}

#[cfg(all(engagement_test_postgres, feature = "postgres"))]
mod postgres {
    use std::str::FromStr;
    use std::sync::atomic::{AtomicU64, Ordering};

    use engagement_sqlx::sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
    use engagement_sqlx::sqlx::{AssertSqlSafe, Row, raw_sql};
    use engagement_sqlx::{PostgresStore, TablePrefix};

    use super::{
        a_clash_fails_and_the_rerun_works, a_newer_ledger_is_refused, asks_for_migrate, common,
        search_texts_stored_before_the_fold_are_folded, serves,
    };

    /// The SQL taking, to the transaction's end, the advisory lock `migrate` takes for the
    /// ledger `ledger` in `schema`.
    fn take_migration_lock(schema: &str, ledger: &str) -> String {
        format!("SELECT pg_advisory_xact_lock(hashtextextended('{schema}.{ledger}', 0))")
    }

    fn url() -> String {
        std::env::var("ENGAGEMENT_TEST_POSTGRES_URL").expect("ENGAGEMENT_TEST_POSTGRES_URL")
    }

    /// A schema of one test's own, dropped when it drops.
    struct Schema {
        name: String,
        admin: PgPool,
    }

    impl Schema {
        async fn new() -> Self {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let name = format!("{}_setup{n}", common::run_name());
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect(&url())
                .await
                .expect("connect to ENGAGEMENT_TEST_POSTGRES_URL");
            raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {name}")))
                .execute(&admin)
                .await
                .expect("create the schema");
            Self { name, admin }
        }

        /// Options of a connection whose `search_path` is the schema.
        fn options(&self) -> PgConnectOptions {
            PgConnectOptions::from_str(&url())
                .expect("parse ENGAGEMENT_TEST_POSTGRES_URL")
                .options([("search_path", self.name.as_str())])
        }

        async fn pool(&self, options: PgConnectOptions) -> PgPool {
            PgPoolOptions::new()
                .max_connections(2)
                .connect_with(options)
                .await
                .expect("connect to the schema")
        }

        async fn count(&self, sql: &str) -> i64 {
            raw_sql(AssertSqlSafe(sql.replace("{schema}", &self.name)))
                .fetch_one(&self.admin)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .get(0)
        }

        async fn drop(self) {
            raw_sql(AssertSqlSafe(format!("DROP SCHEMA {} CASCADE", self.name)))
                .execute(&self.admin)
                .await
                .expect("drop the schema");
        }
    }

    /// A host whose sessions run at REPEATABLE READ (`default_transaction_isolation`, set on
    /// its pool or its database): stores migrating at once each read the ledger after the
    /// one before them committed, and apply nothing twice.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_migrations_under_repeatable_read_apply_each_once() {
        let schema = Schema::new().await;
        let options = schema
            .options()
            .options([("default_transaction_isolation", "repeatable read")]);
        // Migrate's own lock, held while the stores start, so that each begins (and takes
        // its snapshot) before any of them has committed.
        let mut holder = schema.admin.begin().await.expect("begin");
        raw_sql(AssertSqlSafe(take_migration_lock(
            &schema.name,
            "engagement_schema_migrations",
        )))
        .execute(&mut *holder)
        .await
        .expect("hold the migration lock");
        let mut stores = Vec::new();
        for _ in 0..3 {
            stores.push(PostgresStore::new(schema.pool(options.clone()).await));
        }
        let migrations = futures::future::join_all(stores.iter().map(PostgresStore::migrate));
        let gate = async {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            holder.rollback().await.expect("release the lock");
        };
        let (results, ()) = tokio::join!(migrations, gate);
        for result in results {
            result.expect("every store's migrate succeeds");
        }
        let applied = schema
            .count("SELECT COUNT(*) FROM {schema}.engagement_schema_migrations")
            .await;
        assert_eq!(applied, 9);
        serves(&stores[0]).await;
        schema.drop().await;
    }

    /// Advisory locks are the database's: a migration in one schema, holding its lock, leaves
    /// another schema's `migrate` to run at once.
    #[tokio::test]
    async fn a_migration_in_another_schema_does_not_hold_this_one() {
        let (busy, schema) = (Schema::new().await, Schema::new().await);
        let mut holder = busy.admin.begin().await.expect("begin");
        raw_sql(AssertSqlSafe(take_migration_lock(
            &busy.name,
            "engagement_schema_migrations",
        )))
        .execute(&mut *holder)
        .await
        .expect("hold the other schema's migration lock");
        let store = PostgresStore::new(schema.pool(schema.options()).await);
        // Its own schema's lock, held, does hold it.
        let mut own = schema.admin.begin().await.expect("begin");
        raw_sql(AssertSqlSafe(take_migration_lock(
            &schema.name,
            "engagement_schema_migrations",
        )))
        .execute(&mut *own)
        .await
        .expect("hold the schema's own migration lock");
        let waited =
            tokio::time::timeout(std::time::Duration::from_millis(300), store.migrate()).await;
        assert!(
            waited.is_err(),
            "the migration waited for its own schema's lock"
        );
        own.rollback().await.expect("release the lock");
        let migrated =
            tokio::time::timeout(std::time::Duration::from_secs(10), store.migrate()).await;
        assert!(matches!(migrated, Ok(Ok(()))), "{migrated:?}");
        holder.rollback().await.expect("release the lock");
        serves(&store).await;
        busy.drop().await;
        schema.drop().await;
    }

    /// Runs `sql` on `store`'s database.
    async fn exec(store: &PostgresStore, sql: &'static str) {
        raw_sql(sql).execute(store.pool()).await.expect(sql);
    }

    #[tokio::test]
    async fn a_store_used_before_it_is_migrated_says_to_migrate() {
        let schema = Schema::new().await;
        let store = PostgresStore::new(schema.pool(schema.options()).await);
        asks_for_migrate(&store).await;
        schema.drop().await;
    }

    /// A migration whose second statement fails leaves nothing behind, and the ledger as it
    /// was: the rerun applies it.
    #[tokio::test]
    async fn a_migration_failing_half_way_leaves_nothing_and_a_rerun_works() {
        let schema = Schema::new().await;
        let store = PostgresStore::new(schema.pool(schema.options()).await);
        let migrate = async || store.migrate().await;
        let run = async |sql| exec(&store, sql).await;
        a_clash_fails_and_the_rerun_works(&store, migrate, run, async || {}).await;
        schema.drop().await;
    }

    #[tokio::test]
    async fn search_texts_stored_before_the_fold_are_folded_by_migrate() {
        let schema = Schema::new().await;
        let store = PostgresStore::new(schema.pool(schema.options()).await);
        search_texts_stored_before_the_fold_are_folded(
            &store,
            async || store.migrate().await,
            async |sql| exec(&store, sql).await,
            "DELETE FROM engagement_schema_migrations WHERE version = 9",
        )
        .await;
        schema.drop().await;
    }

    #[tokio::test]
    async fn a_ledger_from_a_newer_version_is_refused() {
        let schema = Schema::new().await;
        let store = PostgresStore::new(schema.pool(schema.options()).await);
        let migrate = async || store.migrate().await;
        a_newer_ledger_is_refused(migrate, async |sql| exec(&store, sql).await, "postgres").await;
        schema.drop().await;
    }

    /// Stores under the longest prefix and another prefix sit in one schema, each with
    /// every table, index and ledger of its own; none of their names is cut at PostgreSQL's
    /// 63 bytes.
    #[tokio::test]
    async fn stores_under_other_and_long_prefixes_are_independent() {
        let schema = Schema::new().await;
        let pool = schema.pool(schema.options()).await;
        let long = "p".repeat(TablePrefix::MAX_LEN - 1) + "_";
        let stores: Vec<_> = ["engagement_", "other_", long.as_str()]
            .into_iter()
            .map(|p| PostgresStore::new(pool.clone()).with_prefix(TablePrefix::new(p).expect("p")))
            .collect();
        for store in &stores {
            store.migrate().await.expect("migrate");
        }
        serves(&stores[2]).await;
        for prefix in ["engagement_", "other_", long.as_str()] {
            let objects = schema
                .count(&format!(
                    "SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = '{{schema}}' AND starts_with(c.relname, '{prefix}')"
                ))
                .await;
            // 6 tables, their 6 primary keys and 6 other indexes, none cut to another name.
            assert_eq!(objects, 18, "{prefix}");
        }
        schema.drop().await;
    }
}

#[cfg(all(engagement_test_mysql, feature = "mysql"))]
mod mysql {
    use std::str::FromStr;
    use std::sync::atomic::{AtomicU64, Ordering};

    use engagement_sqlx::sqlx::mysql::{MySql, MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
    use engagement_sqlx::sqlx::pool::PoolConnection;
    use engagement_sqlx::sqlx::{AssertSqlSafe, Row, raw_sql};
    use engagement_sqlx::{MySqlStore, TablePrefix};

    use super::{
        a_clash_fails_and_the_rerun_works, a_newer_ledger_is_refused, asks_for_migrate, common,
        search_texts_stored_before_the_fold_are_folded, serves,
    };

    fn server() -> MySqlConnectOptions {
        let url = std::env::var("ENGAGEMENT_TEST_MYSQL_URL").expect("ENGAGEMENT_TEST_MYSQL_URL");
        MySqlConnectOptions::from_str(&url).expect("parse ENGAGEMENT_TEST_MYSQL_URL")
    }

    /// A database of one test's own, dropped by [`Database::drop`].
    struct Database {
        name: String,
        admin: MySqlPool,
    }

    impl Database {
        async fn new() -> Self {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let name = format!("{}_setup{n}", common::run_name());
            let admin = MySqlPoolOptions::new()
                .max_connections(1)
                .connect_with(server())
                .await
                .expect("connect to ENGAGEMENT_TEST_MYSQL_URL");
            raw_sql(AssertSqlSafe(format!(
                "CREATE DATABASE {name} CHARACTER SET utf8mb4"
            )))
            .execute(&admin)
            .await
            .expect("create the database");
            Self { name, admin }
        }

        async fn pool(&self) -> MySqlPool {
            MySqlPoolOptions::new()
                .max_connections(2)
                .connect_with(server().database(&self.name))
                .await
                .expect("connect to the database")
        }

        async fn texts(&self, sql: &str) -> Vec<String> {
            raw_sql(AssertSqlSafe(sql.replace("{db}", &self.name)))
                .fetch_all(&self.admin)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .iter()
                .map(|r| r.get(0))
                .collect()
        }

        async fn drop(self) {
            raw_sql(AssertSqlSafe(format!("DROP DATABASE {}", self.name)))
                .execute(&self.admin)
                .await
                .expect("drop the database");
        }
    }

    /// Runs `sql` on `store`'s database.
    async fn exec(store: &MySqlStore, sql: &'static str) {
        raw_sql(sql).execute(store.pool()).await.expect(sql);
    }

    /// Takes migrations 4 and 5 back, as if `store`'s tables came from a version before them.
    async fn undo_migrations_4_and_5(store: &MySqlStore) {
        exec(
            store,
            "DELETE FROM engagement_schema_migrations WHERE version IN (4, 5); \
             DROP TABLE engagement_totals; DROP TABLE engagement_log_counts",
        )
        .await;
    }

    /// The events table locked by a session of its own, so that a backfill reading it waits.
    struct EventsLock(PoolConnection<MySql>);

    impl EventsLock {
        async fn take(db: &Database) -> Self {
            let mut holder = db.pool().await.acquire().await.expect("connect");
            raw_sql(AssertSqlSafe(format!(
                "LOCK TABLES {}.engagement_events WRITE",
                db.name
            )))
            .execute(&mut *holder)
            .await
            .expect("lock the events");
            Self(holder)
        }

        async fn release(mut self) {
            raw_sql("UNLOCK TABLES")
                .execute(&mut *self.0)
                .await
                .expect("unlock the events");
        }
    }

    #[tokio::test]
    async fn a_store_used_before_it_is_migrated_says_to_migrate() {
        let db = Database::new().await;
        let store = MySqlStore::new(db.pool().await);
        asks_for_migrate(&store).await;
        db.drop().await;
    }

    /// MariaDB commits each `CREATE TABLE` at once: a migration whose second statement fails
    /// takes back what its first created, and the rerun applies it.
    #[tokio::test]
    async fn a_migration_failing_half_way_leaves_nothing_and_a_rerun_works() {
        let db = Database::new().await;
        let store = MySqlStore::new(db.pool().await);
        let migrate = async || store.migrate().await;
        let run = async |sql| exec(&store, sql).await;
        let left = async || {
            let tables = db
                .texts("SELECT table_name FROM information_schema.tables WHERE table_schema = '{db}' ORDER BY 1")
                .await;
            assert_eq!(
                tables,
                ["engagement_customers", "engagement_schema_migrations"],
                "migration 1's events table was taken back"
            );
        };
        a_clash_fails_and_the_rerun_works(&store, migrate, run, left).await;
        db.drop().await;
    }

    /// The same for a migration that fails after creating its table, in its backfill.
    #[tokio::test]
    async fn a_migration_failing_in_its_backfill_leaves_nothing_and_a_rerun_works() {
        let db = Database::new().await;
        let store = MySqlStore::new(db.pool().await);
        store.migrate().await.expect("migrate");
        undo_migrations_4_and_5(&store).await;
        // Migration 4 creates the totals, then fills them from the events, which another
        // session holds locked past the migrating session's lock wait.
        let lock = EventsLock::take(&db).await;
        let impatient = MySqlPoolOptions::new()
            .max_connections(1)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    raw_sql("SET SESSION lock_wait_timeout = 1")
                        .execute(conn)
                        .await
                        .map(drop)
                })
            })
            .connect_with(server().database(&db.name))
            .await
            .expect("connect");
        let failed = MySqlStore::new(impatient).migrate().await;
        lock.release().await;
        assert!(failed.is_err(), "the backfill failed");
        store
            .migrate()
            .await
            .expect("the rerun applies migrations 4 and 5");
        serves(&store).await;
        db.drop().await;
    }

    /// A migration whose connection dies in its backfill (its process killed: nothing runs
    /// after) leaves its table behind, committed by `CREATE TABLE`; the next `migrate` finds
    /// the migration recorded as started, drops that table and applies it again. Before, every
    /// later `migrate` failed on the table that already existed.
    #[tokio::test]
    async fn a_migration_killed_in_its_backfill_is_applied_again_by_the_next_run() {
        let db = Database::new().await;
        let store = MySqlStore::new(db.pool().await);
        store.migrate().await.expect("migrate");
        serves(&store).await;
        undo_migrations_4_and_5(&store).await;
        // Migration 4 creates the totals, then fills them from the events, which another
        // session holds locked; the migrating connection is killed while it waits.
        let lock = EventsLock::take(&db).await;
        let killed = MySqlStore::new(db.pool().await);
        let migrating = tokio::spawn(async move { killed.migrate().await });
        let backfill = format!(
            "SELECT CAST(id AS CHAR) FROM information_schema.processlist \
             WHERE db = '{}' AND info LIKE 'INSERT INTO engagement_totals%'",
            db.name
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let connection = loop {
            if let Some(id) = db.texts(&backfill).await.pop() {
                break id;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the backfill never started"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        raw_sql(AssertSqlSafe(format!("KILL {connection}")))
            .execute(&db.admin)
            .await
            .expect("kill the migrating connection");
        assert!(
            migrating.await.expect("the task").is_err(),
            "the killed migration failed"
        );
        lock.release().await;
        let tables = db
            .texts(
                "SELECT table_name FROM information_schema.tables \
                 WHERE table_schema = '{db}' AND table_name = 'engagement_totals'",
            )
            .await;
        assert_eq!(
            tables,
            ["engagement_totals"],
            "the killed run left its table"
        );

        store
            .migrate()
            .await
            .expect("the next run applies migrations 4 and 5");
        let ledger = db
            .texts("SELECT CONCAT(version, ' ', checksum) FROM {db}.engagement_schema_migrations ORDER BY version")
            .await;
        assert_eq!(ledger.len(), 8, "{ledger:?}");
        assert!(
            ledger.iter().all(|row| !row.contains("started")),
            "every migration is recorded as applied: {ledger:?}"
        );
        let counted = db
            .texts(
                "SELECT CONCAT((SELECT CAST(SUM(n) AS CHAR) FROM {db}.engagement_totals), ' ', \
                 (SELECT CAST(COUNT(*) AS CHAR) FROM {db}.engagement_events WHERE actor = 0))",
            )
            .await;
        assert_eq!(
            counted,
            ["3 3"],
            "the totals were filled again from the events"
        );
        serves(&store).await;
        db.drop().await;
    }

    /// Migrations 3, 6 and 7 create no table, only add or re-key an index: killed after its
    /// `ALTER TABLE` committed (its ledger row still says started), each is simply run again.
    #[tokio::test]
    async fn migrations_of_no_table_killed_after_they_committed_run_again() {
        let db = Database::new().await;
        let store = MySqlStore::new(db.pool().await);
        store.migrate().await.expect("migrate");
        exec(
            &store,
            "UPDATE engagement_schema_migrations SET checksum = CONCAT('started:', checksum) \
             WHERE version IN (3, 6, 7)",
        )
        .await;
        store
            .migrate()
            .await
            .expect("migrations 3, 6 and 7 run again");
        let started = db
            .texts("SELECT CAST(version AS CHAR) FROM {db}.engagement_schema_migrations WHERE checksum LIKE 'started:%'")
            .await;
        assert!(started.is_empty(), "still started: {started:?}");
        serves(&store).await;
        db.drop().await;
    }

    /// The SQL naming the migration lock of `ledger` in database `db`, as `migrate` names it.
    fn migration_lock(db: &str, ledger: &str) -> String {
        format!("CONCAT('engagement_migrate_', LEFT(SHA2('{db}.{ledger}', 256), 32))")
    }

    /// Whether another session holds the named lock `lock` (SQL naming it).
    async fn lock_is_used(admin: &MySqlPool, lock: &str) -> bool {
        raw_sql(AssertSqlSafe(format!(
            "SELECT CAST(IS_USED_LOCK({lock}) AS SIGNED)"
        )))
        .fetch_one(admin)
        .await
        .expect("read the lock")
        .get::<Option<i64>, _>(0)
        .is_some()
    }

    /// A `migrate` given up on (a timeout) while it waited for another process's migration
    /// leaves no pooled connection holding the migration lock once that one ends.
    #[tokio::test]
    async fn a_cancelled_migration_does_not_keep_the_lock() {
        let db = Database::new().await;
        let prefix =
            TablePrefix::new(format!("setup_cancel_{}_", std::process::id())).expect("prefix");
        let lock = migration_lock(&db.name, &format!("{}schema_migrations", prefix.as_str()));
        let mut other = db.admin.acquire().await.expect("connect");
        raw_sql(AssertSqlSafe(format!("SELECT GET_LOCK({lock}, 10)")))
            .execute(&mut *other)
            .await
            .expect("take the lock as another process migrating");
        let store = MySqlStore::new(db.pool().await).with_prefix(prefix);
        let waited =
            tokio::time::timeout(std::time::Duration::from_millis(300), store.migrate()).await;
        assert!(waited.is_err(), "the migration waited for the lock");
        raw_sql(AssertSqlSafe(format!("SELECT RELEASE_LOCK({lock})")))
            .execute(&mut *other)
            .await
            .expect("release the lock");
        drop(other);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while lock_is_used(&db.admin, &lock).await {
            assert!(
                std::time::Instant::now() < deadline,
                "a pooled connection of the cancelled migration still holds the lock"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        store.migrate().await.expect("a later migrate");
        serves(&store).await;
        db.drop().await;
    }

    /// Named locks are the server's: a migration in one database, holding its lock, leaves
    /// another database's `migrate` to run at once.
    #[tokio::test]
    async fn a_migration_in_another_database_does_not_hold_this_one() {
        let (busy, db) = (Database::new().await, Database::new().await);
        let lock = migration_lock(&busy.name, "engagement_schema_migrations");
        let mut other = busy.admin.acquire().await.expect("connect");
        raw_sql(AssertSqlSafe(format!("SELECT GET_LOCK({lock}, 10)")))
            .execute(&mut *other)
            .await
            .expect("take the other database's lock as its migration");
        let store = MySqlStore::new(db.pool().await);
        let migrated =
            tokio::time::timeout(std::time::Duration::from_secs(10), store.migrate()).await;
        assert!(matches!(migrated, Ok(Ok(()))), "{migrated:?}");
        drop(other);
        serves(&store).await;
        busy.drop().await;
        db.drop().await;
    }

    #[tokio::test]
    async fn search_texts_stored_before_the_fold_are_folded_by_migrate() {
        let db = Database::new().await;
        let store = MySqlStore::new(db.pool().await);
        search_texts_stored_before_the_fold_are_folded(
            &store,
            async || store.migrate().await,
            async |sql| exec(&store, sql).await,
            "DELETE FROM engagement_schema_migrations WHERE version = 8",
        )
        .await;
        db.drop().await;
    }

    #[tokio::test]
    async fn a_ledger_from_a_newer_version_is_refused() {
        let db = Database::new().await;
        let store = MySqlStore::new(db.pool().await);
        let migrate = async || store.migrate().await;
        a_newer_ledger_is_refused(migrate, async |sql| exec(&store, sql).await, "mysql").await;
        db.drop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stores_migrating_at_once_apply_each_migration_once() {
        let db = Database::new().await;
        let mut stores = Vec::new();
        for _ in 0..3 {
            stores.push(MySqlStore::new(db.pool().await));
        }
        let results = futures::future::join_all(stores.iter().map(MySqlStore::migrate)).await;
        for result in results {
            result.expect("every store's migrate succeeds");
        }
        let applied = db
            .texts("SELECT CAST(COUNT(*) AS CHAR) FROM {db}.engagement_schema_migrations")
            .await;
        assert_eq!(applied, ["8"]);
        serves(&stores[0]).await;
        db.drop().await;
    }

    /// On a host's pool with `autocommit` off the last migration's backfill and ledger row
    /// were rolled back as the migration's connection closed: its counts stayed empty over
    /// the events already stored, and every later `migrate` failed on its existing table.
    #[tokio::test]
    async fn a_migration_on_a_pool_without_autocommit_is_kept_whole() {
        let db = Database::new().await;
        let store = MySqlStore::new(db.pool().await);
        store.migrate().await.expect("migrate");
        serves(&store).await;
        raw_sql(
            "DELETE FROM engagement_schema_migrations WHERE version = 5; \
             DROP TABLE engagement_log_counts",
        )
        .execute(store.pool())
        .await
        .expect("undo migration 5");
        let no_autocommit = MySqlPoolOptions::new()
            .max_connections(1)
            .after_connect(|conn, _| {
                Box::pin(async move { raw_sql("SET autocommit = 0").execute(conn).await.map(drop) })
            })
            .connect_with(server().database(&db.name))
            .await
            .expect("connect");
        let upgraded = MySqlStore::new(no_autocommit);
        upgraded.migrate().await.expect("migration 5 applies");
        let state = db
            .texts(
                "SELECT CAST(COUNT(*) AS CHAR) FROM {db}.engagement_schema_migrations \
                 UNION ALL SELECT CAST(COALESCE(SUM(n), 0) AS CHAR) FROM {db}.engagement_log_counts \
                 UNION ALL SELECT CAST(COUNT(*) AS CHAR) FROM {db}.engagement_events",
            )
            .await;
        let again = upgraded.migrate().await;
        upgraded.pool().close().await;
        db.drop().await;
        assert_eq!(
            state[0], "8",
            "migration 5 recorded; the counts and events: {state:?}"
        );
        assert_eq!(state[1], state[2], "the backfill counts every event");
        again.expect("a second migrate finds everything applied");
    }

    /// Stores under the longest prefix and another one sit in one database, each with its own
    /// tables and ledger.
    #[tokio::test]
    async fn stores_under_other_and_long_prefixes_are_independent() {
        let db = Database::new().await;
        let pool = db.pool().await;
        let long = "p".repeat(TablePrefix::MAX_LEN - 1) + "_";
        for prefix in ["engagement_", "other_", long.as_str()] {
            let store =
                MySqlStore::new(pool.clone()).with_prefix(TablePrefix::new(prefix).expect("p"));
            store.migrate().await.expect("migrate");
            serves(&store).await;
        }
        let tables = db
            .texts("SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.tables WHERE table_schema = '{db}'")
            .await;
        assert_eq!(tables, ["18"]);
        db.drop().await;
    }
}
