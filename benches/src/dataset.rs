//! Reading the data set `gen.py` writes (`customers.csv`, `events.csv`).

use std::error::Error;
use std::fs::File;
use std::io::BufReader;
use std::net::IpAddr;
use std::path::Path;

use chrono::NaiveDate;
use csv::{ByteRecord, ReaderBuilder};
use engagement_core::{Customer, CustomerId, CustomerStatus, Device, Event, EventId, Timestamp};

/// Width of the zero-padded event ids, so byte order equals the generator's numeric order.
const ID_WIDTH: usize = 10;

/// The generator's numeric event id as an [`EventId`] whose byte order is numeric order.
pub fn event_id(n: u64) -> EventId {
    EventId::new(format!("{n:0ID_WIDTH$}"))
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
#[derive(Debug)]
pub struct EventReader {
    reader: csv::Reader<BufReader<File>>,
    record: ByteRecord,
    line: u64,
}

impl EventReader {
    /// Opens `events.csv`.
    ///
    /// # Errors
    /// I/O errors.
    pub fn open(path: &Path) -> Result<Self, Box<dyn Error>> {
        let file = BufReader::with_capacity(1 << 20, File::open(path)?);
        Ok(Self {
            reader: ReaderBuilder::new().from_reader(file),
            record: ByteRecord::new(),
            line: 1,
        })
    }

    /// Bytes read so far (for a progress bar).
    pub fn position(&self) -> u64 {
        self.reader.position().byte()
    }

    /// The next `n` events (fewer at the end, none when done).
    ///
    /// # Errors
    /// I/O errors and malformed rows (with the line number).
    pub fn next_batch(&mut self, n: usize) -> Result<Vec<Event>, Box<dyn Error>> {
        let mut batch = Vec::with_capacity(n);
        while batch.len() < n && self.reader.read_byte_record(&mut self.record)? {
            self.line += 1;
            let event = parse_event(&self.record)
                .map_err(|e| format!("events.csv line {}: {e}", self.line))?;
            batch.push(event);
        }
        Ok(batch)
    }
}

fn parse_event(r: &ByteRecord) -> Result<Event, Box<dyn Error>> {
    let text = |i: usize| -> Result<&str, Box<dyn Error>> {
        Ok(std::str::from_utf8(r.get(i).unwrap_or_default())?)
    };
    let id: u64 = text(0)?.parse()?;
    let customer: i64 = text(1)?.parse()?;
    let mut event = Event::new(
        event_id(id),
        CustomerId(customer),
        text(2)?,
        parse_timestamp(text(3)?)?,
    );
    event.page.path = text(4)?.to_owned();
    event.page.domain = text(5)?.to_owned();
    event.page.referrer = text(6)?.to_owned();
    let ip = text(7)?;
    event.ip = if ip.is_empty() {
        None
    } else {
        Some(ip.parse::<IpAddr>()?)
    };
    event.geo.country = text(8)?.to_owned();
    event.device = Device::parse(text(9)?);
    Ok(event)
}

/// Parses the generator's fixed `YYYY-MM-DDTHH:MM:SS.ffffffZ` quickly, anything else through
/// the general RFC 3339 parser.
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
    fn padded_ids_sort_numerically() {
        assert!(event_id(9) < event_id(10));
        assert_eq!(numeric_id(&event_id(12_345)), Some(12_345));
    }
}
