//! [`CsvWriter`]: RFC 4180 rows of typed [`Cell`]s, with the formula guard on every text cell.

use std::fmt::Write as _;
use std::io;

use chrono::NaiveDate;

use super::guard::{GUARD_PREFIX, needs_guard_prefix};
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// How CSV is written.
///
/// The default guards formulas; turn the guard off only for consumers that never open the file
/// in a spreadsheet. Either way an event-log export imports back as it was written, when
/// [`CsvLines`](crate::import::CsvLines) is told the same (its
/// [`with_formula_guard`](crate::import::CsvLines::with_formula_guard) defaults to on too).
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
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The same options with the formula guard on or off.
    #[must_use]
    pub fn with_formula_guard(self, on: bool) -> Self {
        Self { formula_guard: on }
    }

    /// Whether text cells that look like formulas (or like a guarded cell: `'=1`) get a
    /// leading `'` (see [`guard_formula`](super::guard_formula)).
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

/// Bytes a [`CsvWriter`] holds before it passes them to its output in one write.
const FLUSH_AT: usize = 1 << 20;

/// Writes rows of [`Cell`]s as RFC 4180 CSV (CRLF line ends, `"` quoting) to any
/// [`io::Write`], guarding text cells as its [`CsvOptions`] say.
///
/// Every text cell is quoted so that a spreadsheet splitting on another separator (`;` in many
/// locales) cannot start a new cell inside it; numbers are left bare (exactly the `csv` crate's
/// `QuoteStyle::NonNumeric`: a cell is bare when it parses as a number). Memory stays constant:
/// rows go to the underlying writer in blocks of up to about 1 MiB. Every row must have as many
/// cells as the first.
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
    out: W,
    buf: Vec<u8>,
    options: CsvOptions,
    /// Cells written in the current row.
    cells: usize,
    /// Cells of the first row, once it has ended.
    width: Option<usize>,
    /// Where the current row starts in `buf`: a refused row is taken back from there.
    row_start: usize,
    scratch: String,
    time: TimeText,
}

impl<W: io::Write> CsvWriter<W> {
    /// A writer over `out`.
    #[must_use]
    pub fn new(out: W, options: CsvOptions) -> Self {
        Self {
            out,
            buf: Vec::new(),
            options,
            cells: 0,
            width: None,
            row_start: 0,
            scratch: String::new(),
            time: TimeText::default(),
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
        if let Cell::Text(text) = cell {
            self.write_text(text);
            return Ok(());
        }
        self.separate();
        match cell {
            // Text was written above.
            Cell::Text(_) | Cell::Empty => self.buf.extend_from_slice(b"\"\""),
            Cell::Bool(true) => self.buf.extend_from_slice(b"\"true\""),
            Cell::Bool(false) => self.buf.extend_from_slice(b"\"false\""),
            Cell::Int(n) => self
                .buf
                .extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            Cell::Uint(n) => self
                .buf
                .extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            Cell::Time(at) => match self.time.format(at) {
                Some(text) => {
                    // Never a number (it holds `T`), so always quoted; never holds a quote.
                    self.buf.push(b'"');
                    self.buf.extend_from_slice(&text);
                    self.buf.push(b'"');
                }
                None => {
                    push_field(
                        &mut self.buf,
                        formatted(&mut self.scratch, format_args!("{at}")),
                    );
                }
            },
            Cell::Float(x) => {
                push_field(
                    &mut self.buf,
                    formatted(&mut self.scratch, format_args!("{x}")),
                );
            }
            Cell::Date(d) => push_field(
                &mut self.buf,
                formatted(&mut self.scratch, format_args!("{}", d.format("%Y-%m-%d"))),
            ),
        }
        Ok(())
    }

    /// Writes one text cell, as `write_cell(Cell::Text(text))` does. The common case, text
    /// starting with a byte that settles both the guard and the number test, is inlined into
    /// the caller: an event-log row has a dozen text cells, and the calls and the dispatch on
    /// the cell's kind cost more than quoting them.
    #[inline(always)]
    pub(crate) fn write_text(&mut self, text: &str) {
        self.separate();
        match text.as_bytes().first() {
            Some(&first) if plain_start(first) => push_quoted(&mut self.buf, text.as_bytes()),
            None => self.buf.extend_from_slice(b"\"\""),
            Some(_) => self.write_unusual_text(text),
        }
    }

    /// Writes a text cell that may read as a number or need the formula guard's prefix.
    fn write_unusual_text(&mut self, text: &str) {
        if self.options.formula_guard && needs_guard_prefix(text) {
            self.scratch.clear();
            self.scratch.push(GUARD_PREFIX);
            self.scratch.push_str(text);
            push_field(&mut self.buf, &self.scratch);
        } else {
            push_field(&mut self.buf, text);
        }
    }

    /// Writes one cell of text that the caller knows is neither a number nor in need of the
    /// formula guard (an IP address, which starts with a digit or a hex letter and holds a dot
    /// or a colon), quoted as a text cell: the same bytes as `write_cell(Cell::Text(text))`
    /// without checking.
    pub(crate) fn write_plain_text(&mut self, text: &[u8]) {
        self.separate();
        push_quoted(&mut self.buf, text);
    }

    /// Starts a cell: the separator after the row's previous one.
    #[inline(always)]
    fn separate(&mut self) {
        if self.cells > 0 {
            self.buf.push(b',');
        }
        self.cells += 1;
    }

    /// Ends the current row.
    ///
    /// A row with a different number of cells than the first is refused and taken back (unless
    /// [`flush`](Self::flush) passed part of it on): the writer goes on as if it had not been
    /// started.
    ///
    /// # Errors
    /// [`Error::Csv`] when the underlying writer fails or the row has a different number of
    /// cells than the first.
    pub fn end_row(&mut self) -> Result<()> {
        let cells = std::mem::take(&mut self.cells);
        match self.width {
            None => self.width = Some(cells),
            Some(width) if width != cells => {
                self.buf.truncate(self.row_start);
                return Err(csv_invalid(format!(
                    "found a row with {cells} cells, but the first row has {width}"
                )));
            }
            Some(_) => {}
        }
        self.buf.extend_from_slice(b"\r\n");
        self.row_start = self.buf.len();
        if self.buf.len() >= FLUSH_AT {
            self.write_buffer()?;
        }
        Ok(())
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
        self.write_buffer()?;
        self.out.flush().map_err(csv_io_error)
    }

    /// The underlying writer (rows still buffered here are not in it yet; see
    /// [`flush`](Self::flush)).
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Passes the buffered bytes to the output and swaps it for `fresh`: how a writer into
    /// memory hands over what it wrote so far.
    ///
    /// # Errors
    /// [`Error::Csv`] when writing the buffered bytes fails.
    pub(crate) fn replace_output(&mut self, fresh: W) -> Result<W> {
        self.write_buffer()?;
        Ok(std::mem::replace(&mut self.out, fresh))
    }

    /// Flushes everything and hands back the underlying writer.
    ///
    /// # Errors
    /// [`Error::Csv`] when the final flush fails; the output is then incomplete.
    pub fn finish(mut self) -> Result<W> {
        self.flush()?;
        Ok(self.out)
    }

    /// Passes the buffered bytes to the underlying writer.
    fn write_buffer(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            self.out.write_all(&self.buf).map_err(csv_io_error)?;
            self.buf.clear();
            self.row_start = 0;
        }
        Ok(())
    }
}

/// Appends `field` bare when it reads as a number, otherwise quoted with its quotes doubled
/// (the `csv` crate's `QuoteStyle::NonNumeric`).
fn push_field(buf: &mut Vec<u8>, field: &str) {
    if is_numeric(field) {
        buf.extend_from_slice(field.as_bytes());
        return;
    }
    push_quoted(buf, field.as_bytes());
}

/// Whether a text starting with `first` is neither guarded nor a number, whatever follows: an
/// ASCII byte that is no formula trigger, no white space, not the guard's own `'` (which is
/// guarded when a formula follows), and starts no number (`csv` reads digits, signs, `.`,
/// `inf` and `nan` as numbers).
fn plain_start(first: u8) -> bool {
    first.is_ascii_graphic()
        && !matches!(
            first,
            b'=' | b'+' | b'-' | b'@' | b'\'' | b'.' | b'0'..=b'9' | b'i' | b'I' | b'n' | b'N'
        )
}

/// Bytes below which a cell is searched for quotes in one pass over its bytes rather than
/// through `memchr` (whose set-up costs more than a short cell).
const SHORT_CELL: usize = 32;

/// Appends `bytes` quoted, with its quotes doubled.
#[inline(always)]
fn push_quoted(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.reserve(bytes.len() + 2);
    buf.push(b'"');
    if !has_quote(bytes) {
        buf.extend_from_slice(bytes);
        buf.push(b'"');
        return;
    }
    let mut rest = bytes;
    while let Some(quote) = memchr::memchr(b'"', rest) {
        buf.extend_from_slice(&rest[..=quote]);
        buf.push(b'"');
        rest = &rest[quote + 1..];
    }
    buf.extend_from_slice(rest);
    buf.push(b'"');
}

/// Whether `bytes` holds a `"`. A short cell is read whole in a loop without an early exit,
/// which compiles to a few instructions a byte inline (`<[u8]>::contains` calls into a
/// word-at-a-time `memchr` whose set-up costs more).
#[inline(always)]
fn has_quote(bytes: &[u8]) -> bool {
    if bytes.len() < SHORT_CELL {
        bytes.iter().fold(false, |found, &b| found | (b == b'"'))
    } else {
        memchr::memchr(b'"', bytes).is_some()
    }
}

/// Whether `field` parses as an `f64` or an `i128` (what `csv` treats as numeric). Both parsers
/// only accept text starting with a digit, a sign, `.`, or the `inf`/`nan` spellings, so every
/// other first byte answers at once; plain digits (ids, codes) are a number without parsing.
fn is_numeric(field: &str) -> bool {
    let bytes = field.as_bytes();
    match bytes.first() {
        Some(b'0'..=b'9') if bytes.iter().all(u8::is_ascii_digit) => true,
        Some(b'0'..=b'9' | b'+' | b'-' | b'.' | b'i' | b'I' | b'n' | b'N') => {
            field.parse::<f64>().is_ok() || field.parse::<i128>().is_ok()
        }
        _ => false,
    }
}

/// Formats instants as [`Timestamp`]'s `Display` writes them (`YYYY-MM-DDTHH:MM:SS.ffffffZ`),
/// keeping the date of the last day it wrote: an export in time order converts a calendar date
/// once a day instead of once a row.
#[derive(Debug, Clone)]
struct TimeText {
    /// The day (since the epoch) `date` holds.
    day: i64,
    date: [u8; 10],
}

impl Default for TimeText {
    fn default() -> Self {
        Self {
            day: i64::MIN,
            date: [0; 10],
        }
    }
}

impl TimeText {
    /// `at` as text when its year is 1000–9999; `None` otherwise.
    fn format(&mut self, at: Timestamp) -> Option<[u8; 27]> {
        const DAY: i64 = 86_400_000_000;
        /// 1000-01-01T00:00:00Z and 10000-01-01T00:00:00Z in microseconds.
        const RANGE: std::ops::Range<i64> = -30_610_224_000_000_000..253_402_300_800_000_000;
        let micros = at.as_micros();
        if !RANGE.contains(&micros) {
            return None;
        }
        let (day, in_day) = (micros.div_euclid(DAY), micros.rem_euclid(DAY));
        if day != self.day {
            self.day = day;
            self.date = date_text(day);
        }
        let mut text = *b"0000-00-00T00:00:00.000000Z";
        text[..10].copy_from_slice(&self.date);
        let secs = in_day / 1_000_000;
        for (at, width, n) in [
            (11, 2, secs / 3_600),
            (14, 2, secs / 60 % 60),
            (17, 2, secs % 60),
            (20, 6, in_day % 1_000_000),
        ] {
            write_digits(&mut text[at..at + width], n);
        }
        Some(text)
    }
}

/// The civil date of `days` since the epoch as `YYYY-MM-DD` (years 0–9999; H. Hinnant's
/// algorithm).
fn date_text(days: i64) -> [u8; 10] {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut text = *b"0000-00-00";
    write_digits(&mut text[0..4], year);
    write_digits(&mut text[5..7], month);
    write_digits(&mut text[8..10], day);
    text
}

/// Writes the last `slots.len()` decimal digits of `n` (non-negative) into `slots`.
fn write_digits(slots: &mut [u8], mut n: i64) {
    for slot in slots.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// `args` formatted into the (cleared) scratch buffer.
fn formatted<'s>(scratch: &'s mut String, args: std::fmt::Arguments<'_>) -> &'s str {
    scratch.clear();
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
    use proptest::prelude::*;

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
        let texts = ["-5", " =A1", "ok", "'=A1", "'ok"];
        let cells = texts.map(Cell::Text);
        assert_eq!(
            one_row(&cells, CsvOptions::default()),
            ["'-5", "' =A1", "ok", "''=A1", "'ok"]
        );
        let off = CsvOptions::default().with_formula_guard(false);
        assert_eq!(one_row(&cells, off), texts);
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

    /// What the `csv` crate writes for `fields` as one row (`QuoteStyle::NonNumeric`, CRLF):
    /// the reference for the hand-written quoting.
    fn csv_crate_row(fields: &[String]) -> Vec<u8> {
        let mut w = ::csv::WriterBuilder::new()
            .terminator(::csv::Terminator::CRLF)
            .quote_style(::csv::QuoteStyle::NonNumeric)
            .from_writer(Vec::new());
        w.write_record(fields).unwrap();
        w.into_inner().unwrap()
    }

    proptest! {
        #[test]
        fn text_is_written_as_the_csv_crate_writes_it(
            fields in proptest::collection::vec(
                prop_oneof![
                    any::<String>(),
                    "[-+.0-9eE\"a-zA-Z, \r\n]{0,8}",
                    "[a-z\"]{28,40}",
                    any::<f64>().prop_map(|x| x.to_string()),
                    any::<i128>().prop_map(|n| n.to_string()),
                    proptest::sample::select(vec!["inf", "-Infinity", "NaN", "+nan", "1e5", ".5", "5.", "."])
                        .prop_map(str::to_owned),
                ],
                1..6,
            ),
        ) {
            let mut w = CsvWriter::new(Vec::new(), CsvOptions::default().with_formula_guard(false));
            w.write_row(fields.iter().map(|f| Cell::Text(f))).unwrap();
            prop_assert_eq!(w.finish().unwrap(), csv_crate_row(&fields));
        }

        #[test]
        fn typed_cells_are_written_as_their_display_text(
            micros in any::<i64>(),
            near in -40_000_000_000_000_000_i64..260_000_000_000_000_000,
            int in any::<i64>(),
            uint in any::<u64>(),
            float in any::<f64>(),
        ) {
            let (a, b) = (Timestamp::from_micros(micros), Timestamp::from_micros(near));
            let mut w = CsvWriter::new(Vec::new(), CsvOptions::default());
            w.write_row([
                Cell::Time(a), Cell::Time(b), Cell::Int(int), Cell::Uint(uint), Cell::Float(float),
                Cell::Bool(true), Cell::Bool(false), Cell::Empty,
            ]).unwrap();
            let texts = [
                a.to_string(), b.to_string(), int.to_string(), uint.to_string(),
                float.to_string(), "true".into(), "false".into(), String::new(),
            ];
            prop_assert_eq!(w.finish().unwrap(), csv_crate_row(&texts));
        }
    }

    #[test]
    fn rows_of_another_width_are_an_error() {
        let mut w = CsvWriter::new(Vec::new(), CsvOptions::default());
        w.write_row([Cell::Uint(1), Cell::Uint(2)]).unwrap();
        let err = w.write_row([Cell::Uint(1)]).unwrap_err();
        assert!(matches!(err, Error::Csv { .. }), "{err}");
    }

    #[test]
    fn a_refused_row_leaves_nothing_behind() {
        let mut w = CsvWriter::new(Vec::new(), CsvOptions::default());
        w.write_row([Cell::Text("a"), Cell::Text("b")]).unwrap();
        assert!(w.write_row([Cell::Uint(1)]).is_err());
        assert!(
            w.write_row([Cell::Uint(7), Cell::Uint(8), Cell::Uint(9)])
                .is_err()
        );
        assert!(w.write_row([]).is_err());
        w.write_row([Cell::Uint(2), Cell::Uint(3)]).unwrap();
        assert_eq!(parse(&w.finish().unwrap()), [["a", "b"], ["2", "3"]]);
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
