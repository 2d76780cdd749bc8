//! [`NdjsonLines`]: events from newline-delimited JSON, one line at a time.

use std::fmt;
use std::io::{self, BufRead};

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::error::Category;
use serde_json::value::RawValue;

use super::record::{self, ImportRecord};
use super::{DEFAULT_MAX_LINE_BYTES, ImportLine, LineError, LineErrorKind};

/// The UTF-8 byte order mark some tools write at the start of a text file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads events from NDJSON, one JSON object per line with the keys the CSV reader takes as
/// columns (`metadata` may be an object), streaming one line at a time. Blank lines and a
/// byte order mark at the start of the file are skipped. Each item carries its 1-based line
/// number; a bad line does not end the iteration.
///
/// A key no event field takes (a misspelt `refferer`, or the nested `page` of an [`Event`]
/// serialized as it is) makes its line a [`LineErrorKind::UnknownKey`] error rather than
/// losing its value unseen; [`ignore_unknown_keys(true)`](Self::ignore_unknown_keys) reads
/// past such keys instead.
///
/// A line longer than [`max_line_bytes`](Self::max_line_bytes) (by default
/// [`DEFAULT_MAX_LINE_BYTES`], 1 MiB) is a [`LineErrorKind::TooLong`] error: the reader keeps
/// no more than the cap of it, reads past the rest a buffer at a time to the next LF, and goes
/// on with the line after it.
///
/// [`Event`]: crate::Event
///
/// ```
/// use engagement_core::import::NdjsonLines;
///
/// let data = r#"{"event_id":"e1","customer_id":7,"name":"Subscribed","occurred_at":"2026-11-19T10:00:00Z","metadata":{"plan":"pro"}}
///
/// {"event_id":"e2"
/// "#;
/// let lines: Vec<_> = NdjsonLines::new(data.as_bytes()).collect();
/// assert_eq!(lines.len(), 2);
/// assert_eq!(lines[0].as_ref().map(|l| l.event.metadata["plan"].clone()).ok(), Some("pro".into()));
/// assert_eq!(lines[1].as_ref().map_err(|e| e.line).err(), Some(3));
/// ```
#[derive(Debug)]
pub struct NdjsonLines<R> {
    source: R,
    buffer: Vec<u8>,
    line: u64,
    ignore_unknown_keys: bool,
    max_line_bytes: usize,
    failed: bool,
}

impl<R: BufRead> NdjsonLines<R> {
    /// Reads from `source`.
    #[must_use]
    pub fn new(source: R) -> Self {
        Self {
            source,
            buffer: Vec::new(),
            line: 0,
            ignore_unknown_keys: false,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            failed: false,
        }
    }

    /// The same reader, refusing a line of more than `bytes` bytes (its LF or CRLF, and a byte
    /// order mark before the first line, not counted) with [`LineErrorKind::TooLong`] rather
    /// than reading it into memory (default [`DEFAULT_MAX_LINE_BYTES`]); the lines after it are
    /// read as usual. The reader holds at most about `bytes` of a line.
    #[must_use]
    pub fn max_line_bytes(self, bytes: usize) -> Self {
        Self {
            max_line_bytes: bytes,
            ..self
        }
    }

    /// Reads the next line into the buffer, without its LF; `Ok(None)` at the end of the
    /// source. A line of more than `keep` bytes is read past to its LF, not kept:
    /// `Ok(Some(false))`, the buffer empty.
    fn read_line(&mut self, keep: usize) -> io::Result<Option<bool>> {
        self.buffer.clear();
        let (mut any, mut fits) = (false, true);
        loop {
            let available = match self.source.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            any = true;
            let (text, used, ends) = match memchr::memchr(b'\n', available) {
                Some(i) => (&available[..i], i + 1, true),
                None => (available, available.len(), false),
            };
            if fits && text.len() <= keep - self.buffer.len() {
                self.buffer.extend_from_slice(text);
            } else if fits {
                fits = false;
                self.buffer.clear();
            }
            self.source.consume(used);
            if ends {
                break;
            }
        }
        Ok(any.then_some(fits))
    }

    /// The same reader, skipping keys no event field takes (`ignore`) or refusing their lines
    /// with [`LineErrorKind::UnknownKey`] (the default), so that no value is dropped unseen.
    #[must_use]
    pub fn ignore_unknown_keys(self, ignore: bool) -> Self {
        Self {
            ignore_unknown_keys: ignore,
            ..self
        }
    }
}

impl<R: BufRead> Iterator for NdjsonLines<R> {
    type Item = Result<ImportLine, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.failed {
            self.line += 1;
            let line = self.line;
            let limit = self.max_line_bytes;
            // Room for the CR of a CRLF, and a byte order mark on the first line, which the
            // cap does not count: a line kept whole is checked against it below.
            let bom = if line == 1 { BOM.len() } else { 0 };
            let too_long = || LineError {
                line,
                kind: LineErrorKind::TooLong { limit },
            };
            match self.read_line(limit.saturating_add(1 + bom)) {
                Ok(None) => return None,
                Ok(Some(true)) => {}
                Ok(Some(false)) => return Some(Err(too_long())),
                Err(e) => {
                    self.failed = true;
                    return Some(Err(LineError::fatal(line, e.to_string())));
                }
            }
            let text = match self.buffer.strip_prefix(BOM) {
                Some(rest) if line == 1 => rest,
                _ => &self.buffer[..],
            };
            if text.strip_suffix(b"\r").unwrap_or(text).len() > limit {
                return Some(Err(too_long()));
            }
            if text.trim_ascii().is_empty() {
                continue;
            }
            let parsed = parse(text, self.ignore_unknown_keys);
            return Some(
                parsed
                    .map(|mut l| {
                        l.line = line;
                        l
                    })
                    .map_err(|kind| LineError { line, kind }),
            );
        }
        None
    }
}

/// The event of one line; with `ignore_unknown_keys` off, a key no field takes is an error.
fn parse(text: &[u8], ignore_unknown_keys: bool) -> Result<ImportLine, LineErrorKind> {
    let malformed = |e: serde_json::Error| malformed(text, &e);
    // A derived struct also takes a JSON array, its values by position.
    if text.trim_ascii_start().first() != Some(&b'{') {
        return Err(LineErrorKind::Malformed {
            reason: "a line must be one JSON object".into(),
        });
    }
    let record = serde_json::from_slice::<ImportRecord>(text).map_err(malformed)?;
    if !ignore_unknown_keys
        && let UnknownKey(Some(key)) = serde_json::from_slice(text).map_err(malformed)?
    {
        return Err(LineErrorKind::UnknownKey { key });
    }
    if record::changed_number(&String::from_utf8_lossy(text)).is_some() {
        let raw = serde_json::from_slice::<RawMetadata<'_>>(text).map_err(malformed)?;
        record::check_numbers(raw.metadata.map_or("", RawValue::get))?;
    }
    ImportLine::from_record(record)
}

/// The error of a line `serde_json` refused, in its words but for the line and column it
/// adds (it reads one line at a time: its line is always 1, and the reader names the file's):
/// a syntax error says at which column of the line, a value of the wrong type which key holds
/// it (the line is read again to find out, only then).
fn malformed(text: &[u8], error: &serde_json::Error) -> LineErrorKind {
    let reason = record::json_reason(error);
    let reason = match error.classify() {
        Category::Syntax | Category::Eof => format!("{reason} at column {}", error.column()),
        Category::Data => match key_at_fault(text) {
            Some(key) => format!("`{key}`: {reason}"),
            None => reason,
        },
        Category::Io => reason,
    };
    LineErrorKind::Malformed { reason }
}

/// The key whose value makes `text` no [`ImportRecord`], if one does (not when a key is
/// missing, say).
fn key_at_fault(text: &[u8]) -> Option<String> {
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let error = serde_path_to_error::deserialize::<_, ImportRecord>(&mut deserializer).err()?;
    let path = error.path();
    path.iter().next().map(|_| path.to_string())
}

/// A line's metadata as it is written, to find what parsing it would change.
#[derive(Deserialize)]
struct RawMetadata<'a> {
    #[serde(borrow, default)]
    metadata: Option<&'a RawValue>,
}

/// The first key of a JSON object that [`ImportRecord`] does not take, if any; read without
/// building the values.
struct UnknownKey(Option<String>);

impl<'de> Deserialize<'de> for UnknownKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(UnknownKeyVisitor)
    }
}

struct UnknownKeyVisitor;

impl<'de> Visitor<'de> for UnknownKeyVisitor {
    type Value = UnknownKey;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UnknownKey, A::Error> {
        let mut first = None;
        while let Some(Key(unknown)) = map.next_key()? {
            map.next_value::<IgnoredAny>()?;
            first = first.or(unknown);
        }
        Ok(UnknownKey(first))
    }
}

/// One key of an object: `None` when [`ImportRecord`] takes it, else the key.
struct Key(Option<String>);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
        let known = ImportRecord::keys().contains(&key);
        Ok(Key((!known).then(|| key.to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"event_id":"e1","customer_id":7,"name":"Page Viewed","occurred_at":"2026-11-19T10:00:00Z"}"#;

    fn read(data: &str, ignore_unknown_keys: bool) -> Vec<Result<ImportLine, LineError>> {
        NdjsonLines::new(data.as_bytes())
            .ignore_unknown_keys(ignore_unknown_keys)
            .collect()
    }

    #[test]
    fn a_byte_order_mark_at_the_start_is_skipped() {
        let lines = read(&format!("\u{feff}{GOOD}\r\n"), false);
        assert_eq!(lines.len(), 1);
        let line = lines[0].as_ref().expect("the first line imports");
        assert_eq!((line.line, line.event.id.as_str()), (1, "e1"));

        let only_a_bom = read(&format!("\u{feff}\n{GOOD}"), false);
        assert_eq!(only_a_bom.len(), 1);
        assert_eq!(only_a_bom[0].as_ref().map(|l| l.line).ok(), Some(2));
    }

    #[test]
    fn a_line_over_the_cap_is_refused_and_the_next_one_read() {
        let limit = GOOD.len();
        let long = GOOD.replace("Page Viewed", "Page Viewed!");
        for eol in ["\n", "\r\n"] {
            let data = format!("\u{feff}{GOOD}{eol}{long}{eol}{GOOD}{eol}{long}");
            let lines: Vec<_> = NdjsonLines::new(data.as_bytes())
                .max_line_bytes(limit)
                .collect();
            let kinds: Vec<_> = lines
                .iter()
                .map(|l| {
                    l.as_ref()
                        .map(|l| l.line)
                        .map_err(|e| (e.line, e.kind.clone()))
                })
                .collect();
            let too_long = LineErrorKind::TooLong { limit };
            // The byte order mark and the line end are not counted.
            assert_eq!(
                kinds,
                [Ok(1), Err((2, too_long.clone())), Ok(3), Err((4, too_long))],
                "{eol:?}"
            );
        }
    }

    #[test]
    fn a_byte_order_mark_later_is_not_skipped() {
        let lines = read(&format!("{GOOD}\n\u{feff}{GOOD}"), false);
        assert!(lines[0].is_ok());
        assert!(matches!(
            lines[1],
            Err(LineError {
                line: 2,
                kind: LineErrorKind::Malformed { .. }
            })
        ));
    }

    #[test]
    fn a_key_no_field_takes_is_an_error_unless_ignored() {
        let misspelt = GOOD.replace('}', r#","refferer":"https://ref.test/"}"#);
        let data = format!("{GOOD}\n{misspelt}\n");
        let strict = read(&data, false);
        assert!(strict[0].is_ok());
        match &strict[1] {
            Err(LineError {
                line: 2,
                kind: LineErrorKind::UnknownKey { key },
            }) => assert_eq!(key, "refferer"),
            other => panic!("{other:?}"),
        }
        let lenient = read(&data, true);
        assert!(lenient.iter().all(Result::is_ok), "{lenient:?}");
    }

    #[test]
    fn a_serialized_event_is_not_read_without_its_page_and_geo() {
        let mut event = crate::Event::new(
            "e1",
            crate::CustomerId(7),
            "Page Viewed",
            "2026-11-19T10:00:00Z".parse().unwrap(),
        );
        event.page.path = "/pricing".into();
        event.geo.country = "SE".into();
        let json = serde_json::to_string(&event).unwrap();
        assert!(matches!(
            &read(&json, false)[0],
            Err(LineError {
                kind: LineErrorKind::UnknownKey { .. },
                ..
            })
        ));
    }

    #[test]
    fn every_key_the_record_takes_is_known() {
        let all = r#"{"id":"e1","customer":7,"name":"X","occurred_at":"2026-11-19T10:00:00Z","actor":"staff","url":"","path":"","domain":"","referrer":"","country":"","region":"","city":"","zone":"","device":null,"ip":null,"metadata":{"anything":1},"user_agent":"curl/8"}"#;
        let lines = read(all, false);
        assert!(lines[0].is_ok(), "{lines:?}");
    }
}
