//! [`TablePrefix`]: where our tables sit beside the host application's own.

use std::fmt;
use std::sync::Arc;

use engagement_core::{Error, Result};

/// The prefix of every table the store creates (`engagement_` by default), so that the tables
/// sit beside the host application's own without colliding with them.
///
/// A prefix is formatted into SQL, so it is restricted to what needs no quoting on any database:
/// 1 to 40 ASCII lower-case letters, digits and underscores, starting with a letter.
///
/// ```
/// use engagement_sqlx::TablePrefix;
///
/// let prefix = TablePrefix::new("shop_engagement_")?;
/// assert_eq!(prefix.as_str(), "shop_engagement_");
/// assert!(TablePrefix::new("bad-prefix").is_err());
/// assert_eq!(TablePrefix::default().as_str(), "engagement_");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TablePrefix(Arc<str>);

impl TablePrefix {
    /// The longest prefix accepted, in bytes (table names stay under every engine's limit).
    pub const MAX_LEN: usize = 40;

    /// A checked prefix.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when the prefix is empty, longer than [`Self::MAX_LEN`], does not
    /// start with a letter or holds anything but `a-z`, `0-9` and `_`.
    pub fn new(prefix: impl Into<String>) -> Result<Self> {
        let prefix = prefix.into();
        let valid = prefix.len() <= Self::MAX_LEN
            && prefix.starts_with(|c: char| c.is_ascii_lowercase())
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(Error::invalid_config(
                "table_prefix",
                format!(
                    "{prefix:?} is not a table prefix: use 1 to {} characters a-z, 0-9 and _, \
                     starting with a letter",
                    Self::MAX_LEN
                ),
            ));
        }
        Ok(Self(prefix.into()))
    }

    /// The prefix as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for TablePrefix {
    fn default() -> Self {
        Self("engagement_".into())
    }
}

impl fmt::Debug for TablePrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// The full names of our tables under one prefix.
#[derive(Debug, Clone)]
pub(crate) struct Tables {
    pub(crate) prefix: TablePrefix,
    pub(crate) events: Arc<str>,
    pub(crate) customers: Arc<str>,
    pub(crate) daily: Arc<str>,
    /// Every customer's count of counted events.
    pub(crate) totals: Arc<str>,
    /// The event log's counts per day, name, actor and domain.
    pub(crate) log_counts: Arc<str>,
    /// The events' index by (customer, time, id).
    pub(crate) events_by_customer: Arc<str>,
    /// The events' index by (name, time).
    pub(crate) events_by_name: Arc<str>,
    pub(crate) ledger: Arc<str>,
}

impl Tables {
    pub(crate) fn new(prefix: TablePrefix) -> Self {
        let name = |table: &str| Arc::from(format!("{}{table}", prefix.as_str()));
        Self {
            events: name("events"),
            customers: name("customers"),
            daily: name("daily"),
            totals: name("totals"),
            log_counts: name("log_counts"),
            events_by_customer: name("events_customer"),
            events_by_name: name("events_name"),
            ledger: name("schema_migrations"),
            prefix,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_checked() {
        for bad in [
            "",
            "1abc",
            "Abc",
            "a-b",
            "a b",
            "a;drop",
            "é",
            &"a".repeat(41),
        ] {
            assert!(
                matches!(
                    TablePrefix::new(bad),
                    Err(Error::InvalidConfig {
                        setting: "table_prefix",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        for good in ["a", "engagement_", "app2_", &"a".repeat(40)] {
            assert!(TablePrefix::new(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn tables_carry_the_prefix() {
        let t = Tables::new(TablePrefix::new("x_").unwrap());
        assert_eq!(&*t.events, "x_events");
        assert_eq!(&*t.customers, "x_customers");
        assert_eq!(&*t.daily, "x_daily");
        assert_eq!(&*t.totals, "x_totals");
        assert_eq!(&*t.log_counts, "x_log_counts");
        assert_eq!(&*t.ledger, "x_schema_migrations");
    }
}
