//! Large reads on SQLite (export chunks, a funnel's step events): the statement stepped
//! through SQLite's C API, by `rusqlite`, on the connection sqlx holds, on a blocking thread,
//! and each row handed to a [`RowSink`]: an export chunk's events, decoded as they are read,
//! or a funnel's [`Cells`].
//!
//! Through sqlx, every value of every row is copied on the connection's worker thread and
//! each row handed over a channel; a chunk aggregated into one JSON text instead (what this
//! replaced) cost SQLite the JSON's building and us its parsing, ~28 % of an export's CPU.
//! Here a row costs SQLite's own column reads and one copy of its text.

use std::ops::DerefMut;

use rusqlite::types::ValueRef;
use sqlx::sqlite::SqliteConnection;

use super::Scalar;
use crate::error::{SqlError, SqlResult};
use crate::fetched::{Cells, Fetched, RowSink, Value, reuse};
use crate::sql::{Arg, Sql};

/// Runs `sql` on `conn` on a blocking thread and returns the connection with the rows' cells.
///
/// # Errors
/// As [`fetch_into`].
pub(super) async fn fetch_cells<C, R>(
    conn: C,
    sql: Sql,
    context: &'static str,
) -> SqlResult<(C, Fetched<R>)>
where
    C: DerefMut<Target = SqliteConnection> + Send + 'static,
{
    let (conn, cells) = fetch_into(conn, sql, context, Cells::default()).await?;
    Ok((conn, Fetched::Cells(cells)))
}

/// Runs `sql` on `conn` on a blocking thread, each row pushed into `sink`, and returns the
/// connection with the sink.
///
/// # Errors
/// [`SqlError`] when the statement fails, a value is not a null, an integer or UTF-8 text,
/// the sink refuses a row, or the thread stopped before finishing; the connection is dropped
/// with the error.
pub(super) async fn fetch_into<C, S>(
    conn: C,
    sql: Sql,
    context: &'static str,
    sink: S,
) -> SqlResult<(C, S)>
where
    C: DerefMut<Target = SqliteConnection> + Send + 'static,
    S: RowSink + Send + 'static,
{
    let (text, args) = sql.into_parts();
    let read = tokio::task::spawn_blocking(move || {
        let mut conn = conn;
        let mut sink = sink;
        read_locked(&mut conn, &text, args, context, &mut sink).map(|()| (conn, sink))
    });
    read.await.map_err(|err| SqlError::TaskStopped {
        task: format!("{context} ({err})"),
    })?
}

/// Locks sqlx's worker thread out of `conn`'s SQLite handle and reads `sql` on it.
fn read_locked(
    conn: &mut SqliteConnection,
    sql: &str,
    args: Vec<Arg>,
    context: &'static str,
    sink: &mut impl RowSink,
) -> SqlResult<()> {
    // The worker thread gives the handle up between its commands; on this blocking thread the
    // wait is a plain block (as the worker's own re-lock is).
    let mut locked =
        futures::executor::block_on(conn.lock_handle()).map_err(SqlError::driver(context))?;
    let handle = locked.as_raw_handle().as_ptr();
    // SAFETY: `handle` is an open connection, and `locked` keeps every other user (sqlx's
    // worker thread) off it until `locked` drops, after `api`. A `Connection` made from a
    // handle it does not own never closes it; the statement `read` prepares is finalized when
    // it drops, inside `read`. Nothing else about the connection is changed.
    #[allow(unsafe_code)]
    let api =
        unsafe { rusqlite::Connection::from_handle(handle) }.map_err(SqlError::sqlite(context))?;
    let read = read(&api, sql, args, context, sink);
    drop(api);
    drop(locked);
    read
}

/// Prepares `sql`, binds `args` and pushes every row into `sink`.
fn read(
    api: &rusqlite::Connection,
    sql: &str,
    args: Vec<Arg>,
    context: &'static str,
    sink: &mut impl RowSink,
) -> SqlResult<()> {
    let mut statement = api.prepare(sql).map_err(SqlError::sqlite(context))?;
    for (index, arg) in args.into_iter().enumerate() {
        let bound = match Scalar::of(arg)? {
            Scalar::Int(v) => statement.raw_bind_parameter(index + 1, v),
            Scalar::Text(v) => statement.raw_bind_parameter(index + 1, v),
        };
        bound.map_err(SqlError::sqlite(context))?;
    }
    let width = statement.column_count();
    let mut spare: Vec<Value<'static>> = Vec::with_capacity(width);
    let mut rows = statement.raw_query();
    while let Some(row) = rows.next().map_err(SqlError::sqlite(context))? {
        let mut values = reuse(spare);
        for column in 0..width {
            values.push(
                match row.get_ref(column).map_err(SqlError::sqlite(context))? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::Int(n),
                    ValueRef::Text(bytes) => {
                        Value::Text(std::str::from_utf8(bytes).map_err(|err| {
                            SqlError::Corrupt {
                                column: "read rows",
                                reason: format!("column {column}: {err}"),
                            }
                        })?)
                    }
                    ValueRef::Real(_) | ValueRef::Blob(_) => {
                        return Err(SqlError::Corrupt {
                            column: "read rows",
                            reason: format!("column {column} is a real or a blob"),
                        });
                    }
                },
            );
        }
        sink.push_row(&values)?;
        spare = reuse(values);
    }
    Ok(())
}
