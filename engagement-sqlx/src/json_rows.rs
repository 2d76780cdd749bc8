//! Rows read as one JSON text: a statement that aggregates its rows into
//! `[[col, col, …], …]` (one value to fetch instead of one driver row per row, whose
//! per-row and per-column overhead dominated large reads on SQLite), decoded here into
//! [`JsonRow`]s that the same [`ReadRow`] decoders read.
//!
//! Text cells borrow from the JSON text unless they hold an escape, so decoding a chunk
//! allocates one vector per row, not one string per column.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::dialect::ReadRow;
use crate::error::{SqlError, SqlResult};

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
pub(crate) fn json_rows(text: Option<&str>) -> SqlResult<Vec<JsonRow<'_>>> {
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
