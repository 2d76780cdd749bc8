//! Rows read as one JSON text: a statement that aggregates its rows into
//! `[[col, col, …], …]` (one value to fetch instead of one driver row per row, whose
//! per-row and per-column overhead dominated large reads on SQLite), decoded here into
//! [`JsonRow`]s that the same [`ReadRow`] decoders read.

use serde_json::Value;

use crate::dialect::ReadRow;
use crate::error::{SqlError, SqlResult};

/// One row of an aggregated JSON text: its columns in select-list order.
#[derive(Debug)]
pub(crate) struct JsonRow(Vec<Value>);

/// The rows of an aggregated JSON text (`None`, the aggregate of no rows on some engines, is
/// no rows).
///
/// # Errors
/// [`SqlError::Corrupt`] when the text is not an array of arrays.
pub(crate) fn json_rows(text: Option<&str>) -> SqlResult<Vec<JsonRow>> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    let rows: Vec<Vec<Value>> = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
    Ok(rows.into_iter().map(JsonRow).collect())
}

impl JsonRow {
    fn column(&self, index: usize) -> SqlResult<&Value> {
        self.0
            .get(index)
            .ok_or_else(|| corrupt(format!("no column {index}")))
    }

    fn opt_column(&self, index: usize) -> SqlResult<Option<&Value>> {
        self.column(index).map(|v| (!v.is_null()).then_some(v))
    }
}

fn as_int(value: &Value) -> SqlResult<i64> {
    value
        .as_i64()
        .ok_or_else(|| corrupt(format!("{value} is not an integer")))
}

fn as_small(value: &Value) -> SqlResult<i16> {
    let int = as_int(value)?;
    i16::try_from(int).map_err(|_| corrupt(format!("{int} is not a small integer")))
}

fn as_str(value: &Value) -> SqlResult<&str> {
    value
        .as_str()
        .ok_or_else(|| corrupt(format!("{value} is not text")))
}

impl ReadRow for JsonRow {
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
    }
}
