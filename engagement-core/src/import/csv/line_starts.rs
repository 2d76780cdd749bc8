//! [`LineStarts`]: the source a [`CsvLines`](super::CsvLines) reads through, which notes where
//! each line starts and caps the length of a record by following the CSV grammar.

use std::collections::VecDeque;
use std::io::{self, Read, Seek, SeekFrom};

use crate::import::DEFAULT_MAX_LINE_BYTES;

/// The source of a [`CsvLines`](super::CsvLines), noting where each line's text starts as the
/// `csv` reader pulls bytes through it.
///
/// The `csv` crate's [`Position`](csv::Position) of a record is where the reader stood before
/// reading it: just after the previous record's terminator, and before the line breaks it skips
/// (blank lines, and the LF of a CRLF, as `csv` ends a record at its CR). Its `line()` counts the
/// LFs before that point, so it is one short on CRLF files and misses blank lines. Its `byte()`
/// is exact, though, and a record's text starts at the first byte from there that is no line
/// break: the line of that byte is the record's.
///
/// It also caps the length of a record, which the `csv` reader cannot: it follows the records
/// through the bytes it hands out ([`Grammar`]) and hands out none past the cap of the record
/// they are in. The `csv` reader asks for more only once it has parsed all it was given, so a
/// request at the cap means the record is longer: the source then reads past the rest of it
/// (see [`refused`](Self::refused)) and fails the request.
#[derive(Debug)]
pub(super) struct LineStarts<R> {
    inner: R,
    /// Bytes handed out or read past so far.
    pub(super) offset: u64,
    /// Line ends read so far: LFs, and CRs not followed by LF.
    pub(super) newlines: u64,
    /// Whether the last byte read was CR or LF.
    after_break: bool,
    /// Whether the last byte read was a CR, which ends a line unless the next byte is LF.
    after_cr: bool,
    /// The offset and 1-based line of each byte read that follows CR or LF and is neither,
    /// from the earliest one at or after the last offset asked about. The `csv` reader reads
    /// ahead by at most its buffer, so this holds the line starts of about that many bytes,
    /// and those of the multi-line record being read.
    starts: VecDeque<(u64, u64)>,
    /// Where the records are in the bytes so far.
    grammar: Grammar,
    /// The longest record handed out, in bytes, its line end not counted.
    pub(super) limit: u64,
    /// Set when a record was refused as longer than `limit` and read past: the line it starts
    /// on. The request that found it failed; the next byte handed out is the first after it.
    pub(super) refused: Option<u64>,
    /// Bytes read from `inner` past the end of a refused record, handed out first.
    pending: VecDeque<u8>,
    /// Whether the start of the source has been read past a UTF-8 byte order mark.
    bom_skipped: bool,
}

impl<R> LineStarts<R> {
    pub(super) fn new(inner: R) -> Self {
        Self {
            inner,
            offset: 0,
            newlines: 0,
            after_break: false,
            after_cr: false,
            starts: VecDeque::new(),
            grammar: Grammar::default(),
            limit: u64::try_from(DEFAULT_MAX_LINE_BYTES).unwrap_or(u64::MAX),
            refused: None,
            pending: VecDeque::new(),
            bom_skipped: false,
        }
    }

    /// Notes the line starts and records in `bytes`, the next ones read.
    fn note(&mut self, bytes: &[u8]) {
        let _ = self.grammar.scan(bytes, self.offset, false);
        self.note_lines(bytes);
    }

    /// Notes the line starts in `bytes`. A line ends at LF, or at a CR not followed by LF
    /// (decided on the next byte, which may come in the next read).
    fn note_lines(&mut self, bytes: &[u8]) {
        let Some(&first) = bytes.first() else { return };
        if self.after_cr && first != b'\n' {
            self.newlines += 1;
        }
        if self.after_break && !is_break(first) {
            self.starts.push_back((self.offset, self.newlines + 1));
        }
        for i in memchr::memchr2_iter(b'\n', b'\r', bytes) {
            let next = bytes.get(i + 1).copied();
            let ends_line = bytes[i] == b'\n' || next.is_some_and(|b| b != b'\n');
            self.newlines += u64::from(ends_line);
            if next.is_some_and(|b| !is_break(b)) {
                self.starts
                    .push_back((self.offset + i as u64 + 1, self.newlines + 1));
            }
        }
        let last = bytes[bytes.len() - 1];
        self.after_break = is_break(last);
        self.after_cr = last == b'\r';
        self.offset += bytes.len() as u64;
    }

    /// The 1-based line of the first byte at or after `offset` that starts a line, forgetting
    /// those before; `None` when none has been read.
    pub(super) fn line_from(&mut self, offset: u64) -> Option<u64> {
        while self.starts.front().is_some_and(|&(at, _)| at < offset) {
            self.starts.pop_front();
        }
        self.starts.front().map(|&(_, line)| line)
    }
}

impl<R: Read> LineStarts<R> {
    /// Reads the first three bytes of the source and drops them when they are a UTF-8 byte
    /// order mark, else keeps them to be handed out first. The `csv` reader skips a mark only
    /// when its first read holds more than the mark, which a source handing out a few bytes at
    /// a time (a pipe, an upload stream) need not give; the mark is then no byte the `csv`
    /// reader (and the offsets and the cap here) count.
    fn skip_bom(&mut self) -> io::Result<()> {
        const BOM: &[u8] = b"\xEF\xBB\xBF";
        let mut head = [0_u8; 3];
        let mut got = 0;
        while got < head.len() {
            match self.inner.read(&mut head[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.bom_skipped = true;
        if head[..got] != *BOM {
            self.pending.extend(&head[..got]);
        }
        Ok(())
    }

    /// Reads past the rest of the record being read, which is longer than the cap, noting its
    /// lines; keeps the bytes read after it in `pending` and sets `refused`.
    fn refuse(&mut self) -> io::Result<()> {
        let line = self.line_from(self.grammar.start).unwrap_or(0);
        let mut chunk = [0_u8; 8 * 1024];
        loop {
            let n = match self.read_source(&mut chunk) {
                Ok(0) => {
                    // The end of the input ends the record, in quotes too.
                    self.grammar.state = GrammarState::Between;
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let (used, _) = self.grammar.scan(&chunk[..n], self.offset, true);
            self.note_lines(&chunk[..used]);
            // Every line start noted so far is inside the refused record: none is asked about.
            self.starts.clear();
            if !self.grammar.in_record() {
                // Before any left from an earlier refusal, which come after them.
                for &byte in chunk[used..n].iter().rev() {
                    self.pending.push_front(byte);
                }
                break;
            }
        }
        self.refused = Some(line);
        Ok(())
    }

    /// Reads the next bytes: those left from a refused record first, then from `inner`.
    fn read_source(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pending.is_empty() {
            self.inner.read(buf)
        } else {
            self.pending.read(buf)
        }
    }
}

impl<R: Read> Read for LineStarts<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if !self.bom_skipped {
            self.skip_bom()?;
        }
        // The record's bytes up to the cap and one more, its line end. Between records, up to
        // as many: a record starting in them stays within its cap.
        let most = self.limit.saturating_add(1);
        let room = if self.grammar.in_record() {
            let room = self
                .grammar
                .start
                .saturating_add(most)
                .saturating_sub(self.offset);
            if room == 0 {
                self.refuse()?;
                return Err(io::Error::other("a record longer than the cap"));
            }
            room
        } else {
            most
        };
        let len = usize::try_from(room).map_or(buf.len(), |room| room.min(buf.len()));
        let buf = &mut buf[..len];
        // `Interrupted` asks for the read again, which the `csv` reader would not do.
        let n = loop {
            match self.read_source(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                read => break read?,
            }
        };
        self.note(&buf[..n]);
        Ok(n)
    }
}

/// Lets the `csv` reader be reset where it stands (its `seek_raw`) after a refused record:
/// seeks nowhere.
impl<R: Read> Seek for LineStarts<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        match to {
            SeekFrom::Current(0) => Ok(self.offset),
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "an import source is read once, in order",
            )),
        }
    }
}

/// Where the `csv` reader's records start and end in the bytes read, by the grammar it is set
/// up with (`,` between fields, `"` quotes a field that starts with it and is doubled inside
/// it, CR or LF ends a record outside quotes, line breaks between records are skipped), as
/// `csv_core` parses it.
#[derive(Debug, Default)]
struct Grammar {
    state: GrammarState,
    /// The offset of the first byte of the record being read (or the last one read).
    start: u64,
    /// The last byte scanned.
    last: u8,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum GrammarState {
    /// Between records: line breaks are skipped.
    #[default]
    Between,
    /// In a record, outside quotes.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a `"` inside a quoted field: a second one is a quote, else the quotes ended.
    QuoteInQuoted,
}

impl Grammar {
    fn in_record(&self) -> bool {
        self.state != GrammarState::Between
    }

    /// Follows the records through `bytes`, which start at offset `at`; returns how many it
    /// took: all, or with `stop_at_end` only those up to the end of the record being read (its
    /// line break included), and whether that record ended.
    fn scan(&mut self, bytes: &[u8], at: u64, stop_at_end: bool) -> (usize, bool) {
        use GrammarState::{Between, QuoteInQuoted, Quoted, Unquoted};
        let mut i = 0;
        while i < bytes.len() {
            let mut ended = false;
            match self.state {
                Between => match bytes[i..].iter().position(|&b| !is_break(b)) {
                    None => i = bytes.len(),
                    Some(j) => {
                        i += j;
                        self.start = at + i as u64;
                        self.state = if bytes[i] == b'"' { Quoted } else { Unquoted };
                        i += 1;
                    }
                },
                Unquoted => match memchr::memchr3(b'"', b'\n', b'\r', &bytes[i..]) {
                    None => i = bytes.len(),
                    Some(j) => {
                        let k = i + j;
                        if bytes[k] != b'"' {
                            self.state = Between;
                            ended = true;
                        } else if k.checked_sub(1).map_or(self.last, |p| bytes[p]) == b',' {
                            // Only a quote that starts a field opens quotes.
                            self.state = Quoted;
                        }
                        i = k + 1;
                    }
                },
                Quoted => match memchr::memchr(b'"', &bytes[i..]) {
                    None => i = bytes.len(),
                    Some(j) => {
                        self.state = QuoteInQuoted;
                        i += j + 1;
                    }
                },
                QuoteInQuoted => {
                    self.state = match bytes[i] {
                        b'"' => Quoted,
                        b if is_break(b) => {
                            ended = true;
                            Between
                        }
                        _ => Unquoted,
                    };
                    i += 1;
                }
            }
            if ended && stop_at_end {
                self.last = bytes[i - 1];
                return (i, true);
            }
        }
        if let Some(i) = i.checked_sub(1) {
            self.last = bytes[i];
        }
        (i, false)
    }
}

/// Whether `byte` ends a line for the `csv` reader (which also ends a record at a lone CR).
fn is_break(byte: u8) -> bool {
    byte == b'\n' || byte == b'\r'
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The offsets just after each record's line end, by the `csv` reader the import uses, and
    /// by [`Grammar`] fed `text` in chunks of `size`.
    fn record_ends(text: &[u8], size: usize) -> (Vec<u64>, Vec<u64>) {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text);
        let mut record = csv::ByteRecord::new();
        let mut by_csv = Vec::new();
        while reader.read_byte_record(&mut record).unwrap() {
            by_csv.push(reader.position().byte());
        }
        let (mut grammar, mut by_grammar, mut at) = (Grammar::default(), Vec::new(), 0);
        for chunk in text.chunks(size) {
            let mut rest = chunk;
            while !rest.is_empty() {
                let (used, ended) = grammar.scan(rest, at, true);
                at += used as u64;
                rest = &rest[used..];
                if ended {
                    by_grammar.push(at);
                }
            }
        }
        // A last record the input ends without a line break.
        if grammar.in_record() {
            by_grammar.push(at);
        }
        (by_csv, by_grammar)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The grammar the source follows to cap records ends each record where `csv` does.
        #[test]
        fn the_grammar_ends_records_where_csv_does(
            text in "([a,\"\r\n ]|\"\"){0,40}",
            size in 1_usize..8,
        ) {
            let (by_csv, by_grammar) = record_ends(text.as_bytes(), size);
            prop_assert_eq!(by_csv, by_grammar, "{:?}", text);
        }
    }
}
