//! What a large read returned: the driver's rows, or [`Cells`] copied out of a statement that
//! the store read itself (SQLite steps it through its C API, PostgreSQL copies it out in
//! binary: see [`Dialect::fetch_rows`] and [`Dialect::fetch_pooled`]), read through the same
//! [`ReadRow`] decoders either way.
//!
//! [`Dialect::fetch_rows`]: crate::dialect::Dialect::fetch_rows
//! [`Dialect::fetch_pooled`]: crate::dialect::Dialect::fetch_pooled

use crate::dialect::ReadRow;
use crate::error::{SqlError, SqlResult};

/// The rows of a read statement, in the statement's order.
pub(crate) enum Fetched<R> {
    /// The driver's rows.
    Driver(Vec<R>),
    /// The rows' cells, copied into one buffer.
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    Cells(Cells),
}

impl<R: ReadRow> Fetched<R> {
    /// The rows, borrowed.
    pub(crate) fn rows(&self) -> Rows<'_, R> {
        match self {
            Self::Driver(rows) => Rows::Driver(rows),
            Self::Cells(cells) => Rows::Cells(
                cells
                    .cells
                    .chunks_exact(cells.width.max(1))
                    .map(|row| CellRow {
                        cells: row,
                        text: &cells.text,
                    })
                    .collect(),
            ),
        }
    }
}

/// The rows of a [`Fetched`], borrowed from it.
pub(crate) enum Rows<'a, R> {
    Driver(&'a [R]),
    Cells(Vec<CellRow<'a>>),
}

impl<R: ReadRow> Rows<'_, R> {
    /// How many rows there are.
    #[cfg(all(test, feature = "sqlite"))]
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Driver(rows) => rows.len(),
            Self::Cells(rows) => rows.len(),
        }
    }

    /// Every row, in the statement's order, for the decoders.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &dyn ReadRow> {
        let (driver, cells): (&[R], &[CellRow<'_>]) = match self {
            Self::Driver(rows) => (rows, &[]),
            Self::Cells(rows) => (&[], rows),
        };
        let driver = driver.iter().map(|row| row as &dyn ReadRow);
        driver.chain(cells.iter().map(|row| row as &dyn ReadRow))
    }
}

/// Rows of a fixed number of columns, each cell a null, an integer or a range of one text
/// buffer: a chunk of an export costs two allocations, not one per row or per text.
#[derive(Debug)]
pub(crate) struct Cells {
    width: usize,
    cells: Vec<Cell>,
    text: String,
}

/// One column of one row.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cell {
    Null,
    Int(i64),
    /// `text[start..end]`.
    Text {
        start: u32,
        end: u32,
    },
}

#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
impl Cells {
    /// No rows yet, of `width` columns each.
    pub(crate) fn new(width: usize) -> Self {
        Self {
            width,
            cells: Vec::new(),
            text: String::new(),
        }
    }

    /// Appends a null to the row being written (rows fill column by column, `width` cells
    /// each).
    pub(crate) fn push_null(&mut self) {
        self.cells.push(Cell::Null);
    }

    /// Appends an integer to the row being written.
    pub(crate) fn push_int(&mut self, value: i64) {
        self.cells.push(Cell::Int(value));
    }

    /// Appends a text to the row being written.
    ///
    /// # Errors
    /// [`SqlError::TooLarge`] once the read's text passes 4 GiB (a read that large is cut
    /// into smaller statements by its caller: an export's chunks, a funnel's customer lists).
    pub(crate) fn push_text(&mut self, value: &str) -> SqlResult<()> {
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

/// One row of [`Cells`].
pub(crate) struct CellRow<'a> {
    cells: &'a [Cell],
    text: &'a str,
}

impl CellRow<'_> {
    fn cell(&self, index: usize) -> SqlResult<Cell> {
        self.cells
            .get(index)
            .copied()
            .ok_or_else(|| corrupt(format!("no column {index}")))
    }

    fn opt_cell(&self, index: usize) -> SqlResult<Option<Cell>> {
        self.cell(index).map(|c| (c != Cell::Null).then_some(c))
    }

    fn as_str(&self, cell: Cell) -> SqlResult<&str> {
        match cell {
            // Ranges of whole texts pushed by `push_text`: on character boundaries.
            Cell::Text { start, end } => Ok(&self.text[start as usize..end as usize]),
            other => Err(corrupt(format!("{other:?} is not text"))),
        }
    }
}

fn as_int(cell: Cell) -> SqlResult<i64> {
    match cell {
        Cell::Int(n) => Ok(n),
        other => Err(corrupt(format!("{other:?} is not an integer"))),
    }
}

fn as_small(cell: Cell) -> SqlResult<i16> {
    let int = as_int(cell)?;
    i16::try_from(int).map_err(|_| corrupt(format!("{int} is not a small integer")))
}

impl ReadRow for CellRow<'_> {
    fn int(&self, index: usize) -> SqlResult<i64> {
        as_int(self.cell(index)?)
    }
    fn opt_int(&self, index: usize) -> SqlResult<Option<i64>> {
        self.opt_cell(index)?.map(as_int).transpose()
    }
    fn small(&self, index: usize) -> SqlResult<i16> {
        as_small(self.cell(index)?)
    }
    fn opt_small(&self, index: usize) -> SqlResult<Option<i16>> {
        self.opt_cell(index)?.map(as_small).transpose()
    }
    fn text(&self, index: usize) -> SqlResult<String> {
        self.str(index).map(str::to_owned)
    }
    fn str(&self, index: usize) -> SqlResult<&str> {
        self.as_str(self.cell(index)?)
    }
    fn opt_str(&self, index: usize) -> SqlResult<Option<&str>> {
        self.opt_cell(index)?.map(|c| self.as_str(c)).transpose()
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
        let mut cells = Cells::new(3);
        cells.push_int(7);
        cells.push_text("é😀").unwrap();
        cells.push_null();
        cells.push_int(-3);
        cells.push_text("").unwrap();
        cells.push_text("tab\tbed").unwrap();
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
    fn a_cell_of_another_type_or_past_the_row_is_corrupt() {
        let mut cells = Cells::new(2);
        cells.push_text("a").unwrap();
        cells.push_int(70_000);
        let fetched = Fetched::<SqliteRow>::Cells(cells);
        let rows = fetched.rows();
        let row = rows.iter().next().unwrap();
        assert!(matches!(row.int(0), Err(SqlError::Corrupt { .. })));
        assert!(matches!(row.str(1), Err(SqlError::Corrupt { .. })));
        assert!(matches!(row.small(1), Err(SqlError::Corrupt { .. })));
        assert!(matches!(row.int(2), Err(SqlError::Corrupt { .. })));
        assert_eq!(row.str(0).unwrap(), "a");
        assert_eq!(row.int(1).unwrap(), 70_000);
        assert_eq!(Fetched::<SqliteRow>::Cells(Cells::new(0)).rows().len(), 0);
    }
}
