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

    /// Calls `f` with every row in turn, decoding the JSON text one row at a time into one
    /// reused row (for large reads: nothing is allocated per row).
    ///
    /// # Errors
    /// [`SqlError::Corrupt`] when the JSON text is not rows of nulls, integers and strings;
    /// the first error `f` returns.
    pub(crate) fn for_each_row(
        &self,
        mut f: impl FnMut(&dyn ReadRow) -> SqlResult<()>,
    ) -> SqlResult<()> {
        match self {
            Self::Driver(rows) => rows.iter().try_for_each(|row| f(row)),
            Self::Json(text) => {
                let mut reader = JsonRowReader::new(text.as_deref())?;
                let mut row = JsonRow::default();
                while reader.read(&mut row)? {
                    f(&row)?;
                }
                Ok(())
            }
        }
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
#[derive(Debug, Default)]
pub(crate) struct JsonRow<'a>(Vec<JsonCell<'a>>);

/// The rows of an aggregated JSON text (`None`, the aggregate of no rows on some engines, is
/// no rows), borrowing from it.
///
/// # Errors
/// As [`JsonRowReader::read`].
fn json_rows(text: Option<&str>) -> SqlResult<Vec<JsonRow<'_>>> {
    let mut reader = JsonRowReader::new(text)?;
    let mut rows = Vec::new();
    let mut row = JsonRow(Vec::new());
    while reader.read(&mut row)? {
        let width = row.0.len();
        rows.push(std::mem::replace(
            &mut row,
            JsonRow(Vec::with_capacity(width)),
        ));
    }
    Ok(rows)
}

/// Reads the rows of an aggregated JSON text one at a time, each into a row the caller reuses
/// (no allocation per row).
///
/// The text is scanned by hand rather than through `serde`'s generic visitors, which took
/// most of an export's decoding time: it is an array of arrays of nulls, integers and
/// strings, nothing else, and a string without escapes is a slice of the text.
struct JsonRowReader<'a> {
    scan: Scanner<'a>,
    more: bool,
}

impl<'a> JsonRowReader<'a> {
    /// A reader of `text` (`None` holds no rows).
    ///
    /// # Errors
    /// [`SqlError::Corrupt`] when the text does not open an array.
    fn new(text: Option<&'a str>) -> SqlResult<Self> {
        let Some(text) = text else {
            return Ok(Self {
                scan: Scanner { text: "", at: 0 },
                more: false,
            });
        };
        let mut scan = Scanner { text, at: 0 };
        scan.open()?;
        let more = !scan.close_if();
        if !more {
            scan.end()?;
        }
        Ok(Self { scan, more })
    }

    /// Reads the next row into `row`; false (and `row` untouched) after the last.
    ///
    /// # Errors
    /// [`SqlError::Corrupt`] when the text is not an array of arrays of nulls, integers and
    /// strings.
    fn read(&mut self, row: &mut JsonRow<'a>) -> SqlResult<bool> {
        if !self.more {
            return Ok(false);
        }
        let scan = &mut self.scan;
        row.0.clear();
        scan.open()?;
        if !scan.close_if() {
            loop {
                row.0.push(scan.cell()?);
                if !scan.next_or_close()? {
                    break;
                }
            }
        }
        self.more = scan.next_or_close()?;
        if !self.more {
            scan.end()?;
        }
        Ok(true)
    }
}

/// A position in a JSON text being read.
struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The next byte that is not JSON white space, if any.
    fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.bytes().get(self.at) {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(b);
            }
            self.at += 1;
        }
        None
    }

    fn fail(&self, what: &str) -> SqlError {
        corrupt(format!("{what} at byte {}", self.at))
    }

    /// Reads the `[` opening an array.
    fn open(&mut self) -> SqlResult<()> {
        if self.peek() != Some(b'[') {
            return Err(self.fail("expected an array"));
        }
        self.at += 1;
        Ok(())
    }

    /// Reads the `]` closing an empty array, if it comes next.
    fn close_if(&mut self) -> bool {
        let closes = self.peek() == Some(b']');
        if closes {
            self.at += 1;
        }
        closes
    }

    /// Reads `,` (true: another element follows) or `]` (false).
    fn next_or_close(&mut self) -> SqlResult<bool> {
        let next = match self.peek() {
            Some(b',') => true,
            Some(b']') => false,
            _ => return Err(self.fail("expected `,` or `]`")),
        };
        self.at += 1;
        Ok(next)
    }

    /// Checks that nothing but white space follows.
    fn end(&mut self) -> SqlResult<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.fail("trailing characters")),
        }
    }

    /// Reads one cell: `null`, an integer or a string.
    fn cell(&mut self) -> SqlResult<JsonCell<'a>> {
        match self.peek() {
            Some(b'"') => self.string().map(JsonCell::Text),
            Some(b'n') if self.bytes()[self.at..].starts_with(b"null") => {
                self.at += 4;
                Ok(JsonCell::Null)
            }
            Some(b'-' | b'0'..=b'9') => self.integer().map(JsonCell::Int),
            _ => Err(self.fail("expected null, an integer or a string")),
        }
    }

    fn integer(&mut self) -> SqlResult<i64> {
        let start = self.at;
        if self.bytes().get(self.at) == Some(&b'-') {
            self.at += 1;
        }
        while self.bytes().get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        if matches!(self.bytes().get(self.at), Some(b'.' | b'e' | b'E')) {
            return Err(self.fail("a number that is not an integer"));
        }
        self.text[start..self.at]
            .parse()
            .map_err(|e| corrupt(format!("integer at byte {start}: {e}")))
    }

    /// Reads a string: a slice of the text unless it holds an escape.
    fn string(&mut self) -> SqlResult<Cow<'a, str>> {
        let quote = self.at;
        let body = &self.bytes()[quote + 1..];
        let Some(end) = memchr::memchr2(b'"', b'\\', body) else {
            return Err(self.fail("unterminated string"));
        };
        if body[end] == b'"' {
            self.at = quote + 1 + end + 1;
            return Ok(Cow::Borrowed(&self.text[quote + 1..quote + 1 + end]));
        }
        // Escapes are rare (control characters, quotes and backslashes in the text): decode
        // them through serde_json, from the opening quote.
        let mut strings =
            serde_json::Deserializer::from_str(&self.text[quote..]).into_iter::<String>();
        let decoded = strings
            .next()
            .ok_or_else(|| self.fail("unterminated string"))?
            .map_err(|e| corrupt(format!("string at byte {quote}: {e}")))?;
        self.at = quote + strings.byte_offset();
        Ok(Cow::Owned(decoded))
    }
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

    #[test]
    fn white_space_empty_arrays_and_escapes() {
        let rows = json_rows(Some(
            " [ [ 1 , \"é\" ] ,\n[2,\"\\u00e9\\ud83d\\ude00\\/\\\\\"] ] ",
        ))
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert!(matches!(rows[0].0[1], JsonCell::Text(Cow::Borrowed("é"))));
        assert_eq!(rows[1].str(1).unwrap(), "é😀/\\");
        assert!(json_rows(Some("[]")).unwrap().is_empty());
        assert_eq!(json_rows(Some("[[]]")).unwrap()[0].0.len(), 0);
    }

    #[test]
    fn malformed_texts_are_corrupt() {
        for bad in [
            "",
            "[",
            "[[1,]]",
            "[[1]",
            "[[1]] x",
            "[[\"open]]",
            "[[nul]]",
            "[[-]]",
            "[[99999999999999999999]]",
            "[1]",
            "[[1]][[2]]",
            "[[\"bad \\q escape\"]]",
        ] {
            assert!(
                matches!(json_rows(Some(bad)), Err(SqlError::Corrupt { .. })),
                "{bad:?}"
            );
        }
    }

    /// A cell as serde_json would write it.
    fn arb_cell() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        prop_oneof![
            Just(serde_json::Value::Null),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<String>().prop_map(serde_json::Value::from),
            "[\"\\\\/\\x00-\\x1f a-zé😀]{0,12}".prop_map(serde_json::Value::from),
        ]
    }

    proptest::proptest! {
        /// Whatever rows of nulls, integers and strings serde_json writes (compact or
        /// pretty), the scanner reads back the same cells.
        #[test]
        fn reads_what_serde_json_writes(
            rows in proptest::collection::vec(proptest::collection::vec(arb_cell(), 0..6), 0..6),
            pretty in proptest::bool::ANY,
        ) {
            let text = if pretty {
                serde_json::to_string_pretty(&rows)
            } else {
                serde_json::to_string(&rows)
            }
            .unwrap();
            let read = json_rows(Some(&text)).unwrap();
            proptest::prop_assert_eq!(read.len(), rows.len());
            for (got, want) in read.iter().zip(&rows) {
                let got: Vec<serde_json::Value> = got
                    .0
                    .iter()
                    .map(|cell| match cell {
                        JsonCell::Null => serde_json::Value::Null,
                        JsonCell::Int(n) => serde_json::Value::from(*n),
                        JsonCell::Text(t) => serde_json::Value::from(t.as_ref()),
                    })
                    .collect();
                proptest::prop_assert_eq!(&got, want);
            }
        }
    }
}
