//! Rows read as one JSON text: a statement that aggregates its rows into
//! `[[col, col, …], …]` (one value to fetch instead of one driver row per row, whose
//! per-row and per-column overhead dominated large reads on SQLite), decoded here into
//! [`JsonRow`]s that the same [`ReadRow`] decoders read.
//!
//! Text cells borrow from the JSON text unless they hold an escape, so decoding a chunk
//! allocates one vector per row, not one string per column.
//!
//! [`fetch_rows`] runs a `SELECT` either way, as the dialect reads large results, and
//! [`Fetched::rows`] hands its rows to the same decoders as `&dyn ReadRow`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::dialect::{Conn, Dialect, ReadRow};
use crate::error::{SqlError, SqlResult};
use crate::sql::Sql;

/// What a read statement returned: the driver's rows, or the one JSON text they were
/// aggregated into.
pub(crate) enum Fetched<R> {
    Driver(Vec<R>),
    Json(Option<String>),
}

/// Runs the `SELECT` that `push_select` writes (its select list named `columns`), as one
/// aggregated JSON text where the dialect reads large results so
/// ([`Dialect::json_rows_open`]), else row by row. The rows come in no particular order.
///
/// # Errors
/// [`SqlError`] when the statement fails or the aggregate is not text.
pub(crate) async fn fetch_rows<D: Dialect>(
    conn: &mut Conn<D>,
    columns: &str,
    push_select: impl FnOnce(&mut Sql),
    context: &'static str,
) -> SqlResult<Fetched<D::Row>> {
    let mut sql = D::sql();
    let Some(open) = D::json_rows_open(columns) else {
        push_select(&mut sql);
        return Ok(Fetched::Driver(D::fetch_all(conn, sql, context).await?));
    };
    sql.push(&open);
    push_select(&mut sql);
    sql.push(") AS chunk");
    let rows = D::fetch_all(conn, sql, context).await?;
    let text = match rows.first() {
        Some(row) => row.opt_text(0)?,
        None => None,
    };
    Ok(Fetched::Json(text))
}

impl<R: ReadRow> Fetched<R> {
    /// The rows, decoded from the JSON text where there is one.
    ///
    /// # Errors
    /// [`SqlError::Corrupt`] when the JSON text is not rows of nulls, integers and strings.
    pub(crate) fn rows(&self) -> SqlResult<Rows<'_, R>> {
        Ok(match self {
            Self::Driver(rows) => Rows::Driver(rows),
            Self::Json(text) => Rows::Json(json_rows(text.as_deref())?),
        })
    }
}

/// The rows of a [`Fetched`], borrowed from it.
pub(crate) enum Rows<'a, R> {
    Driver(&'a [R]),
    Json(Vec<JsonRow<'a>>),
}

impl<R: ReadRow> Rows<'_, R> {
    /// How many rows there are.
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Driver(rows) => rows.len(),
            Self::Json(rows) => rows.len(),
        }
    }

    /// Every row, for the decoders.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &dyn ReadRow> {
        let (driver, json): (&[R], &[JsonRow<'_>]) = match self {
            Self::Driver(rows) => (rows, &[]),
            Self::Json(rows) => (&[], rows),
        };
        let driver = driver.iter().map(|row| row as &dyn ReadRow);
        driver.chain(json.iter().map(|row| row as &dyn ReadRow))
    }
}

/// One column of an aggregated row: what SQLite's `json_array` writes for our columns.
#[derive(Debug, PartialEq)]
enum JsonCell<'a> {
    Null,
    Int(i64),
    Text(Cow<'a, str>),
}

impl<'de> Deserialize<'de> for JsonCell<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CellVisitor;

        impl<'de> Visitor<'de> for CellVisitor {
            type Value = JsonCell<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("null, an integer or a string")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(JsonCell::Null)
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(JsonCell::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v)
                    .map(JsonCell::Int)
                    .map_err(|_| E::custom(format!("{v} is out of range")))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(JsonCell::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(JsonCell::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(JsonCell::Text(Cow::Owned(v)))
            }
        }

        deserializer.deserialize_any(CellVisitor)
    }
}

impl fmt::Display for JsonCell<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Int(n) => write!(f, "{n}"),
            Self::Text(t) => write!(f, "{t:?}"),
        }
    }
}

/// One row of an aggregated JSON text: its columns in select-list order.
#[derive(Debug)]
pub(crate) struct JsonRow<'a>(Vec<JsonCell<'a>>);

/// The rows of an aggregated JSON text (`None`, the aggregate of no rows on some engines, is
/// no rows), borrowing from it.
///
/// # Errors
/// [`SqlError::Corrupt`] when the text is not an array of arrays of nulls, integers and
/// strings.
fn json_rows(text: Option<&str>) -> SqlResult<Vec<JsonRow<'_>>> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    let rows: Vec<Vec<JsonCell<'_>>> =
        serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
    Ok(rows.into_iter().map(JsonRow).collect())
}

impl JsonRow<'_> {
    fn column(&self, index: usize) -> SqlResult<&JsonCell<'_>> {
        self.0
            .get(index)
            .ok_or_else(|| corrupt(format!("no column {index}")))
    }

    fn opt_column(&self, index: usize) -> SqlResult<Option<&JsonCell<'_>>> {
        self.column(index)
            .map(|v| (*v != JsonCell::Null).then_some(v))
    }
}

fn as_int(value: &JsonCell<'_>) -> SqlResult<i64> {
    match value {
        JsonCell::Int(n) => Ok(*n),
        other => Err(corrupt(format!("{other} is not an integer"))),
    }
}

fn as_small(value: &JsonCell<'_>) -> SqlResult<i16> {
    let int = as_int(value)?;
    i16::try_from(int).map_err(|_| corrupt(format!("{int} is not a small integer")))
}

fn as_str<'r>(value: &'r JsonCell<'_>) -> SqlResult<&'r str> {
    match value {
        JsonCell::Text(text) => Ok(text),
        other => Err(corrupt(format!("{other} is not text"))),
    }
}

impl ReadRow for JsonRow<'_> {
    fn int(&self, index: usize) -> SqlResult<i64> {
        as_int(self.column(index)?)
    }
    fn opt_int(&self, index: usize) -> SqlResult<Option<i64>> {
        self.opt_column(index)?.map(as_int).transpose()
    }
    fn small(&self, index: usize) -> SqlResult<i16> {
        as_small(self.column(index)?)
    }
    fn opt_small(&self, index: usize) -> SqlResult<Option<i16>> {
        self.opt_column(index)?.map(as_small).transpose()
    }
    fn text(&self, index: usize) -> SqlResult<String> {
        self.str(index).map(str::to_owned)
    }
    fn opt_text(&self, index: usize) -> SqlResult<Option<String>> {
        Ok(self.opt_str(index)?.map(str::to_owned))
    }
    fn str(&self, index: usize) -> SqlResult<&str> {
        as_str(self.column(index)?)
    }
    fn opt_str(&self, index: usize) -> SqlResult<Option<&str>> {
        self.opt_column(index)?.map(as_str).transpose()
    }
}

fn corrupt(reason: String) -> SqlError {
    SqlError::Corrupt {
        column: "json rows",
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_and_escaped_text_is_owned() {
        let rows = json_rows(Some(r#"[["plain", "tab\tbed"]]"#)).unwrap();
        assert!(matches!(
            rows[0].0[0],
            JsonCell::Text(Cow::Borrowed("plain"))
        ));
        assert!(matches!(&rows[0].0[1], JsonCell::Text(Cow::Owned(t)) if t == "tab\tbed"));
    }

    #[test]
    fn columns_decode_by_type_and_nulls_are_none() {
        let rows = json_rows(Some(r#"[["a\"b", 7, null, -3]]"#)).unwrap();
        let row = &rows[0];
        assert_eq!(row.text(0).unwrap(), "a\"b");
        assert_eq!(row.int(1).unwrap(), 7);
        assert_eq!(row.opt_text(2).unwrap(), None);
        assert_eq!(row.small(3).unwrap(), -3);
        assert!(row.int(0).is_err());
        assert!(row.text(9).is_err());
        assert!(json_rows(None).unwrap().is_empty());
        assert!(json_rows(Some("{}")).is_err());
        assert!(
            json_rows(Some("[[1.5]]")).is_err(),
            "no floats in our columns"
        );
        assert!(json_rows(Some("[[true]]")).is_err());
    }
}
