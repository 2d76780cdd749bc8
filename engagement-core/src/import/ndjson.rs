//! [`NdjsonLines`]: events from newline-delimited JSON, one line at a time.

use std::io::BufRead;

use super::record::ImportRecord;
use super::{ImportLine, LineError, LineErrorKind};

/// Reads events from NDJSON, one JSON object per line with the keys the CSV reader takes as
/// columns (`metadata` may be an object), streaming one line at a time. Blank lines are
/// skipped. Each item carries its 1-based line number; a bad line does not end the iteration.
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
    failed: bool,
}

impl<R: BufRead> NdjsonLines<R> {
    /// Reads from `source`.
    pub fn new(source: R) -> Self {
        Self {
            source,
            buffer: Vec::new(),
            line: 0,
            failed: false,
        }
    }
}

impl<R: BufRead> Iterator for NdjsonLines<R> {
    type Item = Result<ImportLine, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.failed {
            self.buffer.clear();
            self.line += 1;
            let line = self.line;
            match self.source.read_until(b'\n', &mut self.buffer) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    self.failed = true;
                    return Some(Err(LineError::fatal(line, e.to_string())));
                }
            }
            if self.buffer.trim_ascii().is_empty() {
                continue;
            }
            let parsed = serde_json::from_slice::<ImportRecord>(&self.buffer)
                .map_err(|e| LineErrorKind::Malformed {
                    reason: e.to_string(),
                })
                .and_then(ImportLine::from_record);
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
