//! [`SqliteStore`]: the embedded backend (feature `sqlite`, on by default, bundled SQLite).

mod large_reads;

use std::future::Future;
use std::ops::DerefMut;
use std::str::FromStr;
use std::time::Duration;

use engagement_core::{Error, EventBatch, Result};
use sqlx::Sqlite;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};

use crate::dialect::{Dialect, Inserted, PooledEvents, add, driver_glue};
use crate::engine::{ACQUIRE_TIMEOUT, Engine, sql_event_store};
use crate::error::{SqlError, SqlResult};
use crate::fetched::Fetched;
use crate::migrate::Migration;
use crate::prefix::TablePrefix;
use crate::sql::{Arg, Placeholder, Sql, json_array, json_texts};

/// How long a connection waits for another writer's lock before [`Error::Busy`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The page cache of a connection that only reads (8 MiB; see [`SqliteStore::connect`]).
const READER_CACHE: &str = "-8192";
/// The page size of a database file the store creates (SQLite's default is 4 KiB; see
/// [`SqliteStore::options`]).
const PAGE_SIZE: u32 = 16 * 1024;
/// WAL bytes after which a commit checkpoints: 1 GiB (see [`SqliteStore::options`]).
const WAL_CHECKPOINT_BYTES: u32 = 1 << 30;

/// What SQLite binds an [`Arg`] as.
enum Scalar {
    Int(Option<i64>),
    Text(Option<String>),
}

impl Scalar {
    /// The value bound for `arg`: an id set as a JSON array text (read by `json_each`).
    ///
    /// # Errors
    /// [`SqlError::Encode`] for PostgreSQL's array arguments.
    fn of(arg: Arg) -> SqlResult<Self> {
        Ok(match arg {
            Arg::Int(v) => Self::Int(Some(v)),
            Arg::OptInt(v) => Self::Int(v),
            Arg::Text(v) => Self::Text(Some(v)),
            Arg::OptText(v) => Self::Text(v),
            Arg::Ints(v) => Self::Text(Some(json_array(&v))),
            Arg::OptInts(_) | Arg::Texts(_) | Arg::OptTexts(_) => {
                return Err(SqlError::Encode("array arguments are PostgreSQL's".into()));
            }
        })
    }
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "events and customers",
        script: include_str!("../migrations/sqlite/0001_events_and_customers.sql"),
    },
    Migration {
        version: 2,
        description: "daily rollup",
        script: include_str!("../migrations/sqlite/0002_daily_rollup.sql"),
    },
    Migration {
        version: 3,
        description: "customer index in journey order",
        script: include_str!("../migrations/sqlite/0003_customer_index_in_journey_order.sql"),
    },
    Migration {
        version: 4,
        description: "customer totals",
        script: include_str!("../migrations/sqlite/0004_customer_totals.sql"),
    },
    Migration {
        version: 5,
        description: "name index with the domain",
        script: include_str!("../migrations/sqlite/0005_name_index_with_domain.sql"),
    },
    Migration {
        version: 6,
        description: "event log counts",
        script: include_str!("../migrations/sqlite/0006_log_counts.sql"),
    },
    Migration {
        version: 7,
        description: "search text folds the final sigma",
        script: include_str!("../migrations/sqlite/0007_search_text_folds_final_sigma.sql"),
    },
];

/// An [`EventStore`](engagement_core::EventStore) in a SQLite database: a file beside the
/// application, or memory for tests.
///
/// Writes take the write lock up front (`BEGIN IMMEDIATE`), so concurrent writers queue for the
/// busy timeout instead of failing half-way; readers never block writers (WAL).
///
/// ```
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// use engagement_core::{CustomerId, Event, EventStore, Timestamp, WorkspaceId};
/// use engagement_sqlx::SqliteStore;
///
/// let store = SqliteStore::connect("sqlite::memory:").await?;
/// store.migrate().await?;
/// let ws = WorkspaceId::new("acme")?;
/// let e = Event::new("e1", CustomerId(7), "Page Viewed", Timestamp::from_micros(1));
/// assert_eq!(store.append(&ws, &[e.clone()]).await?.inserted, 1);
/// assert_eq!(store.event(&ws, &e.id).await?, Some(e));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    engine: Engine<SqliteDialect>,
}

impl SqliteStore {
    /// A store over the host's pool, with tables under the default prefix.
    ///
    /// The pool's connections should use WAL and a busy timeout (see [`Self::options`]);
    /// a pool over `sqlite::memory:` must keep exactly one connection open for its lifetime.
    pub fn new(pool: SqlitePool) -> Self {
        Self {
            engine: Engine::new(pool, TablePrefix::default()),
        }
    }

    /// Opens (creating if missing) the database at `url` (`sqlite://path/to/file.db` or
    /// `sqlite::memory:`) with [`Self::options`]: for a file, a pool of four connections that
    /// read, with small page caches and no memory map, and one connection that writes, with the
    /// large cache. Writes take turns anyway; random index writes want the large cache (a load
    /// of 1M events is 14 % slower without), while scans through a pool of four connections,
    /// each with a large cache and map of its own, found them cold (the 28-day ranking at 10M
    /// events: 1.5 s with small caches, 1.9 s with large ones, in a fresh process).
    ///
    /// The URL's own `mode` is kept: `mode=rw` opens an existing file and never creates one
    /// (a mistyped path fails instead of starting an empty database), and `mode=ro` opens one
    /// read-only, leaving its journal mode as it is (switching it to WAL is a write).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a malformed URL, one that names no file (`sqlite://`, which
    /// SQLite would open as a private temporary database per connection, losing every append),
    /// and a file that is not a SQLite database, a directory or a path that cannot be opened;
    /// [`Error::Backend`] when opening fails otherwise.
    pub async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url).map_err(|e| {
            Error::invalid_config("url", format!("{url:?} is not a SQLite URL: {e}"))
        })?;
        let access = Access::of(url);
        let in_memory = access == Access::Memory;
        if !in_memory && options.get_filename().as_os_str().is_empty() {
            return Err(Error::invalid_config(
                "url",
                format!(
                    "{url:?} names no file (SQLite would give each connection a temporary \
                     database of its own): use sqlite://FILE or sqlite::memory:"
                ),
            ));
        }
        let options = Self::configured(options, access);
        if in_memory {
            // Every connection to `:memory:` is its own database: keep one, forever.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
            return Ok(Self::new(open(pool, options).await?));
        }
        let readers = options
            .clone()
            .pragma("cache_size", READER_CACHE)
            .pragma("mmap_size", "0");
        let readers = open(SqlitePoolOptions::new().max_connections(4), readers).await?;
        let writer = open(SqlitePoolOptions::new().max_connections(1), options).await?;
        Ok(Self {
            engine: Engine::new(readers, TablePrefix::default()).with_write_pool(writer),
        })
    }

    /// The connection settings the store relies on, applied to `options`: create the file if
    /// missing, with pages of 16 KiB, WAL journal (not for memory databases), `synchronous =
    /// NORMAL`, a busy timeout, a page cache of 256 MiB and memory-mapped reads of up to 1 GiB
    /// per connection (both upper bounds, used as the database grows), temporary sorts in
    /// memory, and a WAL checkpointed every 1 GiB instead of SQLite's 4 MiB.
    ///
    /// Pages of 16 KiB instead of SQLite's 4 KiB: an append's events land all over the
    /// customer index, and the rollup's and totals' rows all over theirs, so each commit
    /// writes a few pages an event; with larger pages those indexes are shallower and split
    /// less. Appends of 1,000 events (the `Ingestor`'s batches) into a fresh file, 1M events:
    /// 63–66k events/s at 4 KiB, 78–80k at 16 KiB (32 and 64 KiB: no further gain); reports
    /// over 10M events were not slower. The page size only takes effect on a file with
    /// nothing in it yet: a file created before (by an earlier version, or with the host's
    /// tables first) keeps its pages, and [`Self::connect`] sets its checkpoint threshold,
    /// which SQLite counts in pages, to 1 GiB of them; with [`Self::new`] the threshold set
    /// here is 65,536 pages, 1 GiB of the store's own.
    ///
    /// A batch of appended events dirties pages all over the customer index, and a checkpoint
    /// writes (and syncs) every page the WAL holds into the database: the longer between
    /// checkpoints, the more of those writes fall on pages written again since. Loads of 10M
    /// events in batches of 100,000 (each writing ~300 MiB of WAL): 46–51k events/s with a
    /// checkpoint every 256 MiB (so after every commit), 57–59k every 1 GiB, 61k every 4 GiB;
    /// of 1M, 1.3–2.7× slower at 4 MiB than at 256 MiB.
    ///
    /// What that costs: the WAL file grows to about 1 GiB and one append while the store is
    /// open; a commit that checkpoints takes longer (~1.2 s against ~0.7 s at 256 MiB, once
    /// per GiB written); reads look their pages up in a longer WAL (with 1.3 GiB of it, the
    /// activity page 6 % and a funnel 18 % slower than right after a checkpoint). So a commit
    /// also starts a checkpoint on a reader connection beside the next writes, again every
    /// 2 seconds while commits keep coming: fewer of the writer's commits reach the threshold,
    /// and the WAL is copied into the database soon after a load ends. With `synchronous =
    /// NORMAL` only a checkpoint syncs the WAL: a commit survives a crash of the process, but a power loss or
    /// an operating-system crash can undo the commits since the last checkpoint. A host that
    /// needs every append to survive those sets `synchronous = FULL` on the options this
    /// returns (one sync of the WAL per commit) and opens the store with
    /// [`SqliteStore::new`].
    ///
    /// `secure_delete` is on: what a purge deletes (an erasure above all) is overwritten in the
    /// file, not left readable in its free space. The write-ahead log holds a deleted value's
    /// earlier page images until its next reset after a checkpoint (at the latest when the store
    /// closes); a copy of the file taken before then, or a backup, still holds it. `FAST`
    /// would cost less on a large purge but leaves whole freed pages as they were (an erasure
    /// of 3,000 events left their URLs in the file). Appends did not measurably slow down:
    /// 300,000 events in batches of 1,000 into a fresh file, three runs alternated, 64.8–69.0k
    /// events/s with it, 65.0–67.9k without; a large purge's cost was not measured.
    pub fn options(options: SqliteConnectOptions, in_memory: bool) -> SqliteConnectOptions {
        let access = if in_memory {
            Access::Memory
        } else {
            Access::Create
        };
        Self::configured(options, access)
    }

    /// [`Self::options`] for a file opened as `access` says: created only where the URL lets
    /// it be, and switched to WAL only where it is written.
    fn configured(options: SqliteConnectOptions, access: Access) -> SqliteConnectOptions {
        let options = options
            .create_if_missing(matches!(access, Access::Create | Access::Memory))
            .page_size(PAGE_SIZE)
            .busy_timeout(BUSY_TIMEOUT)
            .synchronous(SqliteSynchronous::Normal)
            .pragma("cache_size", "-262144")
            .pragma("mmap_size", "1073741824")
            .pragma("temp_store", "MEMORY")
            // A purge, above all an erasure, overwrites what it deletes: without it the bytes
            // of deleted rows stay readable in the file's free space.
            .pragma("secure_delete", "ON")
            .pragma(
                "wal_autocheckpoint",
                (WAL_CHECKPOINT_BYTES / PAGE_SIZE).to_string(),
            );
        match access {
            Access::Memory | Access::ReadOnly => options,
            Access::Existing | Access::Create => options.journal_mode(SqliteJournalMode::Wal),
        }
    }

    /// Creates or upgrades the store's tables. Safe to call at every start and from several
    /// processes at once; the host's own migrations are not touched.
    ///
    /// # Errors
    /// [`Error::Backend`] when a statement fails, the database was migrated by a newer version or
    /// a migration applied before was changed since; [`Error::Busy`] when another connection
    /// held the write lock past the busy timeout or no pooled connection came in time.
    pub async fn migrate(&self) -> Result<()> {
        self.engine
            .migrate(MIGRATIONS)
            .await
            .map_err(Engine::<SqliteDialect>::error)
    }

    /// The pool the store reads with (and writes with, unless it was opened by
    /// [`Self::connect`] on a file, which writes on a connection of its own).
    pub fn pool(&self) -> &SqlitePool {
        &self.engine.pool
    }
}

/// How a URL asks SQLite to open its database: its `mode` parameter, or `:memory:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// An in-memory database (`sqlite::memory:`, `mode=memory`).
    Memory,
    /// An existing file, read only (`mode=ro`).
    ReadOnly,
    /// An existing file, never created (`mode=rw`).
    Existing,
    /// A file, created if missing (`mode=rwc`, or no mode).
    Create,
}

impl Access {
    fn of(url: &str) -> Self {
        let mode = url
            .split_once('?')
            .and_then(|(_, query)| query.split('&').find_map(|pair| pair.strip_prefix("mode=")));
        match mode {
            _ if url.contains(":memory:") => Self::Memory,
            Some("memory") => Self::Memory,
            Some("ro") => Self::ReadOnly,
            Some("rw") => Self::Existing,
            _ => Self::Create,
        }
    }
}

/// SQLite's result codes for a file it cannot open (a directory, a missing folder) and for one
/// that is not a database: the URL is the host's to fix, no retry can pass.
const CANTOPEN: i32 = 14;
const NOTADB: i32 = 26;

/// A pool of `pool`'s shape over `options`, waiting at most [`ACQUIRE_TIMEOUT`] for a connection.
///
/// # Errors
/// [`Error::InvalidConfig`] for a path that cannot be opened or is no database; the driver's
/// error otherwise.
async fn open(pool: SqlitePoolOptions, options: SqliteConnectOptions) -> Result<SqlitePool> {
    let path = options.get_filename().display().to_string();
    pool.acquire_timeout(ACQUIRE_TIMEOUT)
        .after_connect(|conn, _| Box::pin(checkpoint_by_bytes(conn)))
        .connect_with(options)
        .await
        .map_err(|e| {
            let code = e
                .as_database_error()
                .and_then(|db| db.code())
                .and_then(|code| code.parse::<i32>().ok())
                .map(|code| code & 0xff);
            match code {
                Some(CANTOPEN | NOTADB) => Error::invalid_config(
                    "url",
                    format!("{path:?} cannot be opened as a SQLite database: {e}"),
                ),
                _ => Engine::<SqliteDialect>::error(SqlError::driver("open the database")(e)),
            }
        })
}

/// Sets the WAL's checkpoint threshold, which SQLite counts in pages, to
/// [`WAL_CHECKPOINT_BYTES`] of this file's pages: a file that already existed keeps the page
/// size it was created with (4 KiB for one made by an earlier version or by the host's own
/// tables first), and [`SqliteStore::options`]' threshold assumes the store's own.
async fn checkpoint_by_bytes(conn: &mut SqliteConnection) -> sqlx::Result<()> {
    let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(&mut *conn)
        .await?;
    let pages = i64::from(WAL_CHECKPOINT_BYTES) / page_size.max(1);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "PRAGMA wal_autocheckpoint = {pages}"
    )))
    .execute(conn)
    .await?;
    Ok(())
}

sql_event_store!(SqliteStore, SqliteDialect);

/// SQLite's SQL.
#[derive(Debug)]
pub(crate) struct SqliteDialect;

impl Dialect for SqliteDialect {
    type DB = sqlx::Sqlite;
    type Row = SqliteRow;

    const BACKEND: &'static str = "sqlite";
    const PLACEHOLDER: Placeholder = Placeholder::Question;
    const MAX_BINDS: usize = 32_766;
    const INT: &'static str = "BIGINT";
    // A deferred transaction keeps one snapshot from its first read (WAL).
    const BEGIN_READ: &'static str = "BEGIN";
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";

    fn arguments(args: Vec<Arg>) -> SqlResult<SqliteArguments> {
        let mut out = SqliteArguments::default();
        for arg in args {
            match Scalar::of(arg)? {
                Scalar::Int(v) => add(&mut out, v)?,
                Scalar::Text(v) => add(&mut out, v)?,
            }
        }
        Ok(out)
    }

    fn is_busy(error: &sqlx::Error) -> bool {
        // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
        match error {
            sqlx::Error::Database(db) => db
                .code()
                .and_then(|c| c.parse::<i32>().ok())
                .is_some_and(|c| matches!(c & 0xff, 5 | 6)),
            _ => false,
        }
    }

    fn push_index_hint(sql: &mut Sql, index: &str) {
        // Without ANALYZE statistics (a freshly loaded file) SQLite prefers the time index and
        // sorts every step event of the window.
        sql.push(" INDEXED BY ").push(index);
    }

    fn push_in_id_set(sql: &mut Sql, column: &str, ids: &[i64]) {
        sql.push(column)
            .push(" IN (SELECT value FROM json_each(")
            .bind(Arg::Ints(ids.to_vec()))
            .push("))");
    }

    fn push_in_texts(sql: &mut Sql, column: &str, texts: &[String]) {
        sql.push(column)
            .push(" IN (SELECT value FROM json_each(")
            .bind(json_texts(texts))
            .push("))");
    }

    async fn lock_migrations(_conn: &mut SqliteConnection, _name: &str) -> SqlResult<()> {
        // BEGIN IMMEDIATE already holds the database's write lock.
        Ok(())
    }

    async fn unlock_migrations(_conn: &mut SqliteConnection, _name: &str) -> SqlResult<()> {
        Ok(())
    }

    // `OR IGNORE` skips a row for any conflict, `ON CONFLICT (…) DO NOTHING` only for the key:
    // under the latter a NOT NULL violation could abort the statement half-way, so SQLite kept
    // a statement journal, copying every page the insert touched that the transaction had
    // already changed (~15 % of a large append). `append` binds no NULL to a NOT NULL column,
    // so for its rows the two mean the same.
    const INSERT_IGNORING: (&'static str, &'static str) = ("INSERT OR IGNORE INTO ", "");

    const ONE_WRITER: bool = true;

    // `PASSIVE`: copies what no reader still needs, never waits for readers or the writer.
    const CHECKPOINT: Option<&'static str> = Some("PRAGMA wal_checkpoint(PASSIVE)");

    // `BEGIN IMMEDIATE` holds the database's lock and `seq` is the rowid: no `RETURNING` rows
    // to build and hand over one by one (~15 % of a large append).
    const INSERTED: Inserted = Inserted::Sequenced;

    // Writers hold the database's lock for the whole transaction: nothing to lock row by row.
    const LOCKING_READ: &'static str = "";

    fn end_rollup_upsert(sql: &mut Sql, table: &str) {
        sql.push(" ON CONFLICT (workspace, customer, day, name) DO UPDATE SET n = ")
            .push(table)
            .push(".n + excluded.n, last_at = MAX(")
            .push(table)
            .push(".last_at, excluded.last_at)");
    }

    fn fetch_rows<C>(
        conn: C,
        sql: Sql,
        context: &'static str,
    ) -> impl Future<Output = SqlResult<(C, Fetched<SqliteRow>)>> + Send
    where
        C: DerefMut<Target = SqliteConnection> + Send + 'static,
    {
        large_reads::fetch_cells(conn, sql, context)
    }

    fn fetch_events(
        conn: PoolConnection<Sqlite>,
        sql: Sql,
        context: &'static str,
        batch: EventBatch,
    ) -> impl Future<Output = SqlResult<PooledEvents<Self>>> + Send {
        large_reads::fetch_into(conn, sql, context, batch)
    }

    driver_glue!(SqliteConnection, SqliteRow);
}
