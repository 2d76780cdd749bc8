//! Durations in JSON as whole microseconds (`82800000000` for 23 hours), the unit instants are
//! kept in, instead of chrono's `[seconds, nanoseconds]` pair. For `#[serde(with = …)]`.

use chrono::TimeDelta;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration as whole microseconds; one that does not fit, or has a fraction of a
/// microsecond, is refused, not clamped or truncated.
pub(crate) fn serialize<S: Serializer>(value: &TimeDelta, s: S) -> Result<S::Ok, S::Error> {
    if value.subsec_nanos() % 1_000 != 0 {
        return Err(serde::ser::Error::custom(format!(
            "{value} has a fraction of a microsecond, which the JSON of a duration cannot keep"
        )));
    }
    value
        .num_microseconds()
        .ok_or_else(|| serde::ser::Error::custom("a duration beyond ±292,000 years"))?
        .serialize(s)
}

/// A duration from whole microseconds.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TimeDelta, D::Error> {
    Ok(TimeDelta::microseconds(i64::deserialize(d)?))
}

/// The same for an optional duration (`null` for none).
pub(crate) mod option {
    use chrono::TimeDelta;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<TimeDelta>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => super::serialize(value, s),
            None => None::<i64>.serialize(s),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<TimeDelta>, D::Error> {
        Ok(Option::<i64>::deserialize(d)?.map(TimeDelta::microseconds))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Both {
        #[serde(with = "super")]
        window: TimeDelta,
        #[serde(with = "super::option")]
        median: Option<TimeDelta>,
    }

    #[test]
    fn durations_are_whole_microseconds_in_json() {
        let both = Both {
            window: TimeDelta::hours(23),
            median: Some(TimeDelta::microseconds(1_500_001)),
        };
        let json = serde_json::to_string(&both).unwrap();
        assert_eq!(json, r#"{"window":82800000000,"median":1500001}"#);
        assert_eq!(serde_json::from_str::<Both>(&json).unwrap(), both);
        let none = r#"{"window":1,"median":null}"#;
        assert_eq!(serde_json::from_str::<Both>(none).unwrap().median, None);
        let too_long = Both {
            window: TimeDelta::MAX,
            median: None,
        };
        assert!(serde_json::to_string(&too_long).is_err());
    }

    #[test]
    fn a_fraction_of_a_microsecond_is_refused_not_truncated() {
        for window in [TimeDelta::nanoseconds(1_500), TimeDelta::nanoseconds(-1)] {
            let both = Both {
                window,
                median: None,
            };
            assert!(serde_json::to_string(&both).is_err(), "{window}");
        }
    }
}
