//! Large reads on PostgreSQL (export chunks): the statement's rows copied out in `COPY`'s
//! text format and each handed to a [`RowSink`] (an export chunk's events, decoded as they
//! arrive) instead of read as the driver's rows.
//!
//! Through sqlx every row becomes a `PgRow` (its column offsets in a vector of their own, its
//! statement's metadata shared) and every column read checks its type again; the rows of a
//! `COPY … TO STDOUT` are lines of tab-separated fields, read here in one pass, each text
//! copied once: from the message into the sink. The text format, not the binary one: the
//! server writes a text as it holds it, where the binary format builds a buffer for every
//! value (a 2.5M-row copy of the export's columns: 3.3 s in text, 4.0 s in binary), and
//! here a line costs one search for its tabs and backslashes and one UTF-8 check, not one of
//! each per field (with those, text was tried twice and cost our side what it saved the
//! server; the rows were copied in binary until 2026-12-07: docs/scaling.md).
//!
//! `COPY` takes no bound parameters, so none of the statement's values is written into its
//! text: each is bound to a setting of the copy's own transaction first
//! (`set_config('engagement.copy_arg_N', CAST(CAST($N AS <its type>) AS text), true)`, one
//! statement for all), and the `COPY`'s query reads it back with `current_setting`, cast to the
//! type PostgreSQL gave the parameter when it prepared the statement, in a scalar subquery
//! (evaluated once, and still an index bound). The prepared statement also gives the result's
//! column types, which the copied text does not carry. The transaction ends with the copy,
//! and the settings with it: a pooled connection the host's code uses next holds none of the
//! values (until 2026-12-06 they were session settings and stayed on the connection).

use std::ops::Range;

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

/// Runs `sql` as a `COPY` on `conn`, each row pushed into `sink`, and returns the
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
/// sink refuses a row, or the copied data is not what PostgreSQL's text format says.
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
        return copy_out(conn, &query, TextCopy::new(columns, sink), context).await;
    };
    // The settings end with this transaction: the connection goes back to the pool without them.
    let mut transaction = sqlx::Connection::begin(&mut *conn)
        .await
        .map_err(SqlError::driver(context))?;
    PostgresDialect::execute(&mut transaction, settings, context).await?;
    let reader = TextCopy::new(columns, sink);
    let sink = copy_out(&mut transaction, &query, reader, context).await?;
    transaction
        .commit()
        .await
        .map_err(SqlError::driver(context))?;
    Ok(sink)
}

/// The sink of `reader` with the rows of `query`, a `COPY … TO STDOUT` of the
/// reader's columns, read on `conn`.
async fn copy_out<S: RowSink>(
    conn: &mut PgConnection,
    query: &str,
    mut reader: TextCopy<S>,
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
    query.push_str(") TO STDOUT");
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

/// How a result column's text is read.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// `INT2`, `INT4` or `INT8`, in decimal.
    Int,
    Text,
}

impl Kind {
    /// # Errors
    /// [`SqlError::Corrupt`] for a type a [`Value`] does not hold.
    fn of(ty: &PgTypeInfo) -> SqlResult<Self> {
        Ok(match ty.name() {
            "INT2" | "INT4" | "INT8" => Self::Int,
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

/// Where one field of a copied row lies.
#[derive(Debug, Clone)]
enum Field {
    /// `\N`.
    Null,
    /// Bytes of the row's line, as they are.
    Plain(Range<usize>),
    /// Bytes of [`TextCopy::unescaped`]: the field held backslash escapes.
    Unescaped(Range<usize>),
}

/// Reads `COPY`'s text format as it arrives (a message may hold part of a row or several)
/// into a sink.
///
/// A row is a line of fields separated by tabs, `\N` for a null, a backslash escaping what
/// would be read otherwise. A line is checked as UTF-8 once, whole: the tabs and the line
/// end are ASCII, so they never cut a character, and each field is UTF-8 by itself.
#[derive(Debug)]
struct TextCopy<S> {
    columns: Vec<Kind>,
    sink: S,
    /// Bytes of an incomplete row, waiting for the next message.
    partial: Vec<u8>,
    /// Where the fields of the row being read lie.
    fields: Vec<Field>,
    /// The fields of the row being read that held escapes, unescaped.
    unescaped: Vec<u8>,
    /// The allocation of the row's values, between rows.
    spare: Vec<Value<'static>>,
}

impl<S: RowSink> TextCopy<S> {
    fn new(columns: Vec<Kind>, sink: S) -> Self {
        Self {
            sink,
            partial: Vec::new(),
            fields: Vec::with_capacity(columns.len()),
            unescaped: Vec::new(),
            spare: Vec::with_capacity(columns.len()),
            columns,
        }
    }

    /// Reads the whole rows of `bytes` (and of what an earlier message left incomplete).
    ///
    /// # Errors
    /// [`SqlError::Corrupt`] when a row is not `COPY`'s text format of the columns, and what
    /// the sink says of a row it refuses.
    fn feed(&mut self, bytes: &[u8]) -> SqlResult<()> {
        if self.partial.is_empty() {
            let used = self.read_rows(bytes)?;
            self.partial.extend_from_slice(&bytes[used..]);
        } else {
            let mut joined = std::mem::take(&mut self.partial);
            joined.extend_from_slice(bytes);
            let used = self.read_rows(&joined)?;
            joined.drain(..used);
            self.partial = joined;
        }
        Ok(())
    }

    /// Reads the rows that `data` holds whole; how many bytes they took.
    fn read_rows(&mut self, data: &[u8]) -> SqlResult<usize> {
        let mut at = 0;
        while let Some(length) = memchr::memchr(b'\n', &data[at..]) {
            self.read_row(&data[at..at + length])?;
            at += length + 1;
        }
        Ok(at)
    }

    /// Reads one row, its line without the line end, and pushes it into the sink.
    fn read_row(&mut self, line: &[u8]) -> SqlResult<()> {
        let line = std::str::from_utf8(line).map_err(|e| corrupt(format!("text: {e}")))?;
        self.fields.clear();
        self.unescaped.clear();
        // One pass over the line for its tabs and backslashes: a field without a backslash is
        // plain text.
        let bytes = line.as_bytes();
        let mut start = 0;
        let mut escaped = false;
        for at in memchr::memchr2_iter(b'\t', b'\\', bytes).chain([bytes.len()]) {
            if bytes.get(at) == Some(&b'\\') {
                escaped = true;
                continue;
            }
            let field = &line[start..at];
            self.fields.push(if !escaped {
                Field::Plain(start..at)
            } else if field == "\\N" {
                Field::Null
            } else {
                let from = self.unescaped.len();
                unescape(field.as_bytes(), &mut self.unescaped)?;
                Field::Unescaped(from..self.unescaped.len())
            });
            start = at + 1;
            escaped = false;
        }
        if self.fields.len() != self.columns.len() {
            return Err(corrupt(format!(
                "a row of {} values for {} columns",
                self.fields.len(),
                self.columns.len()
            )));
        }
        let mut values = reuse(std::mem::take(&mut self.spare));
        for (kind, field) in self.columns.iter().zip(&self.fields) {
            let text = match field {
                Field::Null => {
                    values.push(Value::Null);
                    continue;
                }
                Field::Plain(range) => &line[range.clone()],
                Field::Unescaped(range) => std::str::from_utf8(&self.unescaped[range.clone()])
                    .map_err(|e| corrupt(format!("text: {e}")))?,
            };
            values.push(match kind {
                Kind::Text => Value::Text(text),
                Kind::Int => Value::Int(
                    text.parse()
                        .map_err(|e| corrupt(format!("integer {text:?}: {e}")))?,
                ),
            });
        }
        self.sink.push_row(&values)?;
        self.spare = reuse(values);
        Ok(())
    }

    /// The sink, once nothing of a row is left over.
    ///
    /// # Errors
    /// [`SqlError::Corrupt`] when the data ended part-way through a row.
    fn finish(self) -> SqlResult<S> {
        if !self.partial.is_empty() {
            return Err(corrupt("the copy ended part-way through a row"));
        }
        Ok(self.sink)
    }
}

/// Appends `field` to `out` with its backslash escapes read as `COPY`'s text format writes
/// them: `\b \f \n \r \t \v`, up to three octal digits or `x` and up to two hexadecimal ones
/// for a byte, and a backslash before any other character for that character.
///
/// # Errors
/// [`SqlError::Corrupt`] for a backslash that ends the field.
fn unescape(field: &[u8], out: &mut Vec<u8>) -> SqlResult<()> {
    let mut rest = field;
    while let Some(at) = memchr::memchr(b'\\', rest) {
        out.extend_from_slice(&rest[..at]);
        let Some(&escaped) = rest.get(at + 1) else {
            return Err(corrupt("a field that ends in a lone backslash"));
        };
        rest = &rest[at + 2..];
        let (digits, radix, most) = match escaped {
            b'0'..=b'7' => (&field[field.len() - rest.len() - 1..], 8, 3),
            b'x' => (rest, 16, 2),
            other => {
                out.push(match other {
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'v' => 0x0b,
                    literal => literal,
                });
                continue;
            }
        };
        let count = digits
            .iter()
            .take(most)
            .take_while(|b| char::from(**b).is_digit(radix))
            .count();
        if count == 0 {
            // `\x` without a digit is an `x`.
            out.push(escaped);
            continue;
        }
        let byte = digits[..count].iter().fold(0_u32, |byte, digit| {
            byte * radix + char::from(*digit).to_digit(radix).unwrap_or(0)
        });
        // Three octal digits reach 511; COPY keeps the low byte.
        out.push(byte.to_le_bytes()[0]);
        let used = if radix == 8 { count - 1 } else { count };
        rest = &rest[used..];
    }
    out.extend_from_slice(rest);
    Ok(())
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

    /// Two rows of an INT8, a TEXT and an INT2 column as `COPY … TO STDOUT` writes them.
    const SAMPLE: &[u8] = "7\té😀 \\\\ \\t\\n\\r\\b\\f\\v\t-3\n\
        -9223372036854775808\t\t\\N\n"
        .as_bytes();

    fn read(messages: &[&[u8]]) -> SqlResult<Vec<(i64, String, Option<i64>)>> {
        let kinds = vec![Kind::Int, Kind::Text, Kind::Int];
        let mut reader = TextCopy::new(kinds, Cells::default());
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
        let want = vec![
            (7, "é😀 \\ \t\n\r\u{8}\u{c}\u{b}".to_owned(), Some(-3)),
            (i64::MIN, String::new(), None),
        ];
        assert_eq!(read(&[SAMPLE]).unwrap(), want);
        for cut in 1..SAMPLE.len() {
            let (a, b) = SAMPLE.split_at(cut);
            assert_eq!(read(&[a, b]).unwrap(), want, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = SAMPLE.chunks(1).collect();
        assert_eq!(read(&bytes).unwrap(), want, "a byte a message");
        assert_eq!(read(&[]).unwrap(), [], "no rows");
    }

    #[test]
    fn escapes_read_as_copy_writes_and_reads_them() {
        let unescaped = |field: &str| {
            let mut out = Vec::new();
            unescape(field.as_bytes(), &mut out).map(|()| out)
        };
        assert_eq!(unescaped("a\\\\b\\tc").unwrap(), b"a\\b\tc");
        assert_eq!(
            unescaped("\\N").unwrap(),
            b"N",
            "a null only as a whole field"
        );
        assert_eq!(unescaped("\\101\\x41\\7\\0").unwrap(), b"AA\x07\0");
        assert_eq!(
            unescaped("\\1012").unwrap(),
            b"A2",
            "three octal digits at most"
        );
        assert_eq!(
            unescaped("\\x414").unwrap(),
            b"A4",
            "two hexadecimal digits at most"
        );
        assert_eq!(unescaped("\\xg\\q\\.").unwrap(), b"xgq.");
        assert_eq!(unescaped("\\777").unwrap(), [0xff], "the low byte");
        assert!(matches!(unescaped("a\\"), Err(SqlError::Corrupt { .. })));
        let null_text = read(&[b"1\t\\\\N\t\\N\n"]).unwrap();
        assert_eq!(null_text, [(1, "\\N".to_owned(), None)]);
    }

    #[test]
    fn data_that_is_not_the_format_is_corrupt() {
        let corrupt = |data: &[u8]| matches!(read(&[data]), Err(SqlError::Corrupt { .. }));
        assert!(corrupt(&SAMPLE[..SAMPLE.len() - 1]), "no line end");
        assert!(
            corrupt(b"1\ta\n2\tb\t3\t4\n"),
            "a row of two values for three columns"
        );
        assert!(corrupt(b"1\ta\t2\t3\n"), "a row of four values");
        assert!(corrupt(b"x\ta\t1\n"), "text in an integer column");
        assert!(
            corrupt(b"99999999999999999999\ta\t1\n"),
            "an integer past 64 bits"
        );
        assert!(corrupt(b"1\t\xff\t1\n"), "text that is not UTF-8");
        assert!(
            corrupt(b"1\t\\xff\t1\n"),
            "an escaped byte that is not UTF-8"
        );
        assert!(corrupt(b"1\ta\\\t1\n"), "a lone backslash");
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
             CAST(current_setting('engagement.copy_arg_4') AS INT8)) AS INT8)) TO STDOUT"
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
