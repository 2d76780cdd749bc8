//! The conformance suite and the differential test against the reference, on PostgreSQL.
//!
//! Runs when `ENGAGEMENT_TEST_POSTGRES_URL` is set (for example
//! `postgres://postgres@127.0.0.1:5432/postgres`): the test binary creates a schema of its own,
//! shared by every case (each case uses its own workspace), and drops the schemas that runs
//! older than six hours left behind. Without the variable the suite is one test that says it was
//! skipped.

#[cfg(all(engagement_test_postgres, feature = "postgres"))]
mod common;

#[cfg(all(engagement_test_postgres, feature = "postgres"))]
mod suite {
    use std::str::FromStr;
    use std::sync::OnceLock;

    use engagement_sqlx::PostgresStore;
    use engagement_sqlx::sqlx::Row;
    use engagement_sqlx::sqlx::postgres::{PgConnectOptions, PgPoolOptions};

    use super::common;

    fn url() -> String {
        std::env::var("ENGAGEMENT_TEST_POSTGRES_URL").expect("ENGAGEMENT_TEST_POSTGRES_URL")
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
        let options = PgConnectOptions::from_str(&url())
            .expect("parse ENGAGEMENT_TEST_POSTGRES_URL")
            .options([("search_path", schema())]);
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .expect("connect to ENGAGEMENT_TEST_POSTGRES_URL");
        let store = PostgresStore::new(pool);
        store.migrate().await.expect("migrate the test schema");
        store
    }
}

#[cfg(all(engagement_test_postgres, feature = "postgres"))]
engagement_core::conformance_tests!(suite::store);

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
