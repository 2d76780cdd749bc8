//! The conformance suite and the differential test against the reference, on MySQL / MariaDB.
//!
//! Runs when `ENGAGEMENT_TEST_MYSQL_URL` is set (for example `mysql://root@127.0.0.1:3306/test`):
//! the test binary creates a database of its own on that server, shared by every case (each case
//! uses its own workspace), and drops the databases that runs older than six hours left behind.
//! Without the variable the suite is one test that says it was skipped.

#[cfg(all(engagement_test_mysql, feature = "mysql"))]
#[allow(dead_code)]
mod common;

#[cfg(all(engagement_test_mysql, feature = "mysql"))]
mod suite {
    use std::str::FromStr;
    use std::sync::OnceLock;

    use engagement_sqlx::MySqlStore;
    use engagement_sqlx::sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
    use engagement_sqlx::sqlx::{AssertSqlSafe, Row, raw_sql};

    use super::common;

    fn options() -> MySqlConnectOptions {
        let url = std::env::var("ENGAGEMENT_TEST_MYSQL_URL").expect("ENGAGEMENT_TEST_MYSQL_URL");
        MySqlConnectOptions::from_str(&url).expect("parse ENGAGEMENT_TEST_MYSQL_URL")
    }

    /// Creates this run's database (once) and drops stale ones.
    fn database() -> &'static str {
        static DATABASE: OnceLock<String> = OnceLock::new();
        DATABASE.get_or_init(|| {
            let database = common::run_name();
            let name = database.clone();
            common::on_own_runtime(async move {
                let pool = MySqlPoolOptions::new()
                    .max_connections(1)
                    .connect_with(options())
                    .await
                    .expect("connect to ENGAGEMENT_TEST_MYSQL_URL");
                let rows = raw_sql("SHOW DATABASES")
                    .fetch_all(&pool)
                    .await
                    .expect("list databases");
                for row in rows {
                    let old: String = row.get(0);
                    if common::is_stale(&old) {
                        raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {old}")))
                            .execute(&pool)
                            .await
                            .expect("drop a stale test database");
                    }
                }
                raw_sql(AssertSqlSafe(format!(
                    "CREATE DATABASE {name} CHARACTER SET utf8mb4"
                )))
                .execute(&pool)
                .await
                .expect("create the test database");
            });
            database
        })
    }

    pub(super) async fn store() -> MySqlStore {
        let pool = MySqlPoolOptions::new()
            .max_connections(4)
            .connect_with(options().database(database()))
            .await
            .expect("connect to the test database");
        let store = MySqlStore::new(pool);
        store.migrate().await.expect("migrate the test database");
        store
    }
}

#[cfg(all(engagement_test_mysql, feature = "mysql"))]
engagement_core::conformance_tests!(suite::store);

#[cfg(not(all(engagement_test_mysql, feature = "mysql")))]
#[test]
fn mysql_suite_skipped() {
    let message = String::from(
        "skipped: set ENGAGEMENT_TEST_MYSQL_URL (e.g. mysql://root@127.0.0.1:3306/test) and enable \
         the `mysql` feature to run the MySQL/MariaDB conformance suite",
    );
    assert!(
        std::env::var_os("ENGAGEMENT_REQUIRE_SERVERS").is_none(),
        "ENGAGEMENT_REQUIRE_SERVERS is set, so the suite must run: {message}"
    );
    eprintln!("{message}");
}

/// What only MySQL shows: `INSERT IGNORE` must not swallow anything but existing keys.
#[cfg(all(engagement_test_mysql, feature = "mysql"))]
mod mysql_only {
    use engagement_core::{CustomerId, Error, Event, EventStore, Timestamp, WorkspaceId};

    use super::{common, suite};

    #[tokio::test]
    async fn closing_keeps_appends_and_refuses_later_calls() {
        common::closing_keeps_appends_and_refuses_later_calls(suite::store().await, suite::store())
            .await;
    }

    #[tokio::test]
    async fn a_value_too_long_fails_the_whole_batch() {
        let store = super::suite::store().await;
        let ws = WorkspaceId::new(format!("too-long-{}", std::process::id())).expect("workspace");
        let at = Timestamp::from_micros(1);
        let fine = Event::new("fine", CustomerId(1), "Page Viewed", at);
        // Longer than the name column: strict mode refuses it, INSERT IGNORE would truncate it.
        let long = Event::new("long", CustomerId(1), "n".repeat(300), at);
        match store.append(&ws, &[fine.clone(), long]).await {
            Err(Error::Refused {
                backend: "mysql",
                source,
            }) => {
                assert!(source.to_string().contains("warnings"), "{source}");
            }
            other => panic!("expected the data refused for good, got {other:?}"),
        }
        assert_eq!(
            store.event(&ws, &fine.id).await.expect("read"),
            None,
            "nothing was stored"
        );
        assert_eq!(
            store.append(&ws, &[fine]).await.expect("append").inserted,
            1
        );
    }
}
