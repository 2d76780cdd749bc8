//! Events: one row of the activity log.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ids::{CustomerId, EventId};
use crate::error::Error;
use crate::time::Timestamp;

/// Free-form, event-specific fields (the detail panel's "Metadata" section).
pub type Metadata = serde_json::Map<String, serde_json::Value>;

/// Who performed an event.
///
/// The engagement score counts only what the customer did; the event log shows every actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// The customer acted themselves.
    Customer,
    /// Staff (an admin, customer service) acted on the customer's account.
    Staff,
    /// The system acted (a job, an integration).
    System,
}

impl Actor {
    /// Every actor, in storage order.
    pub const ALL: [Self; 3] = [Self::Customer, Self::Staff, Self::System];

    /// The lower-case name used in storage and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Staff => "staff",
            Self::System => "system",
        }
    }

    /// The small integer backends store (0 customer, 1 staff, 2 system).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The actor for a stored code, if it is one.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }
}

/// The device class an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Device {
    /// A desktop or laptop browser.
    Desktop,
    /// A phone.
    Mobile,
    /// A tablet.
    Tablet,
}

impl Device {
    /// Every device class, in storage order.
    pub const ALL: [Self; 3] = [Self::Desktop, Self::Mobile, Self::Tablet];

    /// The display name ("Desktop", "Mobile", "Tablet").
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Desktop => "Desktop",
            Self::Mobile => "Mobile",
            Self::Tablet => "Tablet",
        }
    }

    /// The device for a display name (any case), if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// Where an event happened. Empty text means unknown (or, for the referrer, direct traffic).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// Full URL.
    pub url: String,
    /// Path part of the URL ("/pricing").
    pub path: String,
    /// Host part of the URL ("shop.example.com").
    pub domain: String,
    /// Referrer URL; empty for direct traffic.
    pub referrer: String,
}

/// Where the customer was, resolved from the IP. Empty text means unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Geo {
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// Region or state.
    pub region: String,
    /// City.
    pub city: String,
    /// IANA time-zone name.
    pub zone: String,
}

/// One tracked event.
///
/// ```
/// use engagement_core::{CustomerId, Event, Timestamp, names};
///
/// let at: Timestamp = "2026-11-19T10:00:00Z".parse()?;
/// let e = Event::new("evt-1", CustomerId(7), names::PAGE_VIEWED, at);
/// assert_eq!(e.name, "Page Viewed");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The caller's idempotency key, unique within the workspace.
    pub id: EventId,
    /// The customer the event belongs to.
    pub customer: CustomerId,
    /// Who performed it.
    pub actor: Actor,
    /// The event name ("Page Viewed"); names are open data, see [`crate::names`].
    pub name: String,
    /// When it happened.
    pub occurred_at: Timestamp,
    /// When the system accepted it.
    pub received_at: Timestamp,
    /// Page context.
    pub page: Page,
    /// Geo context.
    pub geo: Geo,
    /// Device class, if known.
    pub device: Option<Device>,
    /// Originating IP address, if known.
    pub ip: Option<IpAddr>,
    /// Event-specific fields.
    pub metadata: Metadata,
}

impl Event {
    /// An event by the customer with no context; `received_at` starts equal to `occurred_at`.
    #[must_use]
    pub fn new(
        id: impl Into<EventId>,
        customer: CustomerId,
        name: impl Into<String>,
        occurred_at: Timestamp,
    ) -> Self {
        Self {
            id: id.into(),
            customer,
            actor: Actor::Customer,
            name: name.into(),
            occurred_at,
            received_at: occurred_at,
            page: Page::default(),
            geo: Geo::default(),
            device: None,
            ip: None,
            metadata: Metadata::new(),
        }
    }

    /// Writes the fields that have several spellings of one value in one spelling, as the
    /// ingestion paths store them ([`Ingestor`](crate::ingest::Ingestor) and the bulk
    /// import call it before validating): an IPv4 client's address as IPv4 (a dual-stack
    /// listener reports it as `::ffff:a.b.c.d`), and the page's domain in lower case, an
    /// internationalised name as its A-label, as a URL parser and the enricher write a host
    /// (domain names compare without case, and `bücher.example` is `xn--bcher-kva.example`).
    /// The event log's IP and domain filters are normalized the same way, so that they find
    /// every event of one client or one site. Events appended straight to a store are stored as given, as are those stored
    /// before this existed (2026-12-06): the filters, which look for the one spelling, miss
    /// such an event stored in another, and the event sent again counts as a conflict (the
    /// stored one is kept).
    ///
    /// ```
    /// use engagement_core::{CustomerId, Event, Timestamp};
    ///
    /// let mut event = Event::new("e1", CustomerId(7), "Page Viewed", Timestamp::EPOCH);
    /// event.ip = Some("::ffff:81.2.69.142".parse()?);
    /// event.page.domain = "Bücher.Example.com".into();
    /// event.normalize();
    /// assert_eq!(event.ip, Some("81.2.69.142".parse()?));
    /// assert_eq!(event.page.domain, "xn--bcher-kva.example.com");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn normalize(&mut self) {
        self.ip = self.ip.map(|ip| ip.to_canonical());
        normalize_domain(&mut self.page.domain);
    }

    /// Whether `other` carries the same payload: every field but `received_at`, which differs
    /// between a send and its retry. Two events with one id and different payloads conflict.
    pub fn same_payload(&self, other: &Self) -> bool {
        let Self {
            id,
            customer,
            actor,
            name,
            occurred_at,
            received_at: _,
            page,
            geo,
            device,
            ip,
            metadata,
        } = self;
        *id == other.id
            && *customer == other.customer
            && *actor == other.actor
            && *name == other.name
            && *occurred_at == other.occurred_at
            && *page == other.page
            && *geo == other.geo
            && *device == other.device
            && *ip == other.ip
            && *metadata == other.metadata
    }

    /// The event-log order key: (occurred_at, id).
    pub fn key(&self) -> EventKey {
        EventKey {
            at: self.occurred_at,
            id: self.id.clone(),
        }
    }
}

/// Writes a page domain in the one spelling ingestion stores: ASCII letters in lower case and
/// an internationalised name as its A-label (UTS 46 with the URL standard's forbidden code
/// points, as the `url` crate writes a host). A name IDNA refuses (a blank, a forbidden code
/// point) keeps its other letters as written: enrichment and ingestion never reject an event
/// for its page.
pub(crate) fn normalize_domain(domain: &mut String) {
    if !domain.is_ascii()
        && let Ok(ascii) = idna::domain_to_ascii_cow(domain.as_bytes(), idna::AsciiDenyList::URL)
    {
        *domain = ascii.into_owned();
        return;
    }
    domain.make_ascii_lowercase();
}

/// The position of an event in the log: time first, then id. Keyset pages resume after one.
///
/// As text (a page cursor in a link), `MICROS:EVENT_ID`: [`Display`](fmt::Display) writes it
/// and [`FromStr`] reads it back.
///
/// ```
/// use engagement_core::{EventKey, Timestamp};
///
/// let key = EventKey { at: Timestamp::from_micros(1_700_000_000_000_000), id: "ev:7".into() };
/// assert_eq!(key.to_string(), "1700000000000000:ev:7");
/// assert_eq!("1700000000000000:ev:7".parse::<EventKey>()?, key);
/// assert!("yesterday".parse::<EventKey>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventKey {
    /// When the event happened.
    pub at: Timestamp,
    /// The event's id, breaking ties within a microsecond.
    pub id: EventId,
}

impl fmt::Display for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.at.as_micros(), self.id.as_str())
    }
}

impl FromStr for EventKey {
    type Err = Error;

    /// Reads `MICROS:EVENT_ID` (the id may hold colons of its own).
    ///
    /// # Errors
    /// [`Error::InvalidQuery`] (field `after`) when the text is not such a cursor.
    fn from_str(text: &str) -> Result<Self, Error> {
        let bad = || Error::invalid_query("after", format!("{text:?} is not a page cursor"));
        let (micros, id) = text.split_once(':').ok_or_else(bad)?;
        Ok(Self {
            at: Timestamp::from_micros(micros.parse().map_err(|_| bad())?),
            id: EventId::new(id),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_at_is_not_payload() {
        let a = Event::new("1", CustomerId(1), "X", Timestamp::from_micros(5));
        let mut b = a.clone();
        b.received_at = Timestamp::from_micros(99);
        assert!(a.same_payload(&b));
        b.page.path = "/other".into();
        assert!(!a.same_payload(&b));
    }

    #[test]
    fn actor_codes_round_trip() {
        for a in Actor::ALL {
            assert_eq!(Actor::from_code(a.code()), Some(a));
        }
        assert_eq!(Actor::from_code(3), None);
    }

    #[test]
    fn device_names_parse() {
        assert_eq!(Device::parse("mobile"), Some(Device::Mobile));
        assert_eq!(Device::parse("Phone"), None);
    }
}
