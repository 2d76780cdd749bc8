//! The event log as CSV, one event (or one batch of events) at a time.

use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, Ipv4Addr};

use serde_json::Value;

use super::writer::csv_invalid;
use super::{Cell, CsvOptions, CsvReport, CsvWriter, event_log_file_name};
use crate::error::{Error, Result};
use crate::model::batch::{EMPTY_METADATA, EventBatch, EventRef};
use crate::model::event::{Event, Metadata};
use crate::report::EventLogPage;

/// The columns every event-log CSV has, in order. Caller-chosen metadata columns follow,
/// headed `metadata.<key>`.
pub const EVENT_LOG_COLUMNS: [&str; 16] = [
    "event_id",
    "occurred_at",
    "customer_id",
    "actor",
    "name",
    "url",
    "path",
    "domain",
    "referrer",
    "country",
    "region",
    "city",
    "zone",
    "device",
    "ip",
    "metadata",
];

/// Writes events as CSV as they arrive, in constant memory: each row goes straight to the
/// output through a fixed buffer, so a complete export of millions of events holds one row.
///
/// Columns are [`EVENT_LOG_COLUMNS`] (`metadata` is the whole metadata as compact JSON), then
/// one `metadata.<key>` column per [`with_metadata_columns`](Self::with_metadata_columns) key:
/// a string value is written as text, a number raw, anything else as compact JSON, and a
/// missing key as an empty cell. Every text cell — ids, names, URLs, paths, referrers, geo,
/// metadata, and the metadata headers — goes through the formula guard.
///
/// ```
/// use engagement_core::csv::{CsvOptions, EventLogCsv};
/// use engagement_core::{CustomerId, Event};
///
/// let mut event = Event::new("evt-1", CustomerId(7), "Page Viewed", "2026-11-19T10:00:00Z".parse()?);
/// event.page.path = "=cmd|'/C calc'!A0".into();
/// event.metadata.insert("plan".into(), "pro".into());
///
/// let mut csv = EventLogCsv::with_metadata_columns(Vec::new(), ["plan"], CsvOptions::default())?;
/// csv.write_event(&event)?;
/// let text = String::from_utf8(csv.finish()?)?;
/// let row = text.lines().nth(1).unwrap();
/// assert!(row.starts_with("\"evt-1\",\"2026-11-19T10:00:00.000000Z\",7,\"customer\",\"Page Viewed\""));
/// assert!(row.contains(",\"'=cmd|'/C calc'!A0\","));
/// assert!(row.ends_with(",\"{\"\"plan\"\":\"\"pro\"\"}\",\"pro\""));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct EventLogCsv<W: io::Write> {
    csv: CsvWriter<W>,
    metadata_keys: Vec<String>,
    json: Vec<u8>,
    text: String,
    rows: u64,
}

impl<W: io::Write> EventLogCsv<W> {
    /// A writer with the standard columns; writes the header at once.
    ///
    /// # Errors
    /// [`Error::Csv`] when `out` fails.
    pub fn new(out: W, options: CsvOptions) -> Result<Self> {
        Self::with_metadata_columns(out, std::iter::empty::<String>(), options)
    }

    /// A writer with the standard columns and one more per metadata key, in the order given;
    /// writes the header at once.
    ///
    /// # Errors
    /// [`Error::InvalidQuery`] when a key is given twice; [`Error::Csv`] when `out` fails.
    pub fn with_metadata_columns<K: Into<String>>(
        out: W,
        keys: impl IntoIterator<Item = K>,
        options: CsvOptions,
    ) -> Result<Self> {
        let metadata_keys: Vec<String> = keys.into_iter().map(Into::into).collect();
        for (i, key) in metadata_keys.iter().enumerate() {
            if metadata_keys[..i].contains(key) {
                return Err(Error::invalid_query(
                    "metadata_columns",
                    format!("the metadata key {key:?} is listed twice; list each key once"),
                ));
            }
        }
        let extra: Vec<String> = metadata_keys
            .iter()
            .map(|k| format!("metadata.{k}"))
            .collect();
        let mut csv = CsvWriter::new(out, options);
        csv.write_header(
            EVENT_LOG_COLUMNS
                .into_iter()
                .chain(extra.iter().map(String::as_str)),
        )?;
        Ok(Self {
            csv,
            metadata_keys,
            json: Vec::new(),
            text: String::new(),
            rows: 0,
        })
    }

    /// Writes one event as one row.
    ///
    /// # Errors
    /// [`Error::Csv`] when `out` fails.
    pub fn write_event(&mut self, event: &Event) -> Result<()> {
        if event.metadata.is_empty() {
            return self.write_fields(EventRef::of(event, EMPTY_METADATA), Some(&event.metadata));
        }
        let mut json = std::mem::take(&mut self.json);
        let written = json_text(&mut json, &event.metadata)
            .and_then(|text| self.write_fields(EventRef::of(event, text), Some(&event.metadata)));
        self.json = json;
        written
    }

    /// Writes one borrowed event (a row of an [`EventBatch`]) as one row.
    /// Its metadata JSON is written as it is, and parsed only when the writer has metadata
    /// columns.
    ///
    /// # Errors
    /// [`Error::Csv`] when `out` fails, or when the writer has metadata columns and the
    /// event's metadata is not a JSON object.
    pub fn write_row(&mut self, event: EventRef<'_>) -> Result<()> {
        if self.metadata_keys.is_empty() {
            return self.write_fields(event, None);
        }
        let metadata = event.parse_metadata().map_err(|e| {
            csv_invalid(format!(
                "metadata of event {:?} is not a JSON object: {e}",
                event.id
            ))
        })?;
        self.write_fields(event, Some(&metadata))
    }

    /// Writes every event of `batch`, in order.
    ///
    /// # Errors
    /// As [`write_row`](Self::write_row); the rows before the failing one are written.
    pub fn write_batch(&mut self, batch: &EventBatch) -> Result<()> {
        batch.iter().try_for_each(|event| self.write_row(event))
    }

    /// Writes the row of `event`, taking the metadata columns from `metadata` (`None` only when
    /// there are no metadata columns).
    fn write_fields(&mut self, event: EventRef<'_>, metadata: Option<&Metadata>) -> Result<()> {
        let csv = &mut self.csv;
        csv.write_text(event.id);
        csv.write_cell(Cell::Time(event.occurred_at))?;
        csv.write_cell(Cell::Int(event.customer.0))?;
        csv.write_text(event.actor.as_str());
        csv.write_text(event.name);
        for text in [
            event.url,
            event.path,
            event.domain,
            event.referrer,
            event.country,
            event.region,
            event.city,
            event.zone,
        ] {
            csv.write_text(text);
        }
        csv.write_text(event.device.map_or("", |d| d.as_str()));
        match event.ip {
            Some(IpAddr::V4(v4)) => {
                let (text, len) = ipv4_text(v4);
                csv.write_plain_text(&text[..len]);
            }
            Some(ip @ IpAddr::V6(_)) => {
                self.text.clear();
                let _ = write!(self.text, "{ip}");
                csv.write_plain_text(self.text.as_bytes());
            }
            None => csv.write_cell(Cell::Empty)?,
        }
        csv.write_text(event.metadata);
        if let Some(metadata) = metadata {
            for key in &self.metadata_keys {
                let cell = match metadata.get(key) {
                    None => Cell::Empty,
                    Some(Value::String(s)) => Cell::Text(s),
                    Some(Value::Number(n)) => number_cell(n),
                    Some(other) => Cell::Text(json_text(&mut self.json, other)?),
                };
                csv.write_cell(cell)?;
            }
        }
        csv.end_row()?;
        self.rows += 1;
        Ok(())
    }

    /// Events written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Pushes buffered rows to the output and flushes it.
    ///
    /// # Errors
    /// [`Error::Csv`] when `out` fails.
    pub fn flush(&mut self) -> Result<()> {
        self.csv.flush()
    }

    /// Hands over what was written so far (the header included, if not handed over yet) and
    /// goes on writing into `fresh`.
    ///
    /// # Errors
    /// [`Error::Csv`] when writing the buffered rows fails.
    pub(crate) fn replace_output(&mut self, fresh: W) -> Result<W> {
        self.csv.replace_output(fresh)
    }

    /// The output (rows may still be buffered; see [`flush`](Self::flush)).
    pub fn get_ref(&self) -> &W {
        self.csv.get_ref()
    }

    /// Flushes and hands back the output.
    ///
    /// # Errors
    /// [`Error::Csv`] when the final flush fails; the output is then incomplete.
    pub fn finish(self) -> Result<W> {
        self.csv.finish()
    }
}

impl CsvReport for EventLogPage {
    /// `event-log_FROM_to_TO.csv` (see [`event_log_file_name`]).
    fn csv_file_name(&self) -> String {
        event_log_file_name(&self.period)
    }

    /// The events of this page only; for the complete log, stream
    /// [`Reports::export_event_log`](crate::report::Reports::export_event_log) through
    /// [`event_log_chunks`](super::event_log_chunks) or [`EventLogCsv`].
    fn write_csv<W: io::Write>(&self, out: W, options: CsvOptions) -> Result<W> {
        let mut csv = EventLogCsv::new(out, options)?;
        for entry in &self.entries {
            csv.write_event(&entry.event)?;
        }
        csv.finish()
    }
}

/// `ip` in dotted decimal, as its `Display` writes it: the text and its length.
fn ipv4_text(ip: Ipv4Addr) -> ([u8; 15], usize) {
    let mut text = [0; 15];
    let mut len = 0;
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            text[len] = b'.';
            len += 1;
        }
        let (digits, width) = OCTETS[usize::from(octet)];
        text[len..len + 3].copy_from_slice(&digits);
        len += usize::from(width);
    }
    (text, len)
}

/// The decimal text of every octet (left-aligned) and its width.
const OCTETS: [([u8; 3], u8); 256] = {
    let mut table = [([0; 3], 0); 256];
    let mut n = 0;
    while n < 256 {
        // `n` < 256, so each digit fits a byte.
        let (h, t, u) = ((n / 100) as u8, (n / 10 % 10) as u8, (n % 10) as u8);
        table[n] = if n >= 100 {
            ([b'0' + h, b'0' + t, b'0' + u], 3)
        } else if n >= 10 {
            ([b'0' + t, b'0' + u, 0], 2)
        } else {
            ([b'0' + u, 0, 0], 1)
        };
        n += 1;
    }
    table
};

/// A JSON number as a typed cell, written raw.
fn number_cell(n: &serde_json::Number) -> Cell<'static> {
    if let Some(i) = n.as_i64() {
        Cell::Int(i)
    } else if let Some(u) = n.as_u64() {
        Cell::Uint(u)
    } else {
        n.as_f64().map_or(Cell::Empty, Cell::Float)
    }
}

/// `value` as compact JSON in `scratch`.
fn json_text<'s>(scratch: &'s mut Vec<u8>, value: &impl serde::Serialize) -> Result<&'s str> {
    scratch.clear();
    serde_json::to_writer(&mut *scratch, value)
        .map_err(|e| csv_invalid(format!("metadata cannot be written as JSON: {e}")))?;
    std::str::from_utf8(scratch)
        .map_err(|e| csv_invalid(format!("metadata JSON is not UTF-8: {e}")))
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::csv::guard::{guard_formula, unguard_formula};
    use crate::csv::writer::tests::parse;
    use crate::model::event::{Actor, Device, Metadata};
    use crate::model::ids::CustomerId;
    use crate::time::Timestamp;

    fn event() -> Event {
        let mut e = Event::new(
            "evt,\"1\"",
            CustomerId(-42),
            "Page Viewed",
            "2024-03-10T06:59:59.999999Z".parse::<Timestamp>().unwrap(),
        );
        e.actor = Actor::Staff;
        e.page.url = "https://shop.example.com/a?b=1,2".into();
        e.page.path = "@/a".into();
        e.page.domain = "shop.example.com".into();
        e.page.referrer = "+https://evil.example/\r\n=cmd".into();
        e.geo.country = "DE".into();
        e.geo.region = "Berlin".into();
        e.geo.city = "－Berlin".into();
        e.geo.zone = "Europe/Berlin".into();
        e.device = Some(Device::Tablet);
        e.ip = Some(IpAddr::V6(Ipv6Addr::LOCALHOST));
        let meta = json!({"plan": "=SUM(1)", "n": -3, "big": u64::MAX, "x": 0.5, "flag": true,
                          "emoji": "🦀😀", "nested": {"a": [1, "-b"]}});
        e.metadata = meta.as_object().unwrap().clone();
        e
    }

    #[test]
    fn every_column_in_order_text_guarded_numbers_raw() {
        let keys = [
            "plan", "n", "big", "x", "flag", "nested", "emoji", "missing", "=k",
        ];
        let mut csv =
            EventLogCsv::with_metadata_columns(Vec::new(), keys, CsvOptions::default()).unwrap();
        let e = event();
        csv.write_event(&e).unwrap();
        assert_eq!(csv.rows(), 1);
        let rows = parse(&csv.finish().unwrap());
        let mut header: Vec<String> = EVENT_LOG_COLUMNS.map(String::from).to_vec();
        header.extend(keys.iter().map(|k| format!("metadata.{k}")));
        assert_eq!(rows[0], header);
        let metadata_json = serde_json::to_string(&e.metadata).unwrap();
        let want = [
            "evt,\"1\"",
            "2024-03-10T06:59:59.999999Z",
            "-42",
            "staff",
            "Page Viewed",
            "https://shop.example.com/a?b=1,2",
            "'@/a",
            "shop.example.com",
            "'+https://evil.example/\r\n=cmd",
            "DE",
            "Berlin",
            "'－Berlin",
            "Europe/Berlin",
            "Tablet",
            "::1",
            &metadata_json,
            "'=SUM(1)",
            "-3",
            "18446744073709551615",
            "0.5",
            "true",
            r#"{"a":[1,"-b"]}"#,
            "🦀😀",
            "",
            "",
        ];
        assert_eq!(rows[1], want);
        let back: Metadata = serde_json::from_str(&rows[1][15]).unwrap();
        assert_eq!(back, e.metadata);
    }

    #[test]
    fn metadata_key_headers_go_through_the_guard() {
        // A header cell is `metadata.<key>`, so no key can make it start a formula; with the
        // guard on or off it is written and read back verbatim.
        for options in [
            CsvOptions::default(),
            CsvOptions::default().with_formula_guard(false),
        ] {
            let keys = ["=HYPERLINK(\"x\")", "-1", "a,b", "line\nbreak"];
            let csv = EventLogCsv::with_metadata_columns(Vec::new(), keys, options).unwrap();
            let rows = parse(&csv.finish().unwrap());
            assert_eq!(rows.len(), 1);
            let extra: Vec<&str> = rows[0][EVENT_LOG_COLUMNS.len()..]
                .iter()
                .map(String::as_str)
                .collect();
            assert_eq!(
                extra,
                [
                    "metadata.=HYPERLINK(\"x\")",
                    "metadata.-1",
                    "metadata.a,b",
                    "metadata.line\nbreak"
                ]
            );
        }
    }

    #[test]
    fn an_event_without_context_has_empty_cells() {
        let mut csv = EventLogCsv::new(Vec::new(), CsvOptions::default()).unwrap();
        csv.write_event(&Event::new("1", CustomerId(1), "X", Timestamp::EPOCH))
            .unwrap();
        let rows = parse(&csv.finish().unwrap());
        assert_eq!(
            rows[1],
            [
                "1",
                "1970-01-01T00:00:00.000000Z",
                "1",
                "customer",
                "X",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "{}"
            ]
        );
    }

    #[test]
    fn a_key_listed_twice_is_refused() {
        let err =
            EventLogCsv::with_metadata_columns(Vec::new(), ["a", "b", "a"], CsvOptions::default())
                .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidQuery {
                    field: "metadata_columns",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn four_byte_utf8_in_names_and_metadata_is_byte_exact() {
        let mut e = Event::new("🦀", CustomerId(1), "Order 🎉 Submitted", Timestamp::EPOCH);
        e.metadata.insert("🔑".into(), "𝄞 value 😀".into());
        let mut csv =
            EventLogCsv::with_metadata_columns(Vec::new(), ["🔑"], CsvOptions::default()).unwrap();
        csv.write_event(&e).unwrap();
        let bytes = csv.finish().unwrap();
        for needle in [
            "\"Order 🎉 Submitted\"",
            "\"metadata.🔑\"",
            "\"𝄞 value 😀\"",
            "\"🦀\"",
        ] {
            assert!(
                bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle} not found byte for byte"
            );
        }
    }

    proptest! {
        #[test]
        fn fast_ips_write_what_display_writes(ip in any::<u32>()) {
            let ip = Ipv4Addr::from(ip);
            let (text, len) = ipv4_text(ip);
            let display = ip.to_string();
            prop_assert_eq!(&text[..len], display.as_bytes());
        }

        #[test]
        fn arbitrary_text_round_trips(
            id in any::<String>(),
            name in any::<String>(),
            path in "[ =+@\\-\t\r\n,\"'a-z\u{FF1D}\u{FF0B}\u{FF0D}\u{FF20}😀]{0,12}",
            referrer in any::<String>(),
            value in any::<String>(),
            key in any::<String>(),
            customer in any::<i64>(),
            micros in 0_i64..4_102_444_800_000_000,
        ) {
            let mut e = Event::new(id, CustomerId(customer), name, Timestamp::from_micros(micros));
            e.page.path = path;
            e.page.referrer = referrer;
            e.metadata.insert(key.clone(), Value::String(value.clone()));
            let mut csv = EventLogCsv::with_metadata_columns(Vec::new(), [key.clone()], CsvOptions::default())?;
            csv.write_event(&e)?;
            let rows = parse(&csv.finish()?);
            prop_assert_eq!(rows.len(), 2);
            prop_assert_eq!(&rows[0][16], &format!("metadata.{key}"));
            let row = &rows[1];
            // Each text cell reads back as the guarded value; removing the guard gives the original.
            for (cell, original) in [
                (&row[0], e.id.as_str()),
                (&row[4], e.name.as_str()),
                (&row[6], e.page.path.as_str()),
                (&row[8], e.page.referrer.as_str()),
                (&row[16], value.as_str()),
            ] {
                prop_assert_eq!(cell, &guard_formula(original).into_owned());
                prop_assert_eq!(unguard_formula(cell), original);
            }
            prop_assert_eq!(&row[1], &e.occurred_at.to_string());
            prop_assert_eq!(&row[2], &customer.to_string());
            let meta: Metadata = serde_json::from_str(&row[15]).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(meta, e.metadata);
        }
            #[test]
        fn a_batch_writes_the_bytes_its_events_write(
            ids in proptest::collection::vec("[0-9a-z=\"]{0,6}", 1..12),
            v6 in any::<u128>(),
            v4 in any::<u32>(),
            micros in proptest::collection::vec(-40_000_000_000_000_000_i64..260_000_000_000_000_000, 1..12),
        ) {
            let events: Vec<Event> = ids
                .iter()
                .zip(micros.iter().cycle())
                .enumerate()
                .map(|(i, (id, at))| {
                    let mut e = Event::new(id.as_str(), CustomerId(i as i64), id.as_str(), Timestamp::from_micros(*at));
                    e.page.domain = id.repeat(2);
                    e.ip = match i % 3 {
                        0 => None,
                        1 => Some(IpAddr::V4(Ipv4Addr::from(v4))),
                        _ => Some(IpAddr::V6(Ipv6Addr::from(v6))),
                    };
                    if i % 2 == 1 {
                        e.metadata.insert("k".into(), Value::String(id.clone()));
                        e.metadata.insert("n".into(), serde_json::json!([i, 0.5]));
                    }
                    e
                })
                .collect();
            for keys in [vec![], vec!["k", "n", "missing"]] {
                let mut one_by_one = EventLogCsv::with_metadata_columns(Vec::new(), keys.clone(), CsvOptions::default())?;
                for e in &events {
                    one_by_one.write_event(e)?;
                }
                let mut batched = EventLogCsv::with_metadata_columns(Vec::new(), keys, CsvOptions::default())?;
                batched.write_batch(&EventBatch::from_events(&events))?;
                prop_assert_eq!(batched.rows(), events.len() as u64);
                prop_assert_eq!(batched.finish()?, one_by_one.finish()?);
            }
        }
    }
}
