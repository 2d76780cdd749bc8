//! [`PostgresStore`]: the backend that scales (feature `postgres`).

mod large_reads;

use std::future::Future;

use engagement_core::{EventBatch, Result, WorkspaceId};
use sqlx::Postgres;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgArguments, PgConnection, PgPool, PgRow};

use crate::dialect::{Analysis, Dialect, KeyedRows, PooledEvents, add, driver_glue};
use crate::engine::{Engine, sql_event_store};
use crate::error::SqlResult;
use crate::migrate::Migration;
use crate::prefix::TablePrefix;
use crate::sql::{Arg, Keys, Placeholder, Sql};

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "events and customers",
        script: include_str!("../migrations/postgres/0001_events_and_customers.sql"),
    },
    Migration {
        version: 2,
        description: "daily rollup",
        script: include_str!("../migrations/postgres/0002_daily_rollup.sql"),
    },
    Migration {
        version: 3,
        description: "customer index in journey order",
        script: include_str!("../migrations/postgres/0003_customer_index_in_journey_order.sql"),
    },
    Migration {
        version: 4,
        description: "name index in export order",
        script: include_str!("../migrations/postgres/0004_name_index_in_export_order.sql"),
    },
    Migration {
        version: 5,
        description: "customer totals",
        script: include_str!("../migrations/postgres/0005_customer_totals.sql"),
    },
    Migration {
        version: 6,
        description: "name index with the domain",
        script: include_str!("../migrations/postgres/0006_name_index_with_domain.sql"),
    },
    Migration {
        version: 7,
        description: "event log counts",
        script: include_str!("../migrations/postgres/0007_log_counts.sql"),
    },
    Migration {
        version: 8,
        description: "placeholder index",
        script: include_str!("../migrations/postgres/0008_placeholder_index.sql"),
    },
    Migration {
        version: 9,
        description: "search text folds the final sigma",
        script: include_str!("../migrations/postgres/0009_search_text_folds_final_sigma.sql"),
    },
];

/// An [`EventStore`](engagement_core::EventStore) in a PostgreSQL database.
///
/// Tables are created in the connection's current schema (the first of its `search_path`),
/// under the store's [`TablePrefix`]. Reads that need one snapshot (a page and its count) run in
/// a `REPEATABLE READ, READ ONLY` transaction, whose statements are planned for their own
/// arguments (`plan_cache_mode = force_custom_plan`, for that transaction only); an append is
/// one transaction.
///
/// The store keeps its own tables' planner statistics fresh: it runs `VACUUM (ANALYZE,
/// SKIP_LOCKED)` on its tables in a task beside the next writes: on an idle pooled connection
/// once its writes changed 1,000 rows plus half the events its last analysis counted, and on
/// the next free connection once at least 1,000 rows changed and then no write committed for a
/// second (the end of an import or a burst; no sooner than ten times the last analysis's
/// duration after it, so writes in bursts keep them a tenth of one connection's time at most).
/// Without statistics (after a bulk import, before autovacuum gets to the new rows, or with
/// autovacuum off) PostgreSQL planned the activity page as a nested loop that ran for minutes;
/// without the vacuum's visibility map the covering indexes' index-only scans read every row's
/// page too. Where autovacuum runs, this comes on top of it.
/// [`refresh_statistics`](Self::refresh_statistics) does the same at once.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use engagement_sqlx::{PostgresStore, TablePrefix};
///
/// let store = PostgresStore::connect("postgres://postgres@127.0.0.1:5432/app")
///     .await?
///     .with_prefix(TablePrefix::new("analytics_")?);
/// store.migrate().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresStore {
    engine: Engine<PostgresDialect>,
}

impl PostgresStore {
    /// A store over the host's pool, with tables under the default prefix.
    pub fn new(pool: PgPool) -> Self {
        Self {
            engine: Engine::new(pool, TablePrefix::default()),
        }
    }

    /// Connects a pool of up to 8 connections to `url`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](engagement_core::Error::InvalidConfig) for a URL the driver
    /// cannot read; [`Error::Backend`](engagement_core::Error::Backend) when the server cannot
    /// be reached or refuses the login; [`Error::Busy`](engagement_core::Error::Busy) when no connection could
    /// be opened in time.
    pub async fn connect(url: &str) -> Result<Self> {
        Ok(Self::new(
            Engine::<PostgresDialect>::connect_server(url).await?,
        ))
    }

    /// Creates or upgrades the store's tables, under an advisory lock of the schema's own so
    /// that concurrent callers apply each migration once (stores in other schemas migrate
    /// beside them). The host's own migrations are not touched. Builds before 2026-12-07 took
    /// a lock of the database's: run no `migrate` of such a build beside this one.
    ///
    /// # Errors
    /// [`Error::Backend`](engagement_core::Error::Backend) when a statement fails, the database
    /// was migrated by a newer version or a migration applied before was changed since;
    /// [`Error::Busy`](engagement_core::Error::Busy) when no pooled connection came in time.
    pub async fn migrate(&self) -> Result<()> {
        self.engine
            .migrate(MIGRATIONS)
            .await
            .map_err(Engine::<PostgresDialect>::error)
    }

    /// Vacuums and analyses the store's tables now, as the store does by itself a second after
    /// its writes go quiet: for an import whose first reports come at once (the workload
    /// runner calls it before it times the queries). Waits for an analysis the store is running
    /// and for a pooled connection; skips a table another session is vacuuming.
    ///
    /// ```no_run
    /// # async fn demo(store: engagement_sqlx::PostgresStore) -> engagement_core::Result<()> {
    /// // … a bulk import through `append` …
    /// store.refresh_statistics().await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Backend`](engagement_core::Error::Backend) when a statement fails;
    /// [`Error::Busy`](engagement_core::Error::Busy) when no connection came in time.
    pub async fn refresh_statistics(&self) -> Result<()> {
        self.engine
            .refresh_statistics()
            .await
            .map_err(Engine::<PostgresDialect>::error)
    }

    /// The pool the store uses.
    pub fn pool(&self) -> &PgPool {
        &self.engine.pool
    }
}

sql_event_store!(PostgresStore, PostgresDialect);

/// PostgreSQL's SQL.
#[derive(Debug)]
pub(crate) struct PostgresDialect;

/// What starts a report's read transaction (`Dialect::BEGIN_READ`), as a literal that
/// `Dialect::BEGIN_LOG_READ` extends.
macro_rules! begin_read {
    () => {
        "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; \
         SET LOCAL plan_cache_mode = force_custom_plan"
    };
}

impl Dialect for PostgresDialect {
    type DB = sqlx::Postgres;
    type Row = PgRow;

    const BACKEND: &'static str = "postgres";
    const PLACEHOLDER: Placeholder = Placeholder::Dollar;
    const MAX_BINDS: usize = 65_535;
    const INT: &'static str = "BIGINT";
    // Reports plan each statement for its own arguments: sqlx prepares them, and from a
    // statement's sixth run on a connection PostgreSQL may switch to one generic plan that
    // ignores the arguments' selectivity (a ranking read its candidates' scores 2-3x slower,
    // docs/scaling.md "2026-12-07: custom plans for every report").
    const BEGIN_READ: &'static str = begin_read!();
    // The log's filters no index holds (IP, path, referrer) are tested in the rows of the
    // window, which the time index `(workspace, occurred_at, …)` finds. At the default
    // `random_page_cost` of 4 the planner costs that index scan as random reads (it discounts
    // a correlation to the table's order for indexes of several columns) and counted a
    // 1-day window of 10M events by reading the whole table in parallel: ~0.6 s, where the
    // index scan takes ~0.1 s. At 1.1, the value PostgreSQL's documentation gives for storage
    // where random reads cost little more than sequential ones (SSDs, cached data), it scans
    // the index up to windows of about a week and the table beyond (docs/scaling.md). For
    // this transaction only (`SET LOCAL`): set for every report's, it made a customer's rank
    // over 28 days nearly twice as slow (0.41-0.51 s to 0.78-0.92 s).
    const BEGIN_LOG_READ: &'static str =
        concat!(begin_read!(), "; SET LOCAL random_page_cost = 1.1");
    // Writes rely on READ COMMITTED (each statement sees what committed before it: a purge's
    // rollup settle, a migrator that waited on the lock); under a host's stricter default
    // (`default_transaction_isolation`) racing appends failed with 40001 instead of waiting.
    const BEGIN_WRITE: &'static str = "BEGIN ISOLATION LEVEL READ COMMITTED";

    // A statement of 10,000 funnel probes is planned at a cost (~10^6) that has PostgreSQL
    // compile it (JIT, inlined and optimized): 255 ms of compiling for 75 ms of index probes.
    // The step-1 customers are a hash aggregate (~100,000 groups at 10M events, ~14 MB) that
    // spilled to disk under the default 4 MB of `work_mem` (Q7 2-5 % faster without the
    // spill). Both for the snapshot's transaction only (`is_local`).
    const FUNNEL_SETTINGS: Option<&'static str> =
        Some("SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)");

    const EXPORT_SNAPSHOT: Option<&'static str> = Some("SELECT pg_export_snapshot()");
    // The weakest lock a `DELETE` waits for: appends re-sending one event do not wait for
    // each other.
    const SHARED_LOCKING_READ: &'static str = " FOR KEY SHARE";

    fn push_import_snapshot(sql: &mut Sql, id: &str) {
        // The id is PostgreSQL's own (hex digits and dashes); the statement takes no
        // parameter, so it is quoted as a literal.
        sql.push("SET TRANSACTION SNAPSHOT '")
            .push(&id.replace('\'', "''"))
            .push("'");
    }

    // With the customer an equality, the ordering by customer is redundant to PostgreSQL's
    // planner, which then finds the time index as well ordered; without statistics (a table
    // not yet analysed) it picks it and scans every customer's events of the class backwards.
    // As a range of one value the customer is part of the order, which only the customer index
    // gives, and still bounds the index scan at both ends.
    const PROBE_CUSTOMER: &'static str =
        "s.customer >= probe.customer AND s.customer <= probe.customer";

    fn arguments(args: Vec<Arg>) -> SqlResult<PgArguments> {
        let mut out = PgArguments::default();
        for arg in args {
            match arg {
                Arg::Int(v) => add(&mut out, v)?,
                Arg::OptInt(v) => add(&mut out, v)?,
                Arg::Text(v) => add(&mut out, v)?,
                Arg::OptText(v) => add(&mut out, v)?,
                Arg::Ints(v) => add(&mut out, v)?,
                Arg::OptInts(v) => add(&mut out, v)?,
                Arg::Texts(v) => add(&mut out, v)?,
                Arg::OptTexts(v) => add(&mut out, v)?,
            }
        }
        Ok(out)
    }

    // `VACUUM` sets the visibility map, without which an index-only scan (what the covering
    // indexes are for) reads every row's page too; on tables only inserted into it reads just
    // the pages written since the last. `SKIP_LOCKED` (PostgreSQL 12): a table locked by another
    // transaction is left for the next analysis instead of holding the connection until the
    // lock is released. `reltuples` is -1 before the first analysis.
    const ANALYSIS: Option<Analysis> = Some(Analysis {
        analyze: "VACUUM (ANALYZE, SKIP_LOCKED) ",
        push_estimated_rows: |sql, table| {
            sql.push("SELECT CAST(GREATEST(reltuples, 0) AS BIGINT) FROM pg_class")
                .push(" WHERE oid = to_regclass(")
                .bind(table)
                .push(")");
        },
    });

    fn is_busy(error: &sqlx::Error) -> bool {
        // lock_not_available (lock_timeout) and deadlock_detected.
        matches!(error, sqlx::Error::Database(db)
            if db.code().is_some_and(|c| c == "55P03" || c == "40P01"))
    }

    // One array per column: the statement is the same whatever the number of rows, so it stays
    // prepared, and PostgreSQL parses 18 parameters instead of 18 per row.
    const EVENTS_PER_INSERT: usize = 5_000;

    // One array per column: the text is the same whatever the number of rows.
    const ROWS_IN_TEXT: bool = false;

    fn push_rows<const N: usize>(sql: &mut Sql, workspace: &WorkspaceId, rows: Vec<[Arg; N]>) {
        sql.push("SELECT ")
            .bind(workspace.as_str())
            .push(", u.* FROM UNNEST(");
        for (i, column) in Arg::columns(rows).into_iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            let cast = match column {
                Arg::Ints(_) | Arg::OptInts(_) => "::bigint[]",
                _ => "::text[]",
            };
            sql.bind(column).push(cast);
        }
        sql.push(") AS u");
    }

    fn push_keys(sql: &mut Sql, keys: &Keys) {
        sql.push("UNNEST(");
        for (i, values) in keys.values.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(values.clone());
        }
        sql.push(") AS t (")
            .push(&keys.columns.join(", "))
            .push(")");
    }

    const KEYED_ROWS: KeyedRows = KeyedRows::FromAndUsing;

    // Always one array: the statement's text is the same whatever the number of ids, so it
    // stays prepared, and PostgreSQL estimates an array's elements one by one.
    fn push_in_ids(sql: &mut Sql, column: &str, ids: &[i64]) {
        Self::push_in_id_set(sql, column, ids);
    }

    fn push_in_id_set(sql: &mut Sql, column: &str, ids: &[i64]) {
        sql.push(column)
            .push(" = ANY(")
            .bind(Arg::Ints(ids.to_vec()))
            .push(")");
    }

    fn push_in_texts(sql: &mut Sql, column: &str, texts: &[String]) {
        sql.push(column)
            .push(" = ANY(")
            .bind(Arg::Texts(texts.to_vec()))
            .push(")");
    }

    async fn lock_migrations(conn: &mut PgConnection, name: &str) -> SqlResult<()> {
        let mut sql = Self::sql();
        // Advisory locks are the database's: the key holds the schema the tables are in, so
        // that stores in other schemas migrate beside this one, not after it.
        sql.push("SELECT pg_advisory_xact_lock(hashtextextended(COALESCE(current_schema(), '') || '.' || ")
            .bind(name)
            .push(", 0))");
        Self::execute(conn, sql, "lock the migrations")
            .await
            .map(drop)
    }

    async fn unlock_migrations(_conn: &mut PgConnection, _name: &str) -> SqlResult<()> {
        // The transaction-level advisory lock ends with the transaction.
        Ok(())
    }

    fn fetch_events(
        conn: PoolConnection<Postgres>,
        sql: Sql,
        context: &'static str,
        batch: EventBatch,
    ) -> impl Future<Output = SqlResult<PooledEvents<Self>>> + Send {
        large_reads::fetch_copied(conn, sql, context, batch)
    }

    driver_glue!(PgConnection, PgRow);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_sets_bind_one_array() {
        let mut sql = PostgresDialect::sql();
        sql.push("SELECT 1 WHERE ");
        PostgresDialect::push_in_ids(&mut sql, "customer", &(0..70_000).collect::<Vec<_>>());
        assert_eq!(sql.text(), "SELECT 1 WHERE customer = ANY($1)");
        assert_eq!(sql.arg_count(), 1);
    }
}
