//! What the reliability suites (`faults_*.rs`) share: stores on every backend over pools the
//! test shapes itself (size, acquire timeout), and the rule for server suites — skip with a
//! message without their URL, fail when `ENGAGEMENT_REQUIRE_SERVERS` is set.
//!
//! Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

pub(crate) mod faults;
pub(crate) mod load;
pub(crate) mod props;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use engagement_core::{CustomerId, Event, Timestamp, WorkspaceId};
#[cfg(feature = "sqlite")]
use engagement_sqlx::SqliteStore;
#[cfg(feature = "sqlite")]
use engagement_sqlx::sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

/// Longest any single fault test may take before it counts as a hang.
pub(crate) const HANG: Duration = Duration::from_secs(60);

/// Says a server suite was skipped, or fails when `ENGAGEMENT_REQUIRE_SERVERS` is set.
pub(crate) fn skip_or_fail(var: &str, feature: &str, what: &str) {
    let message =
        format!("skipped: set {var} and enable the `{feature}` feature to run the {what} tests");
    assert!(
        std::env::var_os("ENGAGEMENT_REQUIRE_SERVERS").is_none(),
        "ENGAGEMENT_REQUIRE_SERVERS is set, so the {what} tests must run: {message}"
    );
    eprintln!("{message}");
}

/// A workspace no other test or run uses.
pub(crate) fn workspace(case: &str) -> WorkspaceId {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    WorkspaceId::new(format!("{case}-{}-{n}-{nanos}", std::process::id()))
        .expect("a valid test workspace")
}

/// `n` page views of customer 1, one microsecond apart from `start`, ids `{prefix}-{i:06}`.
pub(crate) fn views(prefix: &str, n: usize, start: i64) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let at = Timestamp::from_micros(start + i64::try_from(i).expect("small"));
            Event::new(
                format!("{prefix}-{i:06}"),
                CustomerId(1),
                engagement_core::names::PAGE_VIEWED,
                at,
            )
        })
        .collect()
}

/// A fresh SQLite database file of this test binary, with the store's own settings (WAL,
/// busy timeout) and the given busy timeout.
#[cfg(feature = "sqlite")]
pub(crate) fn sqlite_options(name: &str, busy: Duration) -> SqliteConnectOptions {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("engagement-reliability");
    std::fs::create_dir_all(&dir).expect("create the test database directory");
    let path = dir.join(format!("{name}-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
    SqliteStore::options(SqliteConnectOptions::new().filename(path), false).busy_timeout(busy)
}

/// A migrated SQLite store on a fresh file, over a pool of `max` connections.
#[cfg(feature = "sqlite")]
pub(crate) async fn sqlite_store(
    name: &str,
    max: u32,
    acquire: Duration,
    busy: Duration,
) -> SqliteStore {
    let pool = SqlitePoolOptions::new()
        .max_connections(max)
        .acquire_timeout(acquire)
        .connect_with(sqlite_options(name, busy))
        .await
        .expect("open the SQLite test database");
    let store = SqliteStore::new(pool);
    store
        .migrate()
        .await
        .expect("migrate the SQLite test database");
    store
}

/// PostgreSQL: a schema of this test binary on `ENGAGEMENT_TEST_POSTGRES_URL`.
#[cfg(all(engagement_test_postgres, feature = "postgres"))]
pub(crate) mod pg {
    use std::str::FromStr;
    use std::sync::OnceLock;
    use std::time::Duration;

    use engagement_sqlx::PostgresStore;
    use engagement_sqlx::sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
    use engagement_sqlx::sqlx::{AssertSqlSafe, raw_sql};

    use crate::common;

    fn url() -> String {
        std::env::var("ENGAGEMENT_TEST_POSTGRES_URL").expect("ENGAGEMENT_TEST_POSTGRES_URL")
    }

    /// The server without this binary's schema: for the second connection of a fault test.
    pub(crate) async fn admin() -> PgPool {
        PgPoolOptions::new()
            .max_connections(1)
            .connect(&url())
            .await
            .expect("connect to ENGAGEMENT_TEST_POSTGRES_URL")
    }

    /// This binary's schema, created once (older runs' schemas are dropped by the suites).
    pub(crate) fn schema() -> &'static str {
        static SCHEMA: OnceLock<String> = OnceLock::new();
        SCHEMA.get_or_init(|| {
            let name = format!("{}_rel", common::run_name());
            let create = format!("CREATE SCHEMA {name}");
            common::on_own_runtime(async move {
                raw_sql(AssertSqlSafe(create))
                    .execute(&admin().await)
                    .await
                    .expect("create the test schema");
            });
            name
        })
    }

    /// Connection options on this binary's schema.
    pub(crate) fn options() -> PgConnectOptions {
        PgConnectOptions::from_str(&url())
            .expect("parse ENGAGEMENT_TEST_POSTGRES_URL")
            .options([("search_path", schema())])
    }

    /// A migrated store over a pool of `max` connections.
    pub(crate) async fn store(max: u32, acquire: Duration) -> PostgresStore {
        let pool = PgPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(acquire)
            .connect_with(options())
            .await
            .expect("connect to ENGAGEMENT_TEST_POSTGRES_URL");
        let store = PostgresStore::new(pool);
        store.migrate().await.expect("migrate the test schema");
        store
    }
}

/// MySQL / MariaDB: a database of each test's store on `ENGAGEMENT_TEST_MYSQL_URL`.
#[cfg(all(engagement_test_mysql, feature = "mysql"))]
pub(crate) mod my {
    use std::str::FromStr;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use engagement_sqlx::MySqlStore;
    use engagement_sqlx::sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
    use engagement_sqlx::sqlx::{AssertSqlSafe, raw_sql};

    use crate::common;

    pub(crate) fn server() -> MySqlConnectOptions {
        let url = std::env::var("ENGAGEMENT_TEST_MYSQL_URL").expect("ENGAGEMENT_TEST_MYSQL_URL");
        MySqlConnectOptions::from_str(&url).expect("parse ENGAGEMENT_TEST_MYSQL_URL")
    }

    /// The server as the URL names it: for the second connection of a fault test.
    pub(crate) async fn admin() -> MySqlPool {
        MySqlPoolOptions::new()
            .max_connections(1)
            .connect_with(server())
            .await
            .expect("connect to ENGAGEMENT_TEST_MYSQL_URL")
    }

    /// A database of its own for one test's store, created now (older runs' databases are
    /// dropped by the suites). The fault tests run at once, and one of them locks the events
    /// table to stop an export: in a shared database that lock held every other test's
    /// statements on the table too.
    async fn fresh_database() -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}_rel{n}", common::run_name());
        raw_sql(AssertSqlSafe(format!(
            "CREATE DATABASE {name} CHARACTER SET utf8mb4"
        )))
        .execute(&admin().await)
        .await
        .expect("create the test database");
        name
    }

    /// A migrated store over a pool of `max` connections, in a database of its own.
    pub(crate) async fn store(max: u32, acquire: Duration) -> MySqlStore {
        let pool = MySqlPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(acquire)
            .connect_with(server().database(&fresh_database().await))
            .await
            .expect("connect to the test database");
        let store = MySqlStore::new(pool);
        store.migrate().await.expect("migrate the test database");
        store
    }
}
