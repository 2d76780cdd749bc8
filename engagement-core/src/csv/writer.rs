//! [`CsvWriter`]: RFC 4180 rows of typed [`Cell`]s, with the formula guard on every text cell.

use std::fmt::Write as _;
use std::io;

use chrono::NaiveDate;

use super::guard::{GUARD_PREFIX, needs_formula_guard};
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// How CSV is written.
///
/// The default guards formulas; turn the guard off only for consumers that never open the file
/// in a spreadsheet.
///
/// ```
/// use engagement_core::csv::CsvOptions;
///
/// assert!(CsvOptions::default().formula_guard());
/// assert!(!CsvOptions::default().with_formula_guard(false).formula_guard());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CsvOptions {
    formula_guard: bool,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            formula_guard: true,
        }
    }
}

impl CsvOptions {
    /// The defaults: formula guard on.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same options with the formula guard on or off.
    pub fn with_formula_guard(self, on: bool) -> Self {
        Self { formula_guard: on }
    }

    /// Whether text cells that look like formulas get a leading `'`.
    pub fn formula_guard(&self) -> bool {
        self.formula_guard
    }
}

/// One cell of a row. The variant, not the content, decides how it is written: only
/// [`Cell::Text`] passes through the formula guard; typed values are written raw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// Free text (names, paths, referrers, metadata, header cells): guarded.
    Text(&'a str),
    /// A signed integer, written raw (`-3`).
    Int(i64),
    /// An unsigned integer (counts, scores, ranks), written raw.
    Uint(u64),
    /// A real number (conversion rates, seconds), written raw in its shortest exact form.
    Float(f64),
    /// A flag, written `true` or `false`.
    Bool(bool),
    /// An instant, written `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    Time(Timestamp),
    /// A calendar date, written `YYYY-MM-DD`.
    Date(NaiveDate),
    /// No value: an empty cell.
    Empty,
}

impl Cell<'_> {
    /// An instant, or an empty cell.
    pub fn time_or_empty(at: Option<Timestamp>) -> Self {
        at.map_or(Self::Empty, Self::Time)
    }
}

/// Writes rows of [`Cell`]s as RFC 4180 CSV (CRLF line ends, `"` quoting) to any
/// [`io::Write`], guarding text cells as its [`CsvOptions`] say.
///
/// Every text cell is quoted so that a spreadsheet splitting on another separator (`;` in many
/// locales) cannot start a new cell inside it; numbers are left bare. Memory stays constant:
/// rows go to the underlying writer through a fixed buffer. Every row must have as many cells
/// as the first.
///
/// ```
/// use engagement_core::csv::{Cell, CsvOptions, CsvWriter};
///
/// let mut csv = CsvWriter::new(Vec::new(), CsvOptions::default());
/// csv.write_row([Cell::Text("name"), Cell::Text("count")])?;
/// csv.write_row([Cell::Text("=1+1"), Cell::Int(-2)])?;
/// let bytes = csv.finish()?;
/// assert_eq!(String::from_utf8(bytes)?, "\"name\",\"count\"\r\n\"'=1+1\",-2\r\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct CsvWriter<W: io::Write> {
    inner: ::csv::Writer<W>,
    options: CsvOptions,
    scratch: String,
}

impl<W: io::Write> CsvWriter<W> {
    /// A writer over `out`.
    pub fn new(out: W, options: CsvOptions) -> Self {
        let inner = ::csv::WriterBuilder::new()
            .terminator(::csv::Terminator::CRLF)
            .quote_style(::csv::QuoteStyle::NonNumeric)
            .from_writer(out);
        Self {
            inner,
            options,
            scratch: String::new(),
        }
    }

    /// The options in force.
    pub fn options(&self) -> CsvOptions {
        self.options
    }

    /// Writes one cell of the current row.
    ///
    /// # Errors
    /// [`Error::Csv`] when the underlying writer fails.
    pub fn write_cell(&mut self, cell: Cell<'_>) -> Result<()> {
        self.scratch.clear();
        let field: &str = match cell {
            Cell::Text(text) if self.options.formula_guard && needs_formula_guard(text) => {
                self.scratch.push(GUARD_PREFIX);
                self.scratch.push_str(text);
                &self.scratch
            }
            Cell::Text(text) => text,
            Cell::Empty => "",
            Cell::Bool(b) => {
                if b {
                    "true"
                } else {
                    "false"
                }
            }
            Cell::Int(n) => formatted(&mut self.scratch, format_args!("{n}")),
            Cell::Uint(n) => formatted(&mut self.scratch, format_args!("{n}")),
            Cell::Float(x) => formatted(&mut self.scratch, format_args!("{x}")),
            Cell::Time(at) => formatted(&mut self.scratch, format_args!("{at}")),
            Cell::Date(d) => formatted(&mut self.scratch, format_args!("{}", d.format("%Y-%m-%d"))),
        };
        Ok(self.inner.write_field(field)?)
    }

    /// Ends the current row.
    ///
    /// # Errors
    /// [`Error::Csv`] when the underlying writer fails or the row has a different number of
    /// cells than the first.
    pub fn end_row(&mut self) -> Result<()> {
        Ok(self.inner.write_record(None::<&[u8]>)?)
    }

    /// Writes a whole row.
    ///
    /// # Errors
    /// As [`write_cell`](Self::write_cell) and [`end_row`](Self::end_row).
    pub fn write_row<'c>(&mut self, cells: impl IntoIterator<Item = Cell<'c>>) -> Result<()> {
        for cell in cells {
            self.write_cell(cell)?;
        }
        self.end_row()
    }

    /// Writes a header row: every name is a (guarded) text cell.
    ///
    /// # Errors
    /// As [`write_row`](Self::write_row).
    pub fn write_header<'c>(&mut self, names: impl IntoIterator<Item = &'c str>) -> Result<()> {
        self.write_row(names.into_iter().map(Cell::Text))
    }

    /// Pushes buffered rows to the underlying writer and flushes it.
    ///
    /// # Errors
    /// [`Error::Csv`] when the underlying writer fails.
    pub fn flush(&mut self) -> Result<()> {
        self.inner.flush().map_err(csv_io_error)
    }

    /// The underlying writer (rows still buffered here are not in it yet; see
    /// [`flush`](Self::flush)).
    pub fn get_ref(&self) -> &W {
        self.inner.get_ref()
    }

    /// Flushes everything and hands back the underlying writer.
    ///
    /// # Errors
    /// [`Error::Csv`] when the final flush fails; the output is then incomplete.
    pub fn finish(self) -> Result<W> {
        self.inner
            .into_inner()
            .map_err(|e| csv_io_error(e.into_error()))
    }
}

/// `args` formatted into the (cleared) scratch buffer.
fn formatted<'s>(scratch: &'s mut String, args: std::fmt::Arguments<'_>) -> &'s str {
    // Writing into a String cannot fail.
    let _ = scratch.write_fmt(args);
    scratch
}

/// An I/O failure while writing CSV, as the library's error.
pub(crate) fn csv_io_error(e: io::Error) -> Error {
    Error::from(::csv::Error::from(e))
}

/// A CSV that cannot be written as asked (rows that do not fit the file), as the library's
/// error: the output is incomplete.
pub(crate) fn csv_invalid(message: String) -> Error {
    csv_io_error(io::Error::new(io::ErrorKind::InvalidInput, message))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Parses CSV bytes back into rows of strings with the `csv` crate.
    pub(crate) fn parse(bytes: &[u8]) -> Vec<Vec<String>> {
        ::csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(bytes)
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    fn one_row(cells: &[Cell<'_>], options: CsvOptions) -> Vec<String> {
        let mut w = CsvWriter::new(Vec::new(), options);
        w.write_row(cells.iter().copied()).unwrap();
        let rows = parse(&w.finish().unwrap());
        assert_eq!(rows.len(), 1);
        rows.into_iter().next().unwrap()
    }

    #[test]
    fn typed_cells_are_never_prefixed() {
        let at: Timestamp = "2026-11-19T10:00:00.000042Z".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 2, 28).unwrap();
        let row = one_row(
            &[
                Cell::Int(-5),
                Cell::Int(i64::MIN),
                Cell::Uint(u64::MAX),
                Cell::Float(-0.25),
                Cell::Float(0.5),
                Cell::Bool(true),
                Cell::Time(at),
                Cell::Time(Timestamp::from_micros(-1)),
                Cell::Date(day),
                Cell::Empty,
                Cell::time_or_empty(None),
            ],
            CsvOptions::default(),
        );
        let want = [
            "-5",
            "-9223372036854775808",
            "18446744073709551615",
            "-0.25",
            "0.5",
            "true",
            "2026-11-19T10:00:00.000042Z",
            "1969-12-31T23:59:59.999999Z",
            "2026-02-28",
            "",
            "",
        ];
        assert_eq!(row, want);
    }

    #[test]
    fn text_cells_are_guarded_unless_the_guard_is_off() {
        let cells = [Cell::Text("-5"), Cell::Text(" =A1"), Cell::Text("ok")];
        assert_eq!(
            one_row(&cells, CsvOptions::default()),
            ["'-5", "' =A1", "ok"]
        );
        let off = CsvOptions::default().with_formula_guard(false);
        assert_eq!(one_row(&cells, off), ["-5", " =A1", "ok"]);
    }

    #[test]
    fn separators_quotes_and_line_breaks_round_trip() {
        let texts = [
            "a,b",
            "say \"hi\"",
            "line\r\nbreak",
            "lf\nonly",
            "semi;=1",
            "\"",
            "",
            "😀🎉 émoji",
        ];
        let cells: Vec<Cell<'_>> = texts.iter().map(|t| Cell::Text(t)).collect();
        assert_eq!(one_row(&cells, CsvOptions::default()), texts);
    }

    #[test]
    fn text_is_quoted_and_numbers_are_bare_with_crlf_line_ends() {
        let mut w = CsvWriter::new(Vec::new(), CsvOptions::default());
        w.write_row([Cell::Text("a;=1"), Cell::Text("42"), Cell::Uint(7)])
            .unwrap();
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(text, "\"a;=1\",42,7\r\n");
    }

    #[test]
    fn four_byte_utf8_is_byte_exact() {
        let text = "🦀 Ünïcødé 𝄞";
        let mut w = CsvWriter::new(Vec::new(), CsvOptions::default());
        w.write_row([Cell::Text(text)]).unwrap();
        let bytes = w.finish().unwrap();
        let inner = &bytes[1..bytes.len() - 3];
        assert_eq!(inner, text.as_bytes());
    }

    #[test]
    fn rows_of_another_width_are_an_error() {
        let mut w = CsvWriter::new(Vec::new(), CsvOptions::default());
        w.write_row([Cell::Uint(1), Cell::Uint(2)]).unwrap();
        let err = w.write_row([Cell::Uint(1)]).unwrap_err();
        assert!(matches!(err, Error::Csv { .. }), "{err}");
    }

    #[test]
    fn failing_output_is_a_csv_error() {
        #[derive(Debug)]
        struct Broken;
        impl io::Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = CsvWriter::new(Broken, CsvOptions::default());
        w.write_row([Cell::Text("x")]).unwrap();
        let err = w.finish().unwrap_err();
        assert!(matches!(err, Error::Csv { .. }));
        assert!(err.to_string().contains("disk full"), "{err}");
    }
}
