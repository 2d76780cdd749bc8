//! [`MySqlStore`]: the MySQL / MariaDB backend (feature `mysql`).

use engagement_core::{EventBatch, Result};
use sqlx::mysql::{MySqlArguments, MySqlConnection, MySqlDatabaseError, MySqlPool, MySqlRow};
use sqlx::pool::PoolConnection;
use sqlx::{Connection, MySql, Row};

use crate::dialect::{Dialect, Inserted, KeyedRows, PooledEvents, ReadRow, add, driver_glue};
use crate::encode::event_ref_from_row;
use crate::engine::{Engine, sql_event_store};
use crate::error::{SqlError, SqlResult};
use crate::migrate::Migration;
use crate::prefix::TablePrefix;
use crate::sql::{Arg, Keys, Placeholder, Sql, json_array, json_texts};

/// How long `migrate` waits for another process's migration, in seconds.
const MIGRATION_LOCK_SECS: i64 = 60;

/// The name of the migration lock of the ledger `ledger` in the session's database. Named
/// locks are the server's: the name holds the database, so that stores in other databases
/// migrate beside this one, not after it; hashed, as MySQL takes names of 64 characters at most.
fn push_migration_lock_name(sql: &mut Sql, ledger: &str) {
    sql.push("CONCAT('engagement_migrate_', LEFT(SHA2(CONCAT(COALESCE(DATABASE(), ''), '.', ")
        .bind(ledger)
        .push("), 256), 32))");
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "events and customers",
        script: include_str!("../migrations/mysql/0001_events_and_customers.sql"),
    },
    Migration {
        version: 2,
        description: "daily rollup",
        script: include_str!("../migrations/mysql/0002_daily_rollup.sql"),
    },
    Migration {
        version: 3,
        description: "customer index in journey order",
        script: include_str!("../migrations/mysql/0003_customer_index_in_journey_order.sql"),
    },
    Migration {
        version: 4,
        description: "customer totals",
        script: include_str!("../migrations/mysql/0004_customer_totals.sql"),
    },
    Migration {
        version: 5,
        description: "event log counts",
        script: include_str!("../migrations/mysql/0005_log_counts.sql"),
    },
    Migration {
        version: 6,
        description: "placeholder index",
        script: include_str!("../migrations/mysql/0006_placeholder_index.sql"),
    },
    Migration {
        version: 7,
        description: "name index with the event id",
        script: include_str!("../migrations/mysql/0007_name_index_with_id.sql"),
    },
    Migration {
        version: 8,
        description: "search text folds the final sigma",
        script: include_str!("../migrations/mysql/0008_search_text_folds_final_sigma.sql"),
    },
];

/// An [`EventStore`](engagement_core::EventStore) in a MariaDB 10.11+ database (InnoDB,
/// utf8mb4); MySQL 8 is not supported (see below).
///
/// Text is stored under `utf8mb4_nopad_bin` (MariaDB's binary, no-pad collation), so ids compare
/// byte-wise and trailing spaces count.
///
/// **MySQL 8 limitation:** MySQL 8 has no `utf8mb4_nopad_bin`; its byte-wise no-pad collation is
/// `utf8mb4_0900_bin`, which MariaDB lacks, and its `utf8mb4_bin` pads (so `"a"` and `"a "`
/// would be the same id). The migrations are written for MariaDB (the server the suites run on)
/// and fail on MySQL 8 with an unknown-collation error; MySQL 8 also lacks `INSERT … RETURNING`,
/// which is why appends read the existing ids first on this backend. Reads that need one snapshot run in a
/// `START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY` transaction at REPEATABLE READ, whatever
/// isolation level the pool's sessions default to.
///
/// **Host session settings:** a pool whose sessions turn `autocommit` off or cap
/// `sql_select_limit` reads and migrates the same (reads run in a transaction of their own and
/// lift the cap for themselves; the migration's connection turns autocommit on). A `sql_mode`
/// with `EMPTY_STRING_IS_NULL` is not supported: appends of events with empty texts fail with
/// a backend error.
///
/// **Cancellation:** each call runs on a Tokio task of its own, to its end, even when its caller
/// stops waiting (drops the future): sqlx's MySQL driver can hand a connection dropped in the
/// middle of a statement back to the pool out of step with the server. A cancelled append
/// therefore may still land (whole, as always), and a cancelled purge finishes.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use engagement_sqlx::MySqlStore;
///
/// let store = MySqlStore::connect("mysql://root@127.0.0.1:3306/app").await?;
/// store.migrate().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MySqlStore {
    engine: Engine<MySqlDialect>,
}

impl MySqlStore {
    /// A store over the host's pool, with tables under the default prefix.
    pub fn new(pool: MySqlPool) -> Self {
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
            Engine::<MySqlDialect>::connect_server(url).await?,
        ))
    }

    /// Creates or upgrades the store's tables, under a named lock of the database's own
    /// (`GET_LOCK`, held on a connection of its own that is closed afterwards) so that
    /// concurrent callers apply each migration once (stores in other databases migrate beside
    /// them; builds before 2026-12-07 named the lock after the ledger alone: run no `migrate`
    /// of such a build beside this one). The host's own migrations are not touched. MySQL commits each
    /// `CREATE TABLE` at once, so a migration that fails drops the tables it created (the
    /// ledger does not hold it, and the next `migrate` applies it again). A migration is
    /// recorded as started before its first statement, so one whose process was killed (or
    /// whose connection was lost) in the middle is found by the next `migrate`, which drops the
    /// tables it creates and applies it again (migration 3, which only re-keys an index in one
    /// `ALTER TABLE` that drops and re-adds it, runs again as it is).
    ///
    /// # Errors
    /// [`Error::Backend`](engagement_core::Error::Backend) when a statement fails, the database
    /// was migrated by a newer version or a migration applied before was changed since;
    /// [`Error::Busy`](engagement_core::Error::Busy) when another migration held the lock for a
    /// minute or no pooled connection came in time.
    pub async fn migrate(&self) -> Result<()> {
        self.engine
            .migrate(MIGRATIONS)
            .await
            .map_err(Engine::<MySqlDialect>::error)
    }

    /// The pool the store uses.
    pub fn pool(&self) -> &MySqlPool {
        &self.engine.pool
    }
}

sql_event_store!(MySqlStore, MySqlDialect);

/// MySQL's SQL.
#[derive(Debug)]
pub(crate) struct MySqlDialect;

impl Dialect for MySqlDialect {
    type DB = sqlx::MySql;
    type Row = MySqlRow;

    const BACKEND: &'static str = "mysql";
    const DDL_COMMITS: bool = true;
    const CANCEL_SAFE: bool = false;
    const PLACEHOLDER: Placeholder = Placeholder::Question;
    const MAX_BINDS: usize = 65_535;
    const INT: &'static str = "SIGNED";
    // Each begin first ends a transaction the connection may still have open: sqlx (0.9.1)
    // counts a MySQL transaction only once its `START TRANSACTION` has answered, so a begin
    // cancelled in that round trip (not ours, which run to their end, `CANCEL_SAFE`, but a
    // host's on the same pool) returns its connection with the server still in a
    // transaction, where `SET TRANSACTION` fails (1568) for the next caller. `COMMIT` is what
    // `START TRANSACTION` would do to it implicitly (it may hold a host's autocommit writes);
    // `NO RELEASE` keeps the session whatever `completion_type` says.
    //
    // A consistent snapshot only under REPEATABLE READ (InnoDB ignores it under READ COMMITTED,
    // which a host's server or pool may set): the level is set for this transaction first.
    const BEGIN_READ: &'static str = "COMMIT AND NO CHAIN NO RELEASE; \
                                      SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; \
                                      START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY";
    // Writes are written for REPEATABLE READ, InnoDB's default: under a host's SERIALIZABLE
    // default the existing-ids read of an append took shared locks and racing appends
    // deadlocked on nearly every try.
    const BEGIN_WRITE: &'static str = "COMMIT AND NO CHAIN NO RELEASE; \
                                       SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; \
                                       START TRANSACTION";

    fn arguments(args: Vec<Arg>) -> SqlResult<MySqlArguments> {
        let mut out = MySqlArguments::default();
        for arg in args {
            match arg {
                Arg::Int(v) => add(&mut out, v)?,
                Arg::OptInt(v) => add(&mut out, v)?,
                Arg::Text(v) => add(&mut out, v)?,
                Arg::OptText(v) => add(&mut out, v)?,
                Arg::Ints(v) => add(&mut out, json_array(&v))?,
                Arg::OptInts(_) | Arg::Texts(_) | Arg::OptTexts(_) => {
                    return Err(SqlError::Encode("array arguments are PostgreSQL's".into()));
                }
            }
        }
        Ok(out)
    }

    fn is_busy(error: &sqlx::Error) -> bool {
        // ER_LOCK_WAIT_TIMEOUT and ER_LOCK_DEADLOCK.
        match error {
            sqlx::Error::Database(db) => db
                .try_downcast_ref::<MySqlDatabaseError>()
                .is_some_and(|e| matches!(e.number(), 1205 | 1213)),
            _ => false,
        }
    }

    // MariaDB orders TEXT by its first `max_sort_length` bytes (1,024 by default), so names
    // that differ only past them came out as equal, by customer id. A TEXT holds at most
    // 65,535 bytes: this many is all of it.
    const WHOLE_TEXT_ORDER: &'static str = "SET STATEMENT max_sort_length = 65536 FOR ";

    fn push_index_hint(sql: &mut Sql, index: &str) {
        // InnoDB may otherwise pick the time index and sort every step event of the window.
        sql.push(" FORCE INDEX (").push(index).push(")");
    }

    fn push_in_id_set(sql: &mut Sql, column: &str, ids: &[i64]) {
        sql.push(column)
            .push(" IN (SELECT j.v FROM JSON_TABLE(")
            .bind(Arg::Ints(ids.to_vec()))
            .push(", '$[*]' COLUMNS (v BIGINT PATH '$')) AS j)");
    }

    // The texts compared as the tables' own text columns are (byte-wise, trailing spaces
    // counted), never truncated to a width.
    fn push_in_texts(sql: &mut Sql, column: &str, texts: &[String]) {
        sql.push(column)
            .push(" IN (SELECT j.v FROM JSON_TABLE(")
            .bind(json_texts(texts))
            .push(", '$[*]' COLUMNS (v TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin PATH '$')) AS j)");
    }

    const INSERT_IGNORING: (&'static str, &'static str) = ("INSERT IGNORE INTO ", "");

    // MariaDB (10.11) reads the parameters of a `VALUES` table in a `WITH` as NULL in a
    // prepared statement; a union of one-row selects reads them.
    const ROWS_TABLE: (&'static str, &'static str, &'static str) =
        ("SELECT ", " UNION ALL SELECT ", "");

    fn on_conflict_update(sql: &mut Sql, columns: &[&str]) {
        sql.push(" ON DUPLICATE KEY UPDATE ");
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push(c).push(" = VALUES(").push(c).push(")");
        }
    }

    async fn check_insert_ignored(conn: &mut MySqlConnection, skipped: u64) -> SqlResult<()> {
        // INSERT IGNORE also turns errors (a value too long, out of range) into warnings; each
        // skipped duplicate leaves exactly one, so any more means something else was ignored.
        let rows = sqlx::raw_sql("SHOW COUNT(*) WARNINGS")
            .fetch_all(&mut *conn)
            .await
            .map_err(SqlError::driver("check the insert's warnings"))?;
        let warnings: u64 = match rows.first() {
            Some(row) => row
                .try_get(0)
                .map_err(SqlError::driver("read the insert's warnings"))?,
            None => 0,
        };
        if warnings > skipped {
            let details = sqlx::raw_sql("SHOW WARNINGS")
                .fetch_all(&mut *conn)
                .await
                .map_err(SqlError::driver("read the insert's warnings"))?;
            let first = details
                .iter()
                .filter_map(|row| Some((row.try_get::<u32, _>(1).ok()?, row.text(2).ok()?)))
                .find(|(code, _)| *code != 1062)
                .map_or_else(String::new, |(code, message)| format!("{code}: {message}"));
            return Err(SqlError::IgnoredError {
                warnings,
                skipped,
                first,
            });
        }
        Ok(())
    }

    async fn lock_migrations(conn: &mut MySqlConnection, name: &str) -> SqlResult<()> {
        let mut sql = Self::sql();
        sql.push("SELECT CAST(GET_LOCK(");
        push_migration_lock_name(&mut sql, name);
        sql.push(", ")
            .bind(MIGRATION_LOCK_SECS)
            .push(") AS SIGNED)");
        let rows = Self::fetch_all(conn, sql, "lock the migrations").await?;
        match rows
            .first()
            .map(|row| row.opt_int(0))
            .transpose()?
            .flatten()
        {
            Some(1) => Ok(()),
            _ => Err(SqlError::LockTimedOut {
                name: name.to_owned(),
            }),
        }
    }

    async fn unlock_migrations(conn: &mut MySqlConnection, name: &str) -> SqlResult<()> {
        let mut sql = Self::sql();
        sql.push("SELECT CAST(RELEASE_LOCK(");
        push_migration_lock_name(&mut sql, name);
        sql.push(") AS SIGNED)");
        Self::fetch_all(conn, sql, "unlock the migrations")
            .await
            .map(drop)
    }

    // MySQL 8 has no `INSERT … RETURNING` (MariaDB has): `append` reads the existing ids first
    // and fails as busy (nothing written) if a concurrent append took one meanwhile.
    const INSERTED: Inserted = Inserted::ReadFirst;
    // Next-key locks on a range of a table shared by workspaces deadlock concurrent writers. A
    // purge chunk reads its events unlocked, from its snapshot, and checks that its delete took
    // them all (`Engine::delete_all_read`): one that another purge got to first is read again.
    const LOCKING_READ: &'static str = "";
    // Record locks on the rows found by their unique key (no range is read): a purge's
    // `DELETE` of one waits for the append's commit.
    const SHARED_LOCKING_READ: &'static str = " LOCK IN SHARE MODE";
    // `AUTO_INCREMENT`: InnoDB never hands a number out twice (MariaDB keeps its counter across
    // restarts).
    const ROW_KEY: Option<&'static str> = Some("seq");

    // The texts typed as the tables' own text columns are (byte-wise, trailing spaces counted).
    fn push_keys(sql: &mut Sql, keys: &Keys) {
        sql.push("JSON_TABLE(")
            .bind(keys.json_rows())
            .push(", '$[*]' COLUMNS (");
        for (i, (column, values)) in keys.columns.iter().zip(&keys.values).enumerate() {
            let kind = match values {
                Arg::Texts(_) => " TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin",
                _ => " BIGINT",
            };
            if i > 0 {
                sql.push(", ");
            }
            sql.push(column)
                .push(kind)
                .push(" PATH '$[")
                .push(&i.to_string())
                .push("]'");
        }
        sql.push(")) AS t");
    }

    const KEYED_ROWS: KeyedRows = KeyedRows::MultiTable;
    // MariaDB reads a subquery whose range bounds come from the outer row through the equal
    // columns before them only (`ref` on workspace and customer): every event of the customer,
    // under shared next-key locks, for each rollup row settled.
    const SETTLE_BY_DAY: bool = true;

    fn end_rollup_upsert(sql: &mut Sql, _table: &str) {
        sql.push(" ON DUPLICATE KEY UPDATE n = n + VALUES(n), last_at = GREATEST(last_at, VALUES(last_at))");
    }

    fn end_count_upsert(sql: &mut Sql, _table: &str, _key: &str) {
        sql.push(" ON DUPLICATE KEY UPDATE n = n + VALUES(n)");
    }

    // A host's pool may turn `autocommit` off (`SET autocommit = 0` in its `after_connect`).
    // A statement outside a transaction then opens one that stays open on the pooled
    // connection: the next read there saw the snapshot of that first read (an event appended
    // since was not found, a customer upserted since was missing) and the last migration's
    // ledger row was rolled back with the closed connection, so every later `migrate` failed.
    // A read of ours outside a transaction runs in a read transaction of its own, which
    // `BEGIN_READ` starts by ending any the session had open, and its commit ends.
    async fn fetch_alone(
        conn: &mut MySqlConnection,
        sql: Sql,
        context: &'static str,
    ) -> SqlResult<Vec<MySqlRow>> {
        let mut tx = conn
            .begin_with(Self::BEGIN_READ)
            .await
            .map_err(SqlError::driver("begin a transaction"))?;
        let rows = Self::fetch_all(&mut tx, sql, context).await?;
        tx.commit().await.map_err(SqlError::driver(context))?;
        Ok(rows)
    }

    async fn fetch_events(
        mut conn: PoolConnection<MySql>,
        sql: Sql,
        context: &'static str,
        mut batch: EventBatch,
    ) -> SqlResult<PooledEvents<Self>> {
        for row in Self::fetch_alone(&mut conn, sql, context).await? {
            batch.push(event_ref_from_row(&row, 0)?);
        }
        Ok((conn, batch))
    }

    const AUTOCOMMIT: Option<&'static str> = Some("SET autocommit = 1");

    // A host's session may cap the rows of every `SELECT` without a `LIMIT`
    // (`sql_select_limit`; the client's `--safe-updates` sets 1,000): customers, buckets,
    // funnel steps and the existing ids of an append came back cut short, silently. Each read
    // of ours lifts the cap for itself alone, leaving the session's setting as it was.
    fn read_text(text: String) -> String {
        const ALL_ROWS: &str = "sql_select_limit = 18446744073709551615";
        match text.strip_prefix("SET STATEMENT ") {
            Some(settings) => format!("SET STATEMENT {ALL_ROWS}, {settings}"),
            None => format!("SET STATEMENT {ALL_ROWS} FOR {text}"),
        }
    }

    driver_glue!(MySqlConnection, MySqlRow);
}
