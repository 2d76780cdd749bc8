//! Large reads on SQLite (export chunks, a funnel's step events): the statement stepped
//! through SQLite's C API, by `rusqlite`, on the connection sqlx holds, on a blocking thread,
//! and each row's cells copied into one [`Cells`] buffer.
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
use crate::fetched::{Cells, Fetched};
use crate::sql::{Arg, Sql};

/// Runs `sql` on `conn` on a blocking thread and returns the connection with the rows' cells.
///
/// # Errors
/// [`SqlError`] when the statement fails, a value is not a null, an integer or UTF-8 text, or
/// the thread stopped before finishing; the connection is dropped with the error.
pub(super) async fn fetch_cells<C, R>(
    conn: C,
    sql: Sql,
    context: &'static str,
) -> SqlResult<(C, Fetched<R>)>
where
    C: DerefMut<Target = SqliteConnection> + Send + 'static,
{
    let (text, args) = sql.into_parts();
    let read = tokio::task::spawn_blocking(move || {
        let mut conn = conn;
        read_locked(&mut conn, &text, args, context).map(|cells| (conn, cells))
    });
    let (conn, cells) = read.await.map_err(|err| SqlError::TaskStopped {
        task: format!("{context} ({err})"),
    })??;
    Ok((conn, Fetched::Cells(cells)))
}

/// Locks sqlx's worker thread out of `conn`'s SQLite handle and reads `sql` on it.
fn read_locked(
    conn: &mut SqliteConnection,
    sql: &str,
    args: Vec<Arg>,
    context: &'static str,
) -> SqlResult<Cells> {
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
    let cells = read(&api, sql, args, context);
    drop(api);
    drop(locked);
    cells
}

/// Prepares `sql`, binds `args` and copies every row's cells.
fn read(
    api: &rusqlite::Connection,
    sql: &str,
    args: Vec<Arg>,
    context: &'static str,
) -> SqlResult<Cells> {
    let mut statement = api.prepare(sql).map_err(SqlError::sqlite(context))?;
    for (index, arg) in args.into_iter().enumerate() {
        let bound = match Scalar::of(arg)? {
            Scalar::Int(v) => statement.raw_bind_parameter(index + 1, v),
            Scalar::Text(v) => statement.raw_bind_parameter(index + 1, v),
        };
        bound.map_err(SqlError::sqlite(context))?;
    }
    let width = statement.column_count();
    let mut cells = Cells::new(width);
    let mut rows = statement.raw_query();
    while let Some(row) = rows.next().map_err(SqlError::sqlite(context))? {
        for column in 0..width {
            match row.get_ref(column).map_err(SqlError::sqlite(context))? {
                ValueRef::Null => cells.push_null(),
                ValueRef::Integer(n) => cells.push_int(n),
                ValueRef::Text(bytes) => {
                    cells.push_text(std::str::from_utf8(bytes).map_err(|err| {
                        SqlError::Corrupt {
                            column: "read rows",
                            reason: format!("column {column}: {err}"),
                        }
                    })?)?
                }
                ValueRef::Real(_) | ValueRef::Blob(_) => {
                    return Err(SqlError::Corrupt {
                        column: "read rows",
                        reason: format!("column {column} is a real or a blob"),
                    });
                }
            }
        }
    }
    Ok(cells)
}
