//! [`Dialect`]: what differs between SQLite, PostgreSQL and MySQL, so that every primitive is
//! written once (in `engine`) and each database file only says how it differs.

mod driver;
mod keyed;
mod row;

use std::fmt::Debug;
use std::future::Future;
use std::ops::DerefMut;

use sqlx::Database;
use sqlx::pool::PoolConnection;

use engagement_core::{EventBatch, WorkspaceId};

use crate::chunk::rows_per_statement;
use crate::encode::EVENT_BINDS;
use crate::error::SqlResult;
use crate::fetched::Fetched;
use crate::filter::LISTED;
use crate::sql::{Arg, Keys, Placeholder, Sql};

pub(crate) use driver::{add, begin, driver_glue, statement};
pub(crate) use keyed::{KeyedRows, push_keyed_delete, push_keyed_select, push_keyed_update};
pub(crate) use row::ReadRow;

/// A pooled connection handed back with the events read on it.
pub(crate) type PooledEvents<D> = (PoolConnection<<D as Dialect>::DB>, EventBatch);

/// A database's connection type.
pub(crate) type Conn<D> = <<D as Dialect>::DB as Database>::Connection;

/// How an append learns which rows of an insert-ignore it stored (the others' ids existed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inserted {
    /// The insert ends in `RETURNING id`.
    Returned,
    /// The writer holds the database's lock and every stored row takes the next `seq` (the
    /// largest so far plus one): the row count says whether all were stored, and when not,
    /// the rows with a `seq` above the one before the insert are the stored ones. (SQLite
    /// allocates rowids this way until the largest possible one is taken; `seq` is never
    /// written explicitly, so that takes 2^63 appended events.)
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    Sequenced,
    /// No `RETURNING`: the ids that exist are read before the insert, and a row count short
    /// of the rest means a concurrent append took one meanwhile.
    ReadFirst,
}

/// How the store analyses its tables itself after bulk writes ([`Dialect::ANALYSIS`]).
#[derive(Debug)]
pub(crate) struct Analysis {
    /// The statement, followed by the tables' names; it skips a table whose lock another
    /// transaction holds.
    pub(crate) analyze: &'static str,
    /// Appends a query of the planner's estimate of `table`'s rows (one integer).
    pub(crate) push_estimated_rows: fn(&mut Sql, &str),
}

/// A database's SQL differences and driver glue.
pub(crate) trait Dialect: Debug + Send + Sync + 'static {
    /// The sqlx driver.
    type DB: Database<Row = Self::Row>;
    /// Its row type.
    type Row: ReadRow + Send + 'static;

    /// The name used in errors ("sqlite", "postgres", "mysql").
    const BACKEND: &'static str;

    /// Whether each DDL statement commits at once, so that rolling back a failed migration's
    /// transaction leaves the tables it created, and the migration lock belongs to the session
    /// rather than the transaction (MySQL and MariaDB; SQLite's and PostgreSQL's DDL and locks
    /// are transactional).
    const DDL_COMMITS: bool = false;
    /// Whether the driver leaves a connection clean when a call on it is dropped half way
    /// (its caller cancelled it). Not MySQL's: sqlx (0.9.1) hands such a connection back to
    /// the pool with the statement's answers half read (a prepare cancelled in flight leaves
    /// the next call reading the previous answer, or waiting for good). Where it is false the
    /// store runs each call on a task of its own, to its end, whatever its caller does.
    const CANCEL_SAFE: bool = true;
    /// How placeholders are written.
    const PLACEHOLDER: Placeholder;
    /// The most bound arguments one statement may carry.
    const MAX_BINDS: usize;
    /// The type name a `CAST` to a 64-bit integer uses.
    const INT: &'static str;
    /// Starts a read-only transaction that sees one snapshot for all its statements.
    const BEGIN_READ: &'static str;
    /// Starts the read transaction of an event-log page and its count: as
    /// [`Self::BEGIN_READ`], with any planner settings the log's scans need.
    const BEGIN_LOG_READ: &'static str = Self::BEGIN_READ;
    /// Starts a write transaction (SQLite takes the write lock up front).
    const BEGIN_WRITE: &'static str;

    /// Converts our arguments into the driver's.
    ///
    /// # Errors
    /// An argument the driver cannot encode.
    fn arguments(args: Vec<Arg>) -> SqlResult<<Self::DB as Database>::Arguments>;

    /// Whether a driver error means a lock could not be had in time.
    fn is_busy(error: &sqlx::Error) -> bool;

    /// Appends `column IN <ids>`: up to [`LISTED`] ids a placeholder each, so that the
    /// planner sees how few they are, more as one argument ([`Self::push_in_id_set`]). Bound
    /// as one JSON argument, one customer's ids were a set of unknown size: SQLite, without
    /// statistics, read one customer's log through the time index (100-290 ms instead of 1-6 ms
    /// at 1M events), and MariaDB joined the set to every rollup row of the window (a 14-day
    /// trend 0.9-1.3 s instead of 2-4 ms): docs/scaling.md, "2026-12-07: one customer's detail
    /// and log".
    fn push_in_ids(sql: &mut Sql, column: &str, ids: &[i64]) {
        if (1..=LISTED).contains(&ids.len()) {
            sql.push(column).push(" IN ").bind_list(ids.iter().copied());
        } else {
            Self::push_in_id_set(sql, column, ids);
        }
    }

    /// Appends `column IN <the set>` binding `ids` as one argument, whatever their number.
    fn push_in_id_set(sql: &mut Sql, column: &str, ids: &[i64]);

    /// Appends `column IN <the set>` binding `texts` as one argument, whatever their number.
    fn push_in_texts(sql: &mut Sql, column: &str, texts: &[String]);

    /// Events one insert statement carries.
    const EVENTS_PER_INSERT: usize = rows_per_statement(Self::MAX_BINDS, EVENT_BINDS, 0);

    /// What starts an `INSERT` that skips rows whose key exists, and what ends it after the
    /// rows. The default is the `ON CONFLICT` form of SQLite and PostgreSQL.
    const INSERT_IGNORING: (&'static str, &'static str) =
        ("INSERT INTO ", " ON CONFLICT (workspace, id) DO NOTHING");

    /// Starts an [`Self::INSERT_IGNORING`] into `table` (up to the rows).
    fn insert_ignoring(sql: &mut Sql, table: &str, columns: &str) {
        sql.push(Self::INSERT_IGNORING.0)
            .push(table)
            .push(" (")
            .push(columns)
            .push(") ");
    }

    /// Whether [`Self::push_rows`] writes a placeholder per value into the statement's text
    /// (so that a statement's text depends on its number of rows). Multi-row statements then
    /// take [`prepared_rows`](crate::chunk::prepared_rows) rows, a few sizes kept prepared.
    /// Where not, rows bind one array argument a column ([`Arg::Ints`], [`Arg::Texts`]), as
    /// the other statements of many rows (a funnel's probes, a list of customers' rollup rows)
    /// then do too, unnested and joined laterally.
    const ROWS_IN_TEXT: bool = true;

    /// Rows the next multi-row statement takes of the `n` left, at most `max`: see
    /// [`Self::ROWS_IN_TEXT`].
    fn statement_rows(n: usize, max: usize) -> usize {
        if Self::ROWS_IN_TEXT {
            crate::chunk::prepared_rows(n, max)
        } else {
            n.clamp(1, max.max(1))
        }
    }

    /// Appends the rows of an insert, each the workspace and then `N` values (every row the
    /// same kinds of value): by default `VALUES (…), (…)`, one placeholder per value.
    fn push_rows<const N: usize>(sql: &mut Sql, workspace: &WorkspaceId, rows: Vec<[Arg; N]>) {
        sql.push("VALUES ");
        for (i, row) in rows.into_iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind_list(std::iter::once(Arg::from(workspace.as_str())).chain(row));
        }
    }

    /// What starts a `SELECT` ordered by a long text column (a customer's sort name), so that
    /// the whole text decides the order: nothing where the database compares every byte.
    const WHOLE_TEXT_ORDER: &'static str = "";

    /// What a funnel's snapshot runs first, if anything: settings for its step-1 aggregate
    /// and its many small probes.
    const FUNNEL_SETTINGS: Option<&'static str> = None;

    /// The statement that exports the snapshot of the read transaction it runs in, returning
    /// its id for other connections to read in ([`Self::push_import_snapshot`]); `None` where
    /// the database cannot share a snapshot.
    const EXPORT_SNAPSHOT: Option<&'static str> = None;

    /// Appends the statement that has a read transaction just begun read the snapshot `id`
    /// that [`Self::EXPORT_SNAPSHOT`] returned.
    fn push_import_snapshot(_sql: &mut Sql, _id: &str) {}

    /// How a table of bound rows is written inside `WITH name (columns) AS (…)`: what starts
    /// it, what separates two rows and what ends it, around each row's comma-separated values.
    /// By default `VALUES (…), (…)`.
    const ROWS_TABLE: (&'static str, &'static str, &'static str) = ("VALUES (", "), (", ")");

    /// How a funnel's probe (a correlated subquery over the events as `s`, ordered by
    /// `s.customer, s.occurred_at, s.id`, `LIMIT 1`) keeps to its customer `probe.customer`,
    /// so that the planner reads it through the customer index.
    const PROBE_CUSTOMER: &'static str = "s.customer = probe.customer";

    /// Appends what ends an insert-ignore statement started by [`Self::insert_ignoring`].
    fn end_insert_ignoring(sql: &mut Sql) {
        sql.push(Self::INSERT_IGNORING.1);
    }

    /// Appends what makes the planner read a table through `index` (after the table name):
    /// nothing by default, where the planner's statistics choose well.
    fn push_index_hint(_sql: &mut Sql, _index: &str) {}

    /// Whether the database lets one transaction write at a time: the store's writes then
    /// take turns in the process ([`Engine::begin_write`](crate::engine::Engine::begin_write)).
    const ONE_WRITER: bool = false;

    /// What copies the log into the database beside the one writer
    /// ([`Engine::commit_write`](crate::engine::Engine::commit_write)): nothing where the
    /// database checkpoints on its own.
    const CHECKPOINT: Option<&'static str> = None;

    /// How the store analyses its tables itself after bulk writes
    /// (the engine's `statistics` module); `None` where the database keeps its
    /// statistics fresh on its own (InnoDB recalculates a table's once a tenth of it changed)
    /// or plans well without them (SQLite, where the store names the index a statement needs).
    const ANALYSIS: Option<Analysis> = None;

    /// How `append` learns which rows of an insert-ignore it stored.
    const INSERTED: Inserted = Inserted::Returned;

    /// What ends a `SELECT` that locks the rows it reads until the transaction ends.
    const LOCKING_READ: &'static str = " FOR UPDATE";

    /// What ends a `SELECT` that keeps the rows it reads from being deleted until the
    /// transaction ends, other such reads sharing them: `append` reads so the stored events a
    /// batch re-sends, so that a concurrent purge deletes them either before (the read waits
    /// for it, and finds them gone) or after the append commits. Empty where one writer at a
    /// time leaves nothing to wait for (SQLite).
    const SHARED_LOCKING_READ: &'static str = "";

    /// Where a purge chunk reads its events unlocked (an empty [`Self::LOCKING_READ`]) beside
    /// other writers: an integer key of the events table that no later row takes again once
    /// its row is deleted. The chunk deletes the rows it read by it, not by their ids: an event
    /// stored since under an id the chunk read (after another purge deleted the event read)
    /// is another row, which the chunk never read and whose scope it never checked.
    const ROW_KEY: Option<&'static str> = None;

    /// Appends the table `t` of `keys`: by default the rows of one JSON array argument, read
    /// by `json_each`.
    fn push_keys(sql: &mut Sql, keys: &Keys) {
        sql.push("(SELECT ");
        for (i, column) in keys.columns.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("json_extract(value, '$[")
                .push(&i.to_string())
                .push("]') AS ")
                .push(column);
        }
        sql.push(" FROM json_each(")
            .bind(keys.json_rows())
            .push(")) AS t");
    }

    /// How a statement writes the rows a table of keys names ([`push_keyed_update`],
    /// [`push_keyed_delete`]).
    const KEYED_ROWS: KeyedRows = KeyedRows::InSubquery;

    /// Whether a purge sets the `last_at` of the rollup rows it took from one customer-day at a
    /// time, the subquery over the events bounded by constants (the customer, the day's first
    /// and last instants), rather than in one statement over every row, bounded by the row's
    /// own columns: where the planner cannot seek a range whose bounds come from the outer row.
    const SETTLE_BY_DAY: bool = false;

    /// Appends what turns an insert into the rollup (`table`) into an upsert adding the counts
    /// and keeping the later `last_at`.
    fn end_rollup_upsert(sql: &mut Sql, table: &str) {
        sql.push(" ON CONFLICT (workspace, customer, day, name) DO UPDATE SET n = ")
            .push(table)
            .push(".n + excluded.n, last_at = GREATEST(")
            .push(table)
            .push(".last_at, excluded.last_at)");
    }

    /// Appends the clause that turns an `INSERT` into a table of counts (`table`, keyed by
    /// `key`) into an upsert adding the new row's `n`.
    fn end_count_upsert(sql: &mut Sql, table: &str, key: &str) {
        sql.push(" ON CONFLICT (")
            .push(key)
            .push(") DO UPDATE SET n = ")
            .push(table)
            .push(".n + excluded.n");
    }

    /// Appends the clause that turns an `INSERT` into an upsert on `(workspace, id)` assigning
    /// `columns` from the new row.
    fn on_conflict_update(sql: &mut Sql, columns: &[&str]) {
        sql.push(" ON CONFLICT (workspace, id) DO UPDATE SET ");
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push(c).push(" = excluded.").push(c);
        }
    }

    /// Checks, after an insert-ignore that skipped `skipped` rows, that nothing but existing
    /// keys was skipped. (`ON CONFLICT DO NOTHING` skips nothing else, so the default is a no-op.)
    fn check_insert_ignored(
        conn: &mut Conn<Self>,
        skipped: u64,
    ) -> impl Future<Output = SqlResult<()>> + Send {
        let _ = (conn, skipped);
        std::future::ready(Ok(()))
    }

    /// Takes the lock that serialises migrations (named after the ledger table and the schema
    /// or database it is in, so that stores elsewhere on the server migrate at once) for the
    /// rest of the transaction, waiting for another migrator to finish. Builds before this name
    /// (2026-12-07) took a lock named after the ledger alone: they and this one do not wait for
    /// each other, so every process migrating one schema is upgraded together.
    fn lock_migrations(
        conn: &mut Conn<Self>,
        name: &str,
    ) -> impl Future<Output = SqlResult<()>> + Send;

    /// Releases what [`Self::lock_migrations`] took, where the commit does not.
    fn unlock_migrations(
        conn: &mut Conn<Self>,
        name: &str,
    ) -> impl Future<Output = SqlResult<()>> + Send;

    /// Runs `sql` and returns every row.
    fn fetch_all(
        conn: &mut Conn<Self>,
        sql: Sql,
        context: &'static str,
    ) -> impl Future<Output = SqlResult<Vec<Self::Row>>> + Send;

    /// Runs `sql` and returns the number of rows it changed.
    fn execute(
        conn: &mut Conn<Self>,
        sql: Sql,
        context: &'static str,
    ) -> impl Future<Output = SqlResult<u64>> + Send;

    /// A new statement in this dialect.
    fn sql() -> Sql {
        Sql::new(Self::PLACEHOLDER)
    }

    /// The text a read statement runs as: by default `text` itself. MySQL lifts a host
    /// session's `sql_select_limit` for it (see its `read_text`).
    fn read_text(text: String) -> String {
        text
    }

    /// Runs `sql`, a read outside any transaction of ours, on a pooled connection and returns
    /// every row. By default the statement alone: outside a transaction each statement reads
    /// what committed before it. MySQL's reads run in a read transaction of their own, since a
    /// host's pool may turn `autocommit` off (see its `fetch_alone`).
    fn fetch_alone(
        conn: &mut Conn<Self>,
        sql: Sql,
        context: &'static str,
    ) -> impl Future<Output = SqlResult<Vec<Self::Row>>> + Send {
        Self::fetch_all(conn, sql, context)
    }

    /// What has a session commit each statement by itself, run on a connection the store
    /// closes after use (the migrations' under [`Self::DDL_COMMITS`]); `None` where no session
    /// setting can turn that off.
    const AUTOCOMMIT: Option<&'static str> = None;

    /// Runs `sql`, a `SELECT` whose result may be large (an export chunk, a funnel's step
    /// events), on `conn`, and hands the connection back with the rows, so that a
    /// transaction's reads stay in its snapshot. By default the driver's rows; SQLite steps
    /// the statement itself (`sqlite::large_reads`).
    ///
    /// # Errors
    /// [`SqlError`](crate::error::SqlError) when the statement fails; the connection is dropped
    /// with the error.
    fn fetch_rows<C>(
        conn: C,
        sql: Sql,
        context: &'static str,
    ) -> impl Future<Output = SqlResult<(C, Fetched<Self::Row>)>> + Send
    where
        C: DerefMut<Target = Conn<Self>> + Send + 'static,
    {
        async move {
            let mut conn = conn;
            let rows = Self::fetch_all(&mut conn, sql, context).await?;
            Ok((conn, Fetched::Driver(rows)))
        }
    }

    /// The events of `sql`, a `SELECT` of [`EVENT_COLUMNS`](crate::encode::EVENT_COLUMNS)
    /// (an export chunk), appended to `batch`, on a connection of the pool, which the dialect
    /// may close instead of handing it back when a failure leaves it unusable (PostgreSQL
    /// copies the rows out, `postgres::large_reads`). SQLite and PostgreSQL decode each row as
    /// they read it; MySQL decodes the driver's rows.
    ///
    /// # Errors
    /// As [`Dialect::fetch_rows`], and [`SqlError::Corrupt`](crate::error::SqlError::Corrupt)
    /// for a row that is not an event.
    fn fetch_events(
        conn: PoolConnection<Self::DB>,
        sql: Sql,
        context: &'static str,
        batch: EventBatch,
    ) -> impl Future<Output = SqlResult<PooledEvents<Self>>> + Send;

    /// A `CAST(expr AS <64-bit int>)` for aggregates whose type differs between databases.
    fn int(expr: &str) -> String {
        format!("CAST({expr} AS {})", Self::INT)
    }
}
