//! One imported line, in the flat shape both readers accept, and its conversion to an [`Event`].

use std::net::IpAddr;
use std::sync::OnceLock;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

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
    metadata: Option<Value>,
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
            None | Some(Value::Null) => serde_json::Map::new(),
            Some(Value::Object(map)) => map,
            Some(Value::String(s)) if s.trim().is_empty() => serde_json::Map::new(),
            Some(Value::String(s)) => match serde_json::from_str(&s) {
                Ok(Value::Object(map)) => {
                    check_integers(&s)?;
                    map
                }
                Ok(_) => return Err(bad("metadata", "metadata must be a JSON object".into())),
                Err(e) => return Err(bad("metadata", format!("not JSON: {e}"))),
            },
            Some(_) => return Err(bad("metadata", "metadata must be a JSON object".into())),
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

/// Refuses metadata whose JSON text has an integer beyond 64 bits, which would be read as a
/// float and lose digits (`123456789012345678901234` stored as `1.2345678901234569e+23`).
pub(crate) fn check_integers(json: &str) -> Result<(), LineErrorKind> {
    match wide_integer(json) {
        None => Ok(()),
        Some(number) => Err(LineErrorKind::Field {
            field: "metadata",
            reason: format!(
                "the integer {number} does not fit in 64 bits and would lose digits; write it as a string"
            ),
        }),
    }
}

/// The first integer of the JSON text `json`, outside its strings, that fits neither `i64` nor
/// `u64`. Text with no run of 19 digits has none (`i64::MIN` has the fewest digits of any
/// integer too wide), and is not scanned.
pub(crate) fn wide_integer(json: &str) -> Option<&str> {
    let bytes = json.as_bytes();
    let longest_run = bytes
        .split(|b| !b.is_ascii_digit())
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0);
    if longest_run < 19 {
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
                let integer = !number.contains(['.', 'e', 'E']);
                if integer && number.parse::<i64>().is_err() && number.parse::<u64>().is_err() {
                    return Some(number);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_too_wide_for_64_bits_are_found_outside_strings_only() {
        let wide = "123456789012345678901234";
        assert_eq!(wide_integer(&format!(r#"{{"order":{wide}}}"#)), Some(wide));
        assert_eq!(
            wide_integer(r#"{"a":[1,-99999999999999999999]}"#),
            Some("-99999999999999999999")
        );
        for fits in [
            r#"{"order":"123456789012345678901234"}"#,
            r#"{"k\"":"1234567890123456789012","n":18446744073709551615}"#,
            r#"{"min":-9223372036854775808,"f":1234567890123456789012.5}"#,
            r#"{"e":1234567890123456789012e3,"small":7}"#,
        ] {
            assert_eq!(wide_integer(fits), None, "{fits}");
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
