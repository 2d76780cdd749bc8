//! One imported line, in the flat shape both readers accept, and its conversion to an [`Event`].

use std::net::IpAddr;
use std::sync::OnceLock;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::map::Entry;

use super::LineErrorKind;
use crate::error::Error;
use crate::model::event::{Actor, Device, Event};
use crate::model::ids::CustomerId;
use crate::time::Timestamp;

/// The columns (CSV) or keys (NDJSON) of an imported event. They are the columns of the
/// event-log CSV export ([`EVENT_LOG_COLUMNS`](crate::csv::EVENT_LOG_COLUMNS)), so an
/// [`EventLogCsv`](crate::csv::EventLogCsv) export read by a
/// [`CsvLines`](super::CsvLines) with the same formula-guard setting (both on by default)
/// gives back every field of every event but `received_at`, which the import stamps; its
/// `metadata.<key>` columns are only checked against `metadata`, which holds the whole object. `id`/`customer`
/// are accepted for `event_id`/`customer_id`, and an extra `user_agent` feeds enrichment. Only
/// `event_id`, `customer_id`, `name` and `occurred_at` are required.
#[derive(Debug, Deserialize)]
pub(crate) struct ImportRecord {
    #[serde(alias = "id")]
    event_id: String,
    #[serde(alias = "customer")]
    customer_id: i64,
    name: String,
    occurred_at: String,
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    referrer: Option<String>,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    city: Option<String>,
    #[serde(default)]
    zone: Option<String>,
    #[serde(default)]
    device: Option<String>,
    #[serde(default)]
    ip: Option<String>,
    #[serde(default)]
    metadata: Option<ReadMetadata>,
    #[serde(default)]
    pub(crate) user_agent: Option<String>,
}

/// The fields a record must have, each as its name and its aliases: a CSV header without one
/// of them can give no event.
pub(crate) const REQUIRED: [&[&str]; 4] = [
    &["event_id", "id"],
    &["customer_id", "customer"],
    &["name"],
    &["occurred_at"],
];

impl ImportRecord {
    /// Every key (NDJSON) or column (CSV) a record takes: each field's name and its aliases.
    pub(crate) fn keys() -> &'static [&'static str] {
        static KEYS: OnceLock<&'static [&'static str]> = OnceLock::new();
        KEYS.get_or_init(|| {
            let mut names = FieldNames(&[]);
            // The derived impl hands its list of names to `deserialize_struct`, which keeps it
            // and fails: the result is always that error.
            let _ = Self::deserialize(&mut names);
            names.0
        })
    }
}

/// A deserializer that reads nothing but the names a derived struct impl says it takes.
struct FieldNames(&'static [&'static str]);

impl<'de> Deserializer<'de> for &mut FieldNames {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("only a struct's field names are read"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = fields;
        self.deserialize_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

fn text(value: Option<String>) -> String {
    value.unwrap_or_default()
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl ImportRecord {
    /// The event this line describes; shape errors only (validation comes later).
    pub(crate) fn into_event(self) -> Result<Event, LineErrorKind> {
        let bad = |field: &'static str, reason: String| LineErrorKind::Field { field, reason };
        // The parser says why: not RFC 3339 at all, or finer than a microsecond.
        let occurred_at: Timestamp = self.occurred_at.parse().map_err(|e| match e {
            Error::InvalidQuery { reason, .. } => bad("occurred_at", reason),
            other => bad("occurred_at", other.to_string()),
        })?;
        let actor = match present(&self.actor) {
            None => Actor::Customer,
            Some(a) => Actor::ALL
                .into_iter()
                .find(|x| x.as_str().eq_ignore_ascii_case(a))
                .ok_or_else(|| bad("actor", format!("{a:?} is not customer, staff or system")))?,
        };
        let device =
            match present(&self.device) {
                None => None,
                Some(d) => Some(Device::parse(d).ok_or_else(|| {
                    bad("device", format!("{d:?} is not Desktop, Mobile or Tablet"))
                })?),
            };
        let ip = match present(&self.ip) {
            None => None,
            Some(ip) => Some(
                ip.parse::<IpAddr>()
                    .map_err(|_| bad("ip", format!("{ip:?} is not an IP address")))?,
            ),
        };
        let metadata = match self.metadata {
            None => serde_json::Map::new(),
            Some(ReadMetadata {
                value: Value::String(s),
                ..
            }) => {
                if s.trim().is_empty() {
                    serde_json::Map::new()
                } else {
                    let parsed: ReadMetadata = serde_json::from_str(&s)
                        .map_err(|e| bad("metadata", format!("not JSON: {}", json_reason(&e))))?;
                    let map = parsed.into_object()?;
                    check_numbers(&s)?;
                    map
                }
            }
            Some(metadata) => metadata.into_object()?,
        };
        let mut event = Event::new(
            self.event_id,
            CustomerId(self.customer_id),
            self.name,
            occurred_at,
        );
        event.actor = actor;
        event.device = device;
        event.ip = ip;
        event.metadata = metadata;
        event.page.url = text(self.url);
        event.page.path = text(self.path);
        event.page.domain = text(self.domain);
        event.page.referrer = text(self.referrer);
        event.geo.country = text(self.country);
        event.geo.region = text(self.region);
        event.geo.city = text(self.city);
        event.geo.zone = text(self.zone);
        Ok(event)
    }
}

/// What `serde_json` says of `error`, without the line and column it adds: it reads one
/// NDJSON line or one CSV cell at a time, so its line is not the file's, and the import names
/// the file's.
pub(crate) fn json_reason(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    match text.strip_suffix(&position) {
        Some(reason) => reason.to_owned(),
        None => text,
    }
}

/// A `metadata` value as read, and where an object in it gave a key twice, if one did: a JSON
/// object read as a [`Value`] keeps the last value of a repeated key and drops the others
/// unseen, so the reading notes the first repeat for [`into_object`](Self::into_object) to
/// refuse.
#[derive(Debug)]
pub(crate) struct ReadMetadata {
    value: Value,
    /// Where the repeated key is, from the top, each key after a `.` and each array index in
    /// brackets: `.plan`, `.a.x`, `.a[1].x`.
    repeated: Option<String>,
}

impl ReadMetadata {
    /// The metadata object; an error when it is another value or gave a key twice.
    fn into_object(self) -> Result<serde_json::Map<String, Value>, LineErrorKind> {
        let bad = |reason: String| LineErrorKind::Field {
            field: "metadata",
            reason,
        };
        if let Some(path) = self.repeated {
            let key = path.strip_prefix('.').unwrap_or(&path);
            return Err(bad(format!(
                "the key `{key}` is given twice: one value of it would be lost; give it once"
            )));
        }
        match self.value {
            Value::Object(map) => Ok(map),
            _ => Err(bad("metadata must be a JSON object".into())),
        }
    }

    fn scalar(value: impl Into<Value>) -> Self {
        Self {
            value: value.into(),
            repeated: None,
        }
    }
}

impl<'de> Deserialize<'de> for ReadMetadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ReadMetadataVisitor)
    }
}

/// Reads any value as a [`Value`] does, noting the first key an object repeats.
struct ReadMetadataVisitor;

impl<'de> Visitor<'de> for ReadMetadataVisitor {
    type Value = ReadMetadata;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<ReadMetadata, E> {
        Ok(ReadMetadata::scalar(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ReadMetadata, E> {
        Ok(ReadMetadata::scalar(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ReadMetadata, E> {
        Ok(ReadMetadata::scalar(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<ReadMetadata, E> {
        // As a `Value` reads it: a float JSON cannot write (NaN, infinite) is null.
        Ok(ReadMetadata::scalar(
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ReadMetadata, E> {
        Ok(ReadMetadata::scalar(v))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<ReadMetadata, E> {
        Ok(ReadMetadata::scalar(v))
    }

    fn visit_none<E: de::Error>(self) -> Result<ReadMetadata, E> {
        Ok(ReadMetadata::scalar(Value::Null))
    }

    fn visit_unit<E: de::Error>(self) -> Result<ReadMetadata, E> {
        Ok(ReadMetadata::scalar(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<ReadMetadata, D::Error> {
        ReadMetadata::deserialize(deserializer)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<ReadMetadata, A::Error> {
        let (mut values, mut repeated) = (Vec::new(), None);
        while let Some(item) = seq.next_element::<ReadMetadata>()? {
            if let Some(path) = item.repeated.filter(|_| repeated.is_none()) {
                repeated = Some(format!("[{}]{path}", values.len()));
            }
            values.push(item.value);
        }
        Ok(ReadMetadata {
            value: Value::Array(values),
            repeated,
        })
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<ReadMetadata, A::Error> {
        let (mut object, mut repeated) = (serde_json::Map::new(), None);
        while let Some(key) = map.next_key::<String>()? {
            let item = map.next_value::<ReadMetadata>()?;
            // One look-up a key; the value of a repeated key is not kept, as the line is refused.
            match object.entry(key) {
                Entry::Occupied(first) => {
                    repeated.get_or_insert_with(|| format!(".{}", first.key()));
                }
                Entry::Vacant(slot) => {
                    if let Some(path) = item.repeated.filter(|_| repeated.is_none()) {
                        repeated = Some(format!(".{}{path}", slot.key()));
                    }
                    slot.insert(item.value);
                }
            }
        }
        Ok(ReadMetadata {
            value: Value::Object(object),
            repeated,
        })
    }
}

/// Refuses metadata whose JSON text has a number that reading it would change: an integer
/// beyond 64 bits, which would be read as a float and lose digits
/// (`123456789012345678901234` stored as `1.2345678901234569e+23`), or a number with more
/// significant digits than a 64-bit float keeps (`0.12345678901234567890` stored as
/// `0.12345678901234568`).
pub(crate) fn check_numbers(json: &str) -> Result<(), LineErrorKind> {
    let Some(number) = changed_number(json) else {
        return Ok(());
    };
    let reason = if is_integer(number) {
        format!(
            "the integer {number} does not fit in 64 bits and would lose digits; write it as a string"
        )
    } else {
        format!(
            "the number {number} has more digits than a 64-bit float keeps and would lose some; \
             write it as a string"
        )
    };
    Err(LineErrorKind::Field {
        field: "metadata",
        reason,
    })
}

/// Significant digits every decimal of which a 64-bit float keeps (`f64::DIGITS`): a number
/// with no more reads back as itself.
const EXACT_DIGITS: usize = f64::DIGITS as usize;

/// The first number of the JSON text `json`, outside its strings, that reading it as JSON
/// changes: an integer that fits neither `i64` nor `u64`, or another number whose nearest
/// `f64` is not its own decimal value. Text with no run of more than [`EXACT_DIGITS`] digits
/// and points has none, and is not scanned.
pub(crate) fn changed_number(json: &str) -> Option<&str> {
    let bytes = json.as_bytes();
    let longest_run = bytes
        .split(|b| !(b.is_ascii_digit() || *b == b'.'))
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0);
    if longest_run <= EXACT_DIGITS {
        return None;
    }
    let (mut i, mut in_string) = (0, false);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            b'-' | b'0'..=b'9' if !in_string => {
                let start = i;
                while bytes
                    .get(i + 1)
                    .is_some_and(|b| b.is_ascii_digit() || b"+-.eE".contains(b))
                {
                    i += 1;
                }
                let number = &json[start..=i];
                let changed = if is_integer(number) {
                    number.parse::<i64>().is_err() && number.parse::<u64>().is_err()
                } else {
                    !reads_back_as_itself(number)
                };
                if changed {
                    return Some(number);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn is_integer(number: &str) -> bool {
    !number.contains(['.', 'e', 'E'])
}

/// Whether the JSON number `number` (with a fraction or an exponent) has the decimal value of
/// the `f64` nearest it, so that reading it and writing it again (in the shortest form that
/// reads back, as `serde_json` does) changes at most its spelling (`1.50` → `1.5`).
fn reads_back_as_itself(number: &str) -> bool {
    let Some(written) = Decimal::parse(number) else {
        return false;
    };
    if written.digits.len() <= EXACT_DIGITS {
        return true;
    }
    let Ok(read) = number.parse::<f64>() else {
        return false;
    };
    read.is_finite() && Decimal::parse(&format!("{read:e}")).is_some_and(|back| back == written)
}

/// A decimal number as its significant digits (no leading or trailing zeros) and the power
/// of ten of the place before the first: `-0.0150` is `-`, `15`, `-1` (0.15 × 10⁻¹).
#[derive(Debug, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    digits: String,
    /// 0 for zero, which has no digits.
    exponent: i64,
}

impl Decimal {
    /// Reads `-?digits(.digits)?([eE][+-]?digits)?`; `None` for anything else, or an exponent
    /// beyond `i64`.
    fn parse(text: &str) -> Option<Self> {
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
            Some((m, e)) => (m, e.strip_prefix('+').unwrap_or(e).parse::<i64>().ok()?),
            None => (unsigned, 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all = || whole.bytes().chain(fraction.bytes());
        if whole.is_empty() || !all().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let leading = all().take_while(|&b| b == b'0').count();
        let digits: String = all()
            .skip(leading)
            .map(char::from)
            .collect::<String>()
            .trim_end_matches('0')
            .to_owned();
        let places = i64::try_from(whole.len()).ok()? - i64::try_from(leading).ok()?;
        Some(Self {
            negative: negative && !digits.is_empty(),
            exponent: if digits.is_empty() {
                0
            } else {
                places.checked_add(exponent)?
            },
            digits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_too_wide_for_64_bits_are_found_outside_strings_only() {
        let wide = "123456789012345678901234";
        assert_eq!(
            changed_number(&format!(r#"{{"order":{wide}}}"#)),
            Some(wide)
        );
        assert_eq!(
            changed_number(r#"{"a":[1,-99999999999999999999]}"#),
            Some("-99999999999999999999")
        );
        for fits in [
            r#"{"order":"123456789012345678901234"}"#,
            r#"{"k\"":"1234567890123456789012","n":18446744073709551615}"#,
            r#"{"min":-9223372036854775808,"small":7}"#,
        ] {
            assert_eq!(changed_number(fits), None, "{fits}");
        }
    }

    #[test]
    fn numbers_with_more_digits_than_a_float_keeps_are_found() {
        for (json, changed) in [
            (r#"{"f":0.12345678901234567890}"#, "0.12345678901234567890"),
            (r#"{"f":9007199254740993.0}"#, "9007199254740993.0"),
            (
                r#"{"f":1234567890123456789012.5}"#,
                "1234567890123456789012.5",
            ),
            (
                r#"{"e":[1,-1.2345678901234567890e-5]}"#,
                "-1.2345678901234567890e-5",
            ),
            (
                r#"{"e":1234567890123456789012e3}"#,
                "1234567890123456789012e3",
            ),
        ] {
            assert_eq!(changed_number(json), Some(changed), "{json}");
        }
        // Spelled otherwise but read back as the same decimal: kept.
        for same in [
            r#"{"f":0.1,"g":1.50,"h":1e2,"i":-0.0}"#,
            r#"{"f":985.6906946328695,"g":0.30000000000000004}"#,
            r#"{"f":123456789012345.60000,"g":9007199254740992.0}"#,
            r#"{"f":1.7976931348623157e308,"g":5e-324,"h":0.000000000000000000001}"#,
            r#"{"s":"0.12345678901234567890"}"#,
        ] {
            assert_eq!(changed_number(same), None, "{same}");
        }
    }

    #[test]
    fn the_keys_are_every_field_and_alias() {
        let keys = ImportRecord::keys();
        for key in [
            "event_id",
            "id",
            "customer_id",
            "customer",
            "metadata",
            "user_agent",
        ] {
            assert!(keys.contains(&key), "{key} in {keys:?}");
        }
        assert_eq!(keys.len(), 19, "{keys:?}");
        assert!(!keys.contains(&"received_at"));
    }

    /// [`REQUIRED`] names what the record's deserializer requires: without any name of one
    /// field the record is refused, with any one of its names it is read.
    #[test]
    fn the_required_fields_are_the_deserializers() {
        let value = |names: &[&str]| {
            serde_json::json!(
                names
                    .iter()
                    .map(|n| {
                        let v = if n.starts_with("customer") {
                            serde_json::json!(1)
                        } else {
                            serde_json::json!("x")
                        };
                        ((*n).to_owned(), v)
                    })
                    .collect::<serde_json::Map<_, _>>()
            )
        };
        for (i, field) in REQUIRED.iter().enumerate() {
            let others: Vec<&str> = REQUIRED
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, f)| f[0])
                .collect();
            assert!(
                serde_json::from_value::<ImportRecord>(value(&others)).is_err(),
                "{field:?}"
            );
            for name in *field {
                let mut all = others.clone();
                all.push(name);
                assert!(
                    serde_json::from_value::<ImportRecord>(value(&all)).is_ok(),
                    "{name}"
                );
            }
        }
    }

    fn record(occurred_at: &str) -> ImportRecord {
        let json = serde_json::json!({
            "event_id": "e1", "customer_id": 1, "name": "X", "occurred_at": occurred_at,
        });
        serde_json::from_value(json).unwrap()
    }

    fn occurred_at_reason(occurred_at: &str) -> String {
        match record(occurred_at).into_event() {
            Err(LineErrorKind::Field {
                field: "occurred_at",
                reason,
            }) => reason,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_instant_finer_than_a_microsecond_is_refused_saying_so() {
        let reason = occurred_at_reason("2026-11-19T10:00:00.1234567Z");
        assert!(reason.contains("sub-microsecond"), "{reason}");
        let reason = occurred_at_reason("yesterday");
        assert!(reason.contains("not RFC 3339"), "{reason}");
        assert!(record("2026-11-19T10:00:00.123456Z").into_event().is_ok());
    }
}
