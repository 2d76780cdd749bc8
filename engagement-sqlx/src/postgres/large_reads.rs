//! Large reads on PostgreSQL (export chunks): the statement's rows copied out in `COPY`'s
//! binary format and each handed to a [`RowSink`] (an export chunk's events, decoded as they
//! arrive) instead of read as the driver's rows.
//!
//! Through sqlx every row becomes a `PgRow` (its column offsets in a vector of their own, its
//! statement's metadata shared) and every column read checks its type again; the rows of a
//! `COPY … TO STDOUT (FORMAT binary)` are plain length-prefixed values, read here in one pass,
//! each text copied once: from the message into the sink.
//!
//! `COPY` takes no bound parameters, so none of the statement's values is written into its
//! text: each is bound to a setting of the copy's own transaction first
//! (`set_config('engagement.copy_arg_N', CAST(CAST($N AS <its type>) AS text), true)`, one
//! statement for all), and the `COPY`'s query reads it back with `current_setting`, cast to the
//! type PostgreSQL gave the parameter when it prepared the statement, in a scalar subquery
//! (evaluated once, and still an index bound). The prepared statement also gives the result's
//! column types, which the binary format does not carry. The transaction ends with the copy,
//! and the settings with it: a pooled connection the host's code uses next holds none of the
//! values (until 2026-12-06 they were session settings and stayed on the connection).

use futures::TryStreamExt;
use sqlx::Postgres;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgTypeInfo};
use sqlx::{Column, Either, Executor, SqlSafeStr, Statement, TypeInfo};
use tracing::Instrument;

use super::PostgresDialect;
use crate::dialect::Dialect;
use crate::error::{SqlError, SqlResult};
use crate::fetched::{RowSink, Value, reuse};
use crate::sql::{Arg, Placeholder, Sql};

/// The prefix of the settings that carry a copied statement's arguments.
const ARG_SETTING: &str = "engagement.copy_arg_";

/// Runs `sql` as a binary `COPY` on `conn`, each row pushed into `sink`, and returns the
/// connection with the sink.
///
/// The copy runs in a task of its own (in the caller's span) that owns the connection, so that
/// it is read to its end even when the caller stops waiting, and a connection on which
/// anything failed is closed instead of pooled: sqlx does not resynchronize a connection whose
/// copy failed at its start or was left part-way (the copy's `ReadyForQuery` is not counted as
/// pending).
///
/// # Errors
/// [`SqlError`] when a statement fails, a column is of a type a [`Value`] does not hold, the
/// sink refuses a row, or the copied data is not what PostgreSQL's binary format says.
pub(super) async fn fetch_copied<S: RowSink + Send + 'static>(
    conn: PoolConnection<Postgres>,
    sql: Sql,
    context: &'static str,
    sink: S,
) -> SqlResult<(PoolConnection<Postgres>, S)> {
    let copy = tokio::spawn(
        async move {
            let mut conn = conn;
            match copy_rows(&mut conn, sql, context, sink).await {
                Ok(sink) => Ok((conn, sink)),
                Err(err) => {
                    conn.close_on_drop();
                    Err(err)
                }
            }
        }
        .in_current_span(),
    );
    copy.await.map_err(|err| SqlError::TaskStopped {
        task: format!("{context} ({err})"),
    })?
}

/// `sink` with the rows of `sql`, copied out on `conn`, pushed into it.
async fn copy_rows<S: RowSink>(
    conn: &mut PgConnection,
    sql: Sql,
    context: &'static str,
    sink: S,
) -> SqlResult<S> {
    let (text, args) = sql.into_parts();
    let statement = conn
        .prepare(sqlx::AssertSqlSafe(text.clone()).into_sql_str())
        .await
        .map_err(SqlError::driver(context))?;
    let columns = statement
        .columns()
        .iter()
        .map(|column| Kind::of(column.type_info()))
        .collect::<SqlResult<Vec<_>>>()?;
    let parameters = match statement.parameters() {
        Some(Either::Left(types)) => types.iter().map(|t| t.name().to_owned()).collect(),
        _ => Vec::new(),
    };
    let (settings, query) = copy_statements(&text, args, &parameters)?;
    let Some(settings) = settings else {
        return copy_out(conn, &query, BinaryCopy::new(columns, sink), context).await;
    };
    // The settings end with this transaction: the connection goes back to the pool without them.
    let mut transaction = sqlx::Connection::begin(&mut *conn)
        .await
        .map_err(SqlError::driver(context))?;
    PostgresDialect::execute(&mut transaction, settings, context).await?;
    let reader = BinaryCopy::new(columns, sink);
    let sink = copy_out(&mut transaction, &query, reader, context).await?;
    transaction
        .commit()
        .await
        .map_err(SqlError::driver(context))?;
    Ok(sink)
}

/// The sink of `reader` with the rows of `query`, a `COPY … TO STDOUT (FORMAT binary)` of the
/// reader's columns, read on `conn`.
async fn copy_out<S: RowSink>(
    conn: &mut PgConnection,
    query: &str,
    mut reader: BinaryCopy<S>,
    context: &'static str,
) -> SqlResult<S> {
    let mut copied = conn
        .copy_out_raw(query)
        .await
        .map_err(SqlError::driver(context))?;
    while let Some(bytes) = copied.try_next().await.map_err(SqlError::driver(context))? {
        reader.feed(&bytes)?;
    }
    reader.finish()
}

/// The statement binding `args` to settings of the copy's transaction (none without arguments) and the `COPY`
/// of `text` reading them back, each `$N` replaced by `CAST((SELECT CAST(current_setting(…)
/// AS T)) AS T)`, `T` the type of `$N` (a null argument by `CAST(NULL AS T)`).
///
/// # Errors
/// [`SqlError::Encode`] when `text` refers to a parameter PostgreSQL gave no type.
fn copy_statements(
    text: &str,
    args: Vec<Arg>,
    parameters: &[String],
) -> SqlResult<(Option<Sql>, String)> {
    let mut settings = Sql::new(Placeholder::Dollar);
    let mut bound = 0;
    let mut is_null = Vec::with_capacity(args.len());
    for (index, arg) in args.into_iter().enumerate() {
        let null = matches!(arg, Arg::OptInt(None) | Arg::OptText(None));
        is_null.push(null);
        if null {
            continue;
        }
        // The type is written into the text: a cached statement of the same text is then
        // bound with the same types.
        let ty = sql_type(&arg);
        settings
            .push(if bound == 0 { "SELECT " } else { ", " })
            .push("set_config('")
            .push(ARG_SETTING)
            .push(&(index + 1).to_string())
            .push("', CAST(CAST(")
            .bind(arg)
            .push(" AS ")
            .push(ty)
            .push(") AS text), true)");
        bound += 1;
    }
    let mut query = String::with_capacity(text.len() + 64 * is_null.len() + 40);
    query.push_str("COPY (");
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        query.push_str(&rest[..dollar]);
        let digits = rest[dollar + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        let number = &rest[dollar + 1..dollar + 1 + digits];
        let index = number.parse::<usize>().ok().and_then(|n| n.checked_sub(1));
        let (Some(index), true) = (index, digits > 0) else {
            // Not a placeholder (our statements have none, but keep whatever it is).
            query.push('$');
            rest = &rest[dollar + 1..];
            continue;
        };
        let ty = parameters.get(index).ok_or_else(|| {
            SqlError::Encode(format!("parameter ${number} has no type to copy with").into())
        })?;
        query.push_str("CAST(");
        if is_null.get(index).copied().unwrap_or(false) {
            query.push_str("NULL");
        } else {
            // A scalar subquery: evaluated once per statement (an init plan), where a bare
            // `current_setting` in a filter the index does not take ran for every row. The
            // outer cast keeps `ANY(…)` from reading it as `ANY (subquery)`.
            query.push_str("(SELECT CAST(current_setting('");
            query.push_str(ARG_SETTING);
            query.push_str(number);
            query.push_str("') AS ");
            query.push_str(ty);
            query.push_str("))");
        }
        query.push_str(" AS ");
        query.push_str(ty);
        query.push(')');
        rest = &rest[dollar + 1 + digits..];
    }
    query.push_str(rest);
    query.push_str(") TO STDOUT (FORMAT binary)");
    Ok(((bound > 0).then_some(settings), query))
}

/// The PostgreSQL type `arg` is bound as.
fn sql_type(arg: &Arg) -> &'static str {
    match arg {
        Arg::Int(_) | Arg::OptInt(_) => "INT8",
        Arg::Text(_) | Arg::OptText(_) => "TEXT",
        Arg::Ints(_) | Arg::OptInts(_) => "INT8[]",
        Arg::Texts(_) | Arg::OptTexts(_) => "TEXT[]",
    }
}

/// How a result column's binary values are read.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Int2,
    Int4,
    Int8,
    Text,
}

impl Kind {
    /// # Errors
    /// [`SqlError::Corrupt`] for a type a [`Value`] does not hold.
    fn of(ty: &PgTypeInfo) -> SqlResult<Self> {
        Ok(match ty.name() {
            "INT2" => Self::Int2,
            "INT4" => Self::Int4,
            "INT8" => Self::Int8,
            "TEXT" | "VARCHAR" => Self::Text,
            other => {
                return Err(SqlError::Corrupt {
                    column: "copied rows",
                    reason: format!("a column of type {other}"),
                });
            }
        })
    }
}

/// The signature that opens `COPY`'s binary format.
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// Reads `COPY`'s binary format as it arrives (a message may hold part of a row or several)
/// into a sink.
#[derive(Debug)]
struct BinaryCopy<S> {
    columns: Vec<Kind>,
    sink: S,
    header_read: bool,
    ended: bool,
    /// Bytes of an incomplete header or row, waiting for the next message.
    partial: Vec<u8>,
    /// The allocation of the row's values, between rows.
    spare: Vec<Value<'static>>,
}

impl<S: RowSink> BinaryCopy<S> {
    fn new(columns: Vec<Kind>, sink: S) -> Self {
        Self {
            sink,
            spare: Vec::with_capacity(columns.len()),
            columns,
            header_read: false,
            ended: false,
            partial: Vec::new(),
        }
    }

    /// Reads the whole rows of `bytes` (and of what an earlier message left incomplete).
    ///
    /// # Errors
    /// [`SqlError::Corrupt`] when the data is not `COPY`'s binary format of the columns.
    fn feed(&mut self, bytes: &[u8]) -> SqlResult<()> {
        if self.partial.is_empty() {
            let used = self.read_units(bytes)?;
            self.partial.extend_from_slice(&bytes[used..]);
        } else {
            let mut joined = std::mem::take(&mut self.partial);
            joined.extend_from_slice(bytes);
            let used = self.read_units(&joined)?;
            joined.drain(..used);
            self.partial = joined;
        }
        Ok(())
    }

    /// Reads the header, rows and trailer that `data` holds whole; how many bytes they took.
    fn read_units(&mut self, data: &[u8]) -> SqlResult<usize> {
        let mut at = 0;
        loop {
            let used = if !self.header_read {
                self.read_header(&data[at..])?
            } else if self.ended {
                return Err(corrupt("data after the end of the copy"));
            } else {
                self.read_row(&data[at..])?
            };
            match used {
                Some(used) => at += used,
                None => return Ok(at),
            }
            if at == data.len() {
                return Ok(at);
            }
        }
    }

    /// The header's length if `data` holds all of it.
    fn read_header(&mut self, data: &[u8]) -> SqlResult<Option<usize>> {
        let fixed = SIGNATURE.len() + 8;
        if data.len() < fixed {
            return Ok(None);
        }
        if !data.starts_with(SIGNATURE) {
            return Err(corrupt("not COPY's binary format"));
        }
        let extension = i32_at(data, SIGNATURE.len() + 4);
        let extension = usize::try_from(extension).map_err(|_| corrupt("header extension"))?;
        if data.len() < fixed + extension {
            return Ok(None);
        }
        self.header_read = true;
        Ok(Some(fixed + extension))
    }

    /// The row's (or the trailer's) length if `data` holds all of it; it is pushed into the
    /// sink only then.
    fn read_row(&mut self, data: &[u8]) -> SqlResult<Option<usize>> {
        if data.len() < 2 {
            return Ok(None);
        }
        let fields = i16::from_be_bytes([data[0], data[1]]);
        if fields == -1 {
            self.ended = true;
            return Ok(Some(2));
        }
        if usize::try_from(fields).ok() != Some(self.columns.len()) {
            return Err(corrupt(format!(
                "a row of {fields} values for {} columns",
                self.columns.len()
            )));
        }
        let mut values = reuse(std::mem::take(&mut self.spare));
        let mut at = 2;
        for kind in &self.columns {
            if data.len() < at + 4 {
                return Ok(None);
            }
            let length = i32_at(data, at);
            at += 4;
            if length == -1 {
                values.push(Value::Null);
                continue;
            }
            let length = usize::try_from(length).map_err(|_| corrupt("a value's length"))?;
            let Some(bytes) = data.get(at..at + length) else {
                return Ok(None);
            };
            at += length;
            values.push(match kind {
                Kind::Text => Value::Text(
                    std::str::from_utf8(bytes).map_err(|e| corrupt(format!("text: {e}")))?,
                ),
                Kind::Int2 => Value::Int(i16::from_be_bytes(fixed(bytes)?).into()),
                Kind::Int4 => Value::Int(i32::from_be_bytes(fixed(bytes)?).into()),
                Kind::Int8 => Value::Int(i64::from_be_bytes(fixed(bytes)?)),
            });
        }
        self.sink.push_row(&values)?;
        self.spare = reuse(values);
        Ok(Some(at))
    }

    /// The sink, once the copy's trailer was read and nothing is left over.
    ///
    /// # Errors
    /// [`SqlError::Corrupt`] when the data ended early.
    fn finish(self) -> SqlResult<S> {
        if !self.ended || !self.partial.is_empty() {
            return Err(corrupt("the copy ended part-way"));
        }
        Ok(self.sink)
    }
}

fn i32_at(data: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

/// An integer's big-endian bytes, which must be exactly its size.
fn fixed<const N: usize>(bytes: &[u8]) -> SqlResult<[u8; N]> {
    bytes
        .try_into()
        .map_err(|_| corrupt(format!("an integer of {} bytes, not {N}", bytes.len())))
}

fn corrupt(reason: impl Into<String>) -> SqlError {
    SqlError::Corrupt {
        column: "copied rows",
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::ReadRow;
    use crate::fetched::{Cells, Fetched};
    use sqlx::postgres::PgRow;

    /// COPY's binary format of `rows` (each value `None` for a null, else its bytes).
    fn encoded(rows: &[Vec<Option<Vec<u8>>>]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend_from_slice(&0_i32.to_be_bytes());
        out.extend_from_slice(&4_i32.to_be_bytes());
        out.extend_from_slice(b"ext!");
        for row in rows {
            out.extend_from_slice(&i16::try_from(row.len()).unwrap().to_be_bytes());
            for value in row {
                match value {
                    None => out.extend_from_slice(&(-1_i32).to_be_bytes()),
                    Some(bytes) => {
                        out.extend_from_slice(&i32::try_from(bytes.len()).unwrap().to_be_bytes());
                        out.extend_from_slice(bytes);
                    }
                }
            }
        }
        out.extend_from_slice(&(-1_i16).to_be_bytes());
        out
    }

    fn sample() -> Vec<u8> {
        encoded(&[
            vec![
                Some(7_i64.to_be_bytes().to_vec()),
                Some("é😀".as_bytes().to_vec()),
                Some((-3_i16).to_be_bytes().to_vec()),
            ],
            vec![
                Some(i64::MIN.to_be_bytes().to_vec()),
                Some(Vec::new()),
                None,
            ],
        ])
    }

    fn read(messages: &[&[u8]]) -> SqlResult<Vec<(i64, String, Option<i64>)>> {
        let kinds = vec![Kind::Int8, Kind::Text, Kind::Int2];
        let mut reader = BinaryCopy::new(kinds, Cells::default());
        for message in messages {
            reader.feed(message)?;
        }
        let fetched = Fetched::<PgRow>::Cells(reader.finish()?);
        fetched
            .rows()
            .iter()
            .map(|row| Ok((row.int(0)?, row.text(1)?, row.opt_int(2)?)))
            .collect()
    }

    #[test]
    fn rows_read_the_same_however_the_data_is_cut() {
        let data = sample();
        let want = vec![
            (7, "é😀".to_owned(), Some(-3)),
            (i64::MIN, String::new(), None),
        ];
        assert_eq!(read(&[&data]).unwrap(), want);
        for cut in 1..data.len() {
            let (a, b) = data.split_at(cut);
            assert_eq!(read(&[a, b]).unwrap(), want, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = data.chunks(1).collect();
        assert_eq!(read(&bytes).unwrap(), want, "a byte a message");
    }

    #[test]
    fn data_that_is_not_the_format_is_corrupt() {
        let data = sample();
        let corrupt = |r: SqlResult<_>| matches!(r, Err(SqlError::Corrupt { .. }));
        assert!(corrupt(read(&[&data[..data.len() - 1]])), "no trailer");
        assert!(corrupt(read(&[&data[1..]])), "no signature");
        let mut extra = data.clone();
        extra.push(0);
        assert!(corrupt(read(&[&extra])), "data after the trailer");
        let wide = encoded(&[vec![None, None]]);
        assert!(
            corrupt(read(&[&wide])),
            "a row of two values for three columns"
        );
        let short_int = encoded(&[vec![Some(vec![1, 2]), Some(Vec::new()), None]]);
        assert!(corrupt(read(&[&short_int])), "an INT8 of two bytes");
        let bad_text = encoded(&[vec![Some(vec![0; 8]), Some(vec![0xff]), None]]);
        assert!(corrupt(read(&[&bad_text])), "text that is not UTF-8");
    }

    #[test]
    fn arguments_become_settings_read_back_with_their_types() {
        let mut sql = Sql::new(Placeholder::Dollar);
        sql.push("SELECT a FROM t WHERE w = ")
            .bind("it's")
            .push(" AND n = ANY(")
            .bind(Arg::Ints(vec![1, 2]))
            .push(") AND x IS NOT DISTINCT FROM ")
            .bind(Arg::OptInt(None))
            .push(" LIMIT ")
            .bind(10_i64);
        let (text, args) = sql.into_parts();
        let types = ["TEXT", "INT8[]", "INT8", "INT8"].map(str::to_owned);
        let (settings, query) = copy_statements(&text, args, &types).unwrap();
        assert_eq!(
            query,
            "COPY (SELECT a FROM t WHERE w = CAST((SELECT \
             CAST(current_setting('engagement.copy_arg_1') AS TEXT)) AS TEXT) AND n = \
             ANY(CAST((SELECT CAST(current_setting('engagement.copy_arg_2') AS INT8[])) AS \
             INT8[])) AND x IS NOT DISTINCT FROM CAST(NULL AS INT8) LIMIT CAST((SELECT \
             CAST(current_setting('engagement.copy_arg_4') AS INT8)) AS INT8)) TO STDOUT \
             (FORMAT binary)"
        );
        let (settings, bound) = settings.unwrap().into_parts();
        assert_eq!(
            settings,
            "SELECT set_config('engagement.copy_arg_1', CAST(CAST($1 AS TEXT) AS text), true), \
             set_config('engagement.copy_arg_2', CAST(CAST($2 AS INT8[]) AS text), true), \
             set_config('engagement.copy_arg_4', CAST(CAST($3 AS INT8) AS text), true)"
        );
        assert_eq!(bound.len(), 3, "the null is written, not bound");
        assert!(copy_statements("SELECT $2", Vec::new(), &[]).is_err());
    }
}
