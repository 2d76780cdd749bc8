//! Reading the data set `gen.py` writes (`customers.csv`, `events.csv`).

use std::error::Error;
use std::fs::File;
use std::net::IpAddr;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use chrono::NaiveDate;
use csv::ReaderBuilder;
use engagement_core::{
    Actor, Customer, CustomerId, CustomerStatus, Device, Event, EventId, Limits, Timestamp,
};
use simd_csv::ByteRecord;

/// Width of the zero-padded event ids, so byte order equals the generator's numeric order.
const ID_WIDTH: usize = 10;

/// The generator's numeric event id as an [`EventId`] whose byte order is numeric order.
pub fn event_id(n: u64) -> EventId {
    let mut text = String::with_capacity(ID_WIDTH);
    write_id(&mut text, n);
    EventId::new(text)
}

/// Writes `n` zero-padded to [`ID_WIDTH`] digits into `out` (replacing what it held), without
/// the formatting machinery: the reader makes ten million of them.
fn write_id(out: &mut String, mut n: u64) {
    let mut digits = [b'0'; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.clear();
    let padded = start.min(digits.len() - ID_WIDTH);
    // Pushed as one slice (a `char` at a time cost ~300 instructions an id); the digits are
    // ASCII, so the conversion cannot fail.
    out.push_str(std::str::from_utf8(&digits[padded..]).unwrap_or_default());
}

/// The generator's numeric id of an [`EventId`] made by [`event_id`].
pub fn numeric_id(id: &EventId) -> Option<u64> {
    id.as_str().parse().ok()
}

/// Reads every customer of `customers.csv`.
///
/// # Errors
/// I/O errors and malformed rows (with the line number).
pub fn read_customers(path: &Path) -> Result<Vec<Customer>, Box<dyn Error>> {
    let mut reader = ReaderBuilder::new().from_path(path)?;
    let mut out = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let r = record?;
        let field = |i: usize| r.get(i).unwrap_or_default().to_owned();
        let id: i64 = field(0)
            .parse()
            .map_err(|e| format!("line {}: customer_id: {e}", line + 2))?;
        out.push(Customer {
            id: CustomerId(id),
            code: field(1),
            first_name: field(2),
            last_name: field(3),
            email: field(4),
            status: CustomerStatus::parse(&field(5))?,
            is_admin_placeholder: field(6) == "1",
        });
    }
    Ok(out)
}

/// Streams `events.csv` in batches.
///
/// The rows are split by `simd-csv` rather than the `csv` crate: the same fields (every row of
/// the 10M-event file compared), found in 1.5 s instead of 3.5 s, and splitting was the largest
/// part of the reading thread's time.
pub struct EventReader {
    reader: simd_csv::Reader<File>,
    record: ByteRecord,
    line: u64,
}

impl std::fmt::Debug for EventReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventReader")
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

impl EventReader {
    /// Opens `events.csv`.
    ///
    /// # Errors
    /// I/O errors.
    pub fn open(path: &Path) -> Result<Self, Box<dyn Error>> {
        Ok(Self {
            reader: simd_csv::ReaderBuilder::with_capacity(1 << 20).from_reader(File::open(path)?),
            record: ByteRecord::new(),
            line: 1,
        })
    }

    /// Bytes read so far (for a progress bar).
    pub fn position(&self) -> u64 {
        self.reader.position()
    }

    /// Replaces the events of `batch` with the next `n` (fewer at the end, none when done),
    /// reusing the text buffers of the events it held.
    ///
    /// # Errors
    /// I/O errors and malformed rows (with the line number).
    pub fn fill(&mut self, batch: &mut Vec<Event>, n: usize) -> Result<(), Box<dyn Error>> {
        let mut filled = 0;
        while filled < n && self.reader.read_byte_record(&mut self.record)? {
            self.line += 1;
            if filled == batch.len() {
                batch.push(Event::new("", CustomerId(0), "", Timestamp::EPOCH));
            }
            parse_into(&self.record, &mut batch[filled])
                .map_err(|e| format!("events.csv line {}: {e}", self.line))?;
            filled += 1;
        }
        batch.truncate(filled);
        Ok(())
    }
}

/// A batch of events and the bytes of the file read once it was parsed.
type ReadBatch = (Vec<Event>, u64);

/// Reads and validates `events.csv` on a thread of its own, a batch at a time, so parsing and
/// validation overlap with whatever the caller does with the previous batch (appending it). Batches handed back through
/// [`recycle`](Self::recycle) are refilled, so their text buffers are reused.
#[derive(Debug)]
pub struct PipelinedReader {
    batches: Receiver<Result<ReadBatch, String>>,
    empties: SyncSender<Vec<Event>>,
    thread: Option<JoinHandle<()>>,
}

impl PipelinedReader {
    /// Batches read ahead at most.
    const AHEAD: usize = 2;

    /// Opens `events.csv` and starts reading it, `batch` events at a time, each batch checked
    /// by `limits` as of `now`.
    ///
    /// # Errors
    /// I/O errors opening the file.
    pub fn open(
        path: &Path,
        batch: usize,
        limits: Limits,
        now: Timestamp,
    ) -> Result<Self, Box<dyn Error>> {
        let mut reader = EventReader::open(path)?;
        let (full, batches) = sync_channel(Self::AHEAD);
        let (empties, spare) = sync_channel::<Vec<Event>>(Self::AHEAD + 2);
        let thread = std::thread::spawn(move || {
            loop {
                let mut events = spare.try_recv().unwrap_or_default();
                let read = reader
                    .fill(&mut events, batch)
                    .and_then(|()| Ok(limits.validate_batch(&events, now)?))
                    .map(|()| (events, reader.position()))
                    .map_err(|e| e.to_string());
                let last = read.as_ref().map_or(true, |(events, _)| events.is_empty());
                if full.send(read).is_err() || last {
                    return;
                }
            }
        });
        Ok(Self {
            batches,
            empties,
            thread: Some(thread),
        })
    }

    /// The next batch and the bytes read so far; an empty batch once the file is done.
    ///
    /// # Errors
    /// Malformed rows (with the line number), invalid events and I/O errors.
    pub fn next_batch(&mut self) -> Result<ReadBatch, Box<dyn Error>> {
        if let Ok(read) = self.batches.recv() {
            return Ok(read?);
        }
        if let Some(thread) = self.thread.take() {
            thread.join().map_err(|_| "the reading thread panicked")?;
        }
        Ok((Vec::new(), 0))
    }

    /// Hands a consumed batch back for refilling.
    pub fn recycle(&self, batch: Vec<Event>) {
        // When the reader has stopped or holds enough spares the batch is simply dropped.
        let _ = self.empties.try_send(batch);
    }
}

/// Parses one row into `event`, overwriting every field and reusing its text buffers (built
/// in place: an `Event` is 312 bytes, and moving a new one into the batch was most of the
/// reading thread's copying).
fn parse_into(r: &ByteRecord, event: &mut Event) -> Result<(), Box<dyn Error>> {
    // One UTF-8 check of the row's bytes instead of one a field (ten calls cost more than the
    // splitting): a field, a range of those bytes, is then valid text exactly when it starts
    // and ends on a character boundary, which `str::get` checks.
    let bytes = r.as_slice();
    let row = std::str::from_utf8(bytes)?;
    let text = |i: usize| -> Result<&str, Box<dyn Error>> {
        let field = r.get(i).unwrap_or_default();
        let Some(first) = field.first() else {
            return Ok("");
        };
        let start = bytes
            .element_offset(first)
            .ok_or("a field outside its row")?;
        Ok(row
            .get(start..start + field.len())
            .ok_or("a field is not valid UTF-8")?)
    };
    let set = |out: &mut String, value: &str| {
        out.clear();
        out.push_str(value);
    };
    let mut id = std::mem::replace(&mut event.id, EventId::new(String::new())).into_string();
    write_id(&mut id, text(0)?.parse()?);
    event.id = EventId::new(id);
    event.customer = CustomerId(text(1)?.parse()?);
    event.actor = Actor::Customer;
    set(&mut event.name, text(2)?);
    event.occurred_at = parse_timestamp(text(3)?)?;
    event.received_at = event.occurred_at;
    event.page.url.clear();
    set(&mut event.page.path, text(4)?);
    set(&mut event.page.domain, text(5)?);
    set(&mut event.page.referrer, text(6)?);
    let ip = text(7)?;
    event.ip = if ip.is_empty() {
        None
    } else {
        Some(ip.parse::<IpAddr>()?)
    };
    set(&mut event.geo.country, text(8)?);
    event.geo.region.clear();
    event.geo.city.clear();
    event.geo.zone.clear();
    event.device = Device::parse(text(9)?);
    event.metadata.clear();
    Ok(())
}

/// Parses the generator's fixed `YYYY-MM-DDTHH:MM:SS.ffffffZ` quickly, anything else through
/// the general RFC 3339 parser.
///
/// # Errors
/// Text that is not an RFC 3339 instant.
pub fn parse_timestamp(s: &str) -> Result<Timestamp, Box<dyn Error>> {
    let b = s.as_bytes();
    let fixed = b.len() == 27
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[26] == b'Z';
    if !fixed {
        return Ok(s.parse()?);
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0_u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let parsed = (|| {
        let date =
            NaiveDate::from_ymd_opt(i32::try_from(num(0, 4)?).ok()?, num(5, 7)?, num(8, 10)?)?;
        let (h, m, sec, micro) = (num(11, 13)?, num(14, 16)?, num(17, 19)?, num(20, 26)?);
        if h > 23 || m > 59 || sec > 59 {
            return None;
        }
        let day_secs = i64::from(h * 3600 + m * 60 + sec);
        let days = date
            .signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1)?)
            .num_days();
        Some(Timestamp::from_micros(
            (days * 86_400 + day_secs) * 1_000_000 + i64::from(micro),
        ))
    })();
    parsed.map_or_else(|| Ok(s.parse()?), Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_format_matches_the_general_parser() {
        for s in [
            "2026-11-19T23:59:59.999999Z",
            "1970-01-01T00:00:00.000000Z",
            "2024-02-29T12:34:56.000001Z",
        ] {
            assert_eq!(
                parse_timestamp(s).unwrap(),
                s.parse::<Timestamp>().unwrap(),
                "{s}"
            );
        }
        assert!(parse_timestamp("2026-13-19T23:59:59.999999Z").is_err());
        assert_eq!(
            parse_timestamp("2026-11-19T23:59:59Z").unwrap(),
            "2026-11-19T23:59:59Z".parse::<Timestamp>().unwrap()
        );
    }

    #[test]
    fn rows_are_read_field_by_field_and_must_be_text() {
        let fields = |path: &[u8]| {
            let mut record = ByteRecord::new();
            for field in [
                b"7".as_slice(),
                b"3",
                b"Page Viewed",
                b"2026-11-19T23:59:59.999999Z",
                path,
                b"shop.acme.test",
                b"",
                b"10.0.0.1",
                b"FR",
                b"desktop",
            ] {
                record.push_field(field);
            }
            record
        };
        let expected = |path: &str| {
            let mut e = Event::new(
                "0000000007",
                CustomerId(3),
                "Page Viewed",
                parse_timestamp("2026-11-19T23:59:59.999999Z").unwrap(),
            );
            e.page.path = path.into();
            e.page.domain = "shop.acme.test".into();
            e.ip = Some("10.0.0.1".parse().unwrap());
            e.geo.country = "FR".into();
            e.device = Device::parse("desktop");
            e
        };
        // Every field of the event it overwrites is replaced, including those the file has no
        // column for.
        let mut reused = Event::new("old", CustomerId(9), "Old", Timestamp::EPOCH);
        reused.actor = Actor::Staff;
        reused.page.url = "https://old.test/".into();
        reused.geo.city = "Lyon".into();
        reused.metadata.insert("old".into(), 1.into());
        parse_into(&fields("/caf\u{e9}".as_bytes()), &mut reused).unwrap();
        assert_eq!(reused, expected("/caf\u{e9}"));
        parse_into(&fields(b"/x"), &mut reused).unwrap();
        assert_eq!(reused, expected("/x"));
        assert!(parse_into(&fields(b"/caf\xe9"), &mut reused).is_err());
    }

    #[test]
    fn padded_ids_sort_numerically() {
        assert!(event_id(9) < event_id(10));
        assert_eq!(numeric_id(&event_id(12_345)), Some(12_345));
        assert_eq!(event_id(0).as_str(), "0000000000");
        assert_eq!(event_id(42).as_str(), "0000000042");
        assert_eq!(event_id(u64::MAX).as_str(), u64::MAX.to_string());
    }
}
