//! What a large read returned: the driver's rows, or [`Cells`] copied out of a statement that
//! the store read itself (SQLite steps a funnel's reads through its C API: see
//! [`Dialect::fetch_rows`]), read through the same [`ReadRow`] decoders either way.
//!
//! A store that reads a statement itself (SQLite stepping it, PostgreSQL copying it out) hands
//! each row to a [`RowSink`] as [`Value`]s borrowed from the database's buffer: [`Cells`] keep
//! them for the decoders, and an export chunk's [`EventBatch`](engagement_core::EventBatch)
//! decodes them into its events at once, copying each text once ([`Dialect::fetch_events`]).
//!
//! [`Dialect::fetch_rows`]: crate::dialect::Dialect::fetch_rows
//! [`Dialect::fetch_events`]: crate::dialect::Dialect::fetch_events

use crate::dialect::ReadRow;
use crate::error::{SqlError, SqlResult};

/// The rows of a read statement, in the statement's order.
pub(crate) enum Fetched<R> {
    /// The driver's rows.
    Driver(Vec<R>),
    /// The rows' cells, copied into one buffer.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    Cells(Cells),
}

impl<R: ReadRow> Fetched<R> {
    /// The rows, borrowed.
    pub(crate) fn rows(&self) -> Rows<'_, R> {
        match self {
            Self::Driver(rows) => Rows::Driver(rows),
            Self::Cells(cells) => Rows::Cells(cells),
        }
    }
}

/// The rows of a [`Fetched`], borrowed from it.
pub(crate) enum Rows<'a, R> {
    Driver(&'a [R]),
    Cells(&'a Cells),
}

impl<R: ReadRow> Rows<'_, R> {
    /// How many rows there are.
    #[cfg(all(test, feature = "sqlite"))]
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Driver(rows) => rows.len(),
            Self::Cells(cells) => cells.cells.len() / cells.width.max(1),
        }
    }

    /// Every row, in the statement's order, for the decoders.
    pub(crate) fn iter(&self) -> impl Iterator<Item = FetchedRow<'_, R>> {
        let (driver, cells, text, width): (&[R], &[Cell], &str, usize) = match self {
            Self::Driver(rows) => (rows, &[], "", 1),
            Self::Cells(cells) => (&[], &cells.cells, &cells.text, cells.width.max(1)),
        };
        let driver = driver.iter().map(FetchedRow::Driver);
        let cells = cells
            .chunks_exact(width)
            .map(move |cells| FetchedRow::Cells(ValueRow(CellRow { cells, text })));
        driver.chain(cells)
    }
}

/// One row of [`Rows`].
pub(crate) enum FetchedRow<'r, R> {
    Driver(&'r R),
    Cells(ValueRow<CellRow<'r>>),
}

impl<R: ReadRow> ReadRow for FetchedRow<'_, R> {
    fn int(&self, index: usize) -> SqlResult<i64> {
        self.row().int(index)
    }
    fn opt_int(&self, index: usize) -> SqlResult<Option<i64>> {
        self.row().opt_int(index)
    }
    fn small(&self, index: usize) -> SqlResult<i16> {
        self.row().small(index)
    }
    fn opt_small(&self, index: usize) -> SqlResult<Option<i16>> {
        self.row().opt_small(index)
    }
    fn text(&self, index: usize) -> SqlResult<String> {
        self.row().text(index)
    }
    fn str(&self, index: usize) -> SqlResult<&str> {
        self.row().str(index)
    }
    fn opt_str(&self, index: usize) -> SqlResult<Option<&str>> {
        self.row().opt_str(index)
    }
}

impl<R: ReadRow> FetchedRow<'_, R> {
    fn row(&self) -> &dyn ReadRow {
        match self {
            Self::Driver(row) => *row,
            Self::Cells(row) => row,
        }
    }
}

/// One value of a row, as a store that reads a statement itself gets it from the database.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Int(i64),
    Text(&'a str),
}

/// An empty vector of values in `spare`'s allocation, for the next row: a row's values borrow
/// the database's buffer only until the next row is read, so the vector that held them cannot
/// be kept as it is, but its allocation can (collecting a vector's `map` into one of the same
/// layout reuses it).
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn reuse<'a>(mut spare: Vec<Value<'_>>) -> Vec<Value<'a>> {
    spare.clear();
    spare.into_iter().map(|_| Value::Null).collect()
}

/// What a store that reads a statement itself fills, one row at a time.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) trait RowSink {
    /// Takes the row whose column `i` is `values[i]`.
    ///
    /// # Errors
    /// [`SqlError`] when the row is not what the sink holds.
    fn push_row(&mut self, values: &[Value<'_>]) -> SqlResult<()>;
}

/// A row's values by column: the values a reader hands a [`RowSink`], or a row of [`Cells`].
pub(crate) trait Columns {
    /// Column `index`, if the row has it.
    fn value(&self, index: usize) -> Option<Value<'_>>;
}

impl Columns for &[Value<'_>] {
    fn value(&self, index: usize) -> Option<Value<'_>> {
        self.get(index).copied()
    }
}

/// A row of [`Columns`], read through [`ReadRow`].
pub(crate) struct ValueRow<C>(pub(crate) C);

impl<C: Columns> ValueRow<C> {
    fn value(&self, index: usize) -> SqlResult<Value<'_>> {
        self.0
            .value(index)
            .ok_or_else(|| corrupt(format!("no column {index}")))
    }

    fn opt_value(&self, index: usize) -> SqlResult<Option<Value<'_>>> {
        self.value(index).map(|v| (v != Value::Null).then_some(v))
    }
}

impl<C: Columns> ReadRow for ValueRow<C> {
    fn int(&self, index: usize) -> SqlResult<i64> {
        as_int(self.value(index)?)
    }
    fn opt_int(&self, index: usize) -> SqlResult<Option<i64>> {
        self.opt_value(index)?.map(as_int).transpose()
    }
    fn small(&self, index: usize) -> SqlResult<i16> {
        as_small(self.value(index)?)
    }
    fn opt_small(&self, index: usize) -> SqlResult<Option<i16>> {
        self.opt_value(index)?.map(as_small).transpose()
    }
    fn text(&self, index: usize) -> SqlResult<String> {
        self.str(index).map(str::to_owned)
    }
    fn str(&self, index: usize) -> SqlResult<&str> {
        as_str(self.value(index)?)
    }
    fn opt_str(&self, index: usize) -> SqlResult<Option<&str>> {
        self.opt_value(index)?.map(as_str).transpose()
    }
}

fn as_int(value: Value<'_>) -> SqlResult<i64> {
    match value {
        Value::Int(n) => Ok(n),
        other => Err(corrupt(format!("{other:?} is not an integer"))),
    }
}

fn as_small(value: Value<'_>) -> SqlResult<i16> {
    let int = as_int(value)?;
    i16::try_from(int).map_err(|_| corrupt(format!("{int} is not a small integer")))
}

fn as_str(value: Value<'_>) -> SqlResult<&str> {
    match value {
        Value::Text(text) => Ok(text),
        other => Err(corrupt(format!("{other:?} is not text"))),
    }
}

/// Rows of a fixed number of columns, each cell a null, an integer or a range of one text
/// buffer: a large read costs two allocations, not one per row or per text.
#[derive(Debug, Default)]
pub(crate) struct Cells {
    /// Columns a row, set by the first row.
    width: usize,
    cells: Vec<Cell>,
    text: String,
}

/// One column of one row.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
enum Cell {
    Null,
    Int(i64),
    /// `text[start..end]`.
    Text {
        start: u32,
        end: u32,
    },
}

/// One row of [`Cells`].
pub(crate) struct CellRow<'a> {
    cells: &'a [Cell],
    text: &'a str,
}

impl Columns for CellRow<'_> {
    fn value(&self, index: usize) -> Option<Value<'_>> {
        Some(match *self.cells.get(index)? {
            Cell::Null => Value::Null,
            Cell::Int(n) => Value::Int(n),
            // Ranges of whole texts pushed by `push_row`: on character boundaries.
            Cell::Text { start, end } => Value::Text(&self.text[start as usize..end as usize]),
        })
    }
}

impl Cells {
    /// Appends `text` to the row being written.
    ///
    /// # Errors
    /// [`SqlError::TooLarge`] once the read's text passes 4 GiB (a read that large is cut
    /// into smaller statements by its caller: a funnel's customer lists).
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    fn push_text(&mut self, value: &str) -> SqlResult<()> {
        let start = self.text.len();
        let end = start + value.len();
        let (Ok(start), Ok(end)) = (u32::try_from(start), u32::try_from(end)) else {
            return Err(SqlError::TooLarge {
                what: "one statement's text",
                limit: u32::MAX.into(),
            });
        };
        self.text.push_str(value);
        self.cells.push(Cell::Text { start, end });
        Ok(())
    }
}

impl RowSink for Cells {
    /// # Errors
    /// [`SqlError::Corrupt`] for a row of another width than the first;
    /// [`SqlError::TooLarge`] once the read's text passes 4 GiB (a read that large is cut
    /// into smaller statements by its caller: a funnel's customer lists).
    fn push_row(&mut self, values: &[Value<'_>]) -> SqlResult<()> {
        if self.cells.is_empty() {
            self.width = values.len();
        } else if values.len() != self.width {
            return Err(corrupt(format!(
                "a row of {} values after rows of {}",
                values.len(),
                self.width
            )));
        }
        for value in values {
            match *value {
                Value::Null => self.cells.push(Cell::Null),
                Value::Int(n) => self.cells.push(Cell::Int(n)),
                Value::Text(text) => self.push_text(text)?,
            }
        }
        Ok(())
    }
}

fn corrupt(reason: String) -> SqlError {
    SqlError::Corrupt {
        column: "read rows",
        reason,
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;
    use sqlx::sqlite::SqliteRow;

    /// The rows of `cells`, each column as the decoders read it: an integer, a text or none.
    fn read_back(cells: Cells) -> Vec<Vec<(Option<i64>, Option<String>)>> {
        let fetched = Fetched::<SqliteRow>::Cells(cells);
        let rows = fetched.rows();
        let read: Vec<Vec<_>> = rows
            .iter()
            .map(|row| {
                (0..3)
                    .map(|i| {
                        (
                            row.opt_int(i).ok().flatten(),
                            row.opt_str(i).ok().flatten().map(str::to_owned),
                        )
                    })
                    .collect()
            })
            .collect();
        assert_eq!(rows.len(), read.len());
        read
    }

    #[test]
    fn cells_read_back_row_by_row_in_order() {
        let mut cells = Cells::default();
        cells
            .push_row(&[Value::Int(7), Value::Text("é😀"), Value::Null])
            .unwrap();
        cells
            .push_row(&[Value::Int(-3), Value::Text(""), Value::Text("tab\tbed")])
            .unwrap();
        assert_eq!(
            read_back(cells),
            [
                vec![(Some(7), None), (None, Some("é😀".into())), (None, None)],
                vec![
                    (Some(-3), None),
                    (None, Some(String::new())),
                    (None, Some("tab\tbed".into()))
                ],
            ]
        );
    }

    #[test]
    fn a_row_buffer_keeps_its_allocation() {
        let spare: Vec<Value<'static>> = Vec::with_capacity(17);
        let allocation = spare.as_ptr().addr();
        let text = String::from("borrowed for one row");
        let mut values = reuse(spare);
        values.push(Value::Text(&text));
        let spare: Vec<Value<'static>> = reuse(values);
        assert!(spare.is_empty());
        assert_eq!(spare.capacity(), 17);
        assert_eq!(spare.as_ptr().addr(), allocation);
    }

    #[test]
    fn a_row_of_another_width_is_corrupt() {
        let mut cells = Cells::default();
        cells.push_row(&[Value::Int(1), Value::Null]).unwrap();
        assert!(matches!(
            cells.push_row(&[Value::Int(2)]),
            Err(SqlError::Corrupt { .. })
        ));
    }

    #[test]
    fn a_cell_of_another_type_or_past_the_row_is_corrupt() {
        let mut cells = Cells::default();
        cells
            .push_row(&[Value::Text("a"), Value::Int(70_000)])
            .unwrap();
        let fetched = Fetched::<SqliteRow>::Cells(cells);
        let rows = fetched.rows();
        let row = rows.iter().next().unwrap();
        assert!(matches!(row.int(0), Err(SqlError::Corrupt { .. })));
        assert!(matches!(row.str(1), Err(SqlError::Corrupt { .. })));
        assert!(matches!(row.small(1), Err(SqlError::Corrupt { .. })));
        assert!(matches!(row.int(2), Err(SqlError::Corrupt { .. })));
        assert_eq!(row.str(0).unwrap(), "a");
        assert_eq!(row.int(1).unwrap(), 70_000);
        assert_eq!(
            Fetched::<SqliteRow>::Cells(Cells::default()).rows().len(),
            0
        );
    }
}
