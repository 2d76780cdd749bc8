//! [`Dictionaries`]: the interned values an encoded [`Row`] refers to, and the conversion
//! between [`Event`] and [`Row`].

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use engagement_core::{CustomerId, Event, EventRef, Geo, Metadata, Page, Timestamp};

use crate::columns::{Columns, Flags, IpKind, Row};
use crate::error::MemoryError;
use crate::intern::{Renumbering, StrInterner, ValueInterner};

/// Position of the path in a page tuple (url, path, domain, referrer).
pub(crate) const PATH: usize = 1;
/// Domain.
pub(crate) const DOMAIN: usize = 2;
/// Referrer.
pub(crate) const REFERRER: usize = 3;

/// The compact JSON of empty metadata.
const EMPTY_METADATA: &str = "{}";

/// Every interned table of a workspace.
#[derive(Debug, Default)]
pub(crate) struct Dictionaries {
    /// Event names.
    pub(crate) names: StrInterner,
    /// Page and geo text.
    pub(crate) text: StrInterner,
    /// (url, path, domain, referrer) as text numbers.
    pub(crate) pages: ValueInterner<[u32; 4]>,
    /// (country, region, city, zone) as text numbers.
    pub(crate) geos: ValueInterner<[u32; 4]>,
    /// IPv6 addresses.
    pub(crate) ipv6: ValueInterner<[u8; 16]>,
    /// Compact metadata JSON.
    pub(crate) metadata: StrInterner,
    /// The number of the empty text, once interned.
    empty_text: Option<u32>,
    /// The number of [`EMPTY_METADATA`], once interned.
    empty_metadata: Option<u32>,
}

/// The number of `value` in `interner`; of `common` (remembered in `known`) without a lookup.
/// Most events have no URL, region, city, zone or metadata: four of the ten strings an event
/// interns are empty.
fn intern_or_known(
    interner: &mut StrInterner,
    known: &mut Option<u32>,
    common: &str,
    value: &str,
) -> u32 {
    if value != common {
        return interner.intern(value);
    }
    *known.get_or_insert_with(|| interner.intern(common))
}

/// Serializes metadata compactly (done before a batch mutates anything).
pub(crate) fn metadata_json(metadata: &Metadata) -> Result<Cow<'static, str>, MemoryError> {
    if metadata.is_empty() {
        return Ok(Cow::Borrowed(EMPTY_METADATA));
    }
    serde_json::to_string(metadata)
        .map(Cow::Owned)
        .map_err(MemoryError::Metadata)
}

impl Dictionaries {
    /// Encodes `event` as event `number`, interning what is new.
    pub(crate) fn encode<'a>(
        &mut self,
        event: &'a Event,
        customer: u32,
        metadata_json: &str,
        number: u32,
    ) -> Row<'a> {
        let Page {
            url,
            path,
            domain,
            referrer,
        } = &event.page;
        let mut text = |s: &str| intern_or_known(&mut self.text, &mut self.empty_text, "", s);
        let page = [url, path, domain, referrer].map(|s| text(s));
        let Geo {
            country,
            region,
            city,
            zone,
        } = &event.geo;
        let geo = [country, region, city, zone].map(|s| text(s));
        let (kind, ip) = match event.ip {
            None => (IpKind::None, 0),
            Some(IpAddr::V4(v4)) => (IpKind::V4, u32::from(v4)),
            Some(IpAddr::V6(v6)) => (IpKind::V6, self.ipv6.intern(&v6.octets())),
        };
        Row {
            at: event.occurred_at.as_micros(),
            received: event.received_at.as_micros(),
            customer,
            name: self.names.intern(&event.name),
            flags: Flags::new(event.actor, event.device, kind),
            page: self.pages.intern(&page),
            geo: self.geos.intern(&geo),
            ip,
            meta: intern_or_known(
                &mut self.metadata,
                &mut self.empty_metadata,
                EMPTY_METADATA,
                metadata_json,
            ),
            id: Cow::Borrowed(event.id.as_str()),
            number,
        }
    }

    /// The page tuple of the event at `pos`.
    pub(crate) fn page_of(&self, cols: &Columns, pos: usize) -> [u32; 4] {
        *self.pages.get(cols.page[pos])
    }

    /// The IP of the event at `pos`.
    pub(crate) fn ip_of(&self, cols: &Columns, pos: usize) -> Option<IpAddr> {
        let raw = cols.ip[pos];
        match cols.flags(pos).ip_kind() {
            IpKind::None => None,
            IpKind::V4 => Some(IpAddr::V4(Ipv4Addr::from(raw))),
            IpKind::V6 => Some(IpAddr::V6(Ipv6Addr::from(*self.ipv6.get(raw)))),
        }
    }

    /// The event at `pos`, whose customer is `customer`, borrowed from the columns and the
    /// dictionaries.
    pub(crate) fn view<'a>(
        &'a self,
        cols: &'a Columns,
        pos: usize,
        customer: CustomerId,
    ) -> EventRef<'a> {
        let text = |i: u32| self.text.get(i);
        let [url, path, domain, referrer] = self.page_of(cols, pos).map(text);
        let [country, region, city, zone] = self.geos.get(cols.geo[pos]).map(text);
        let flags = cols.flags(pos);
        EventRef {
            id: cols.ids.get(pos),
            customer,
            actor: flags.actor(),
            name: self.names.get(cols.name[pos]),
            occurred_at: Timestamp::from_micros(cols.at[pos]),
            received_at: Timestamp::from_micros(cols.received[pos]),
            url,
            path,
            domain,
            referrer,
            country,
            region,
            city,
            zone,
            device: flags.device(),
            ip: self.ip_of(cols, pos),
            metadata: self.metadata.get(cols.meta[pos]),
        }
    }

    /// Rebuilds the event at `pos`, whose customer is `customer`.
    pub(crate) fn decode(
        &self,
        cols: &Columns,
        pos: usize,
        customer: CustomerId,
    ) -> Result<Event, MemoryError> {
        self.view(cols, pos, customer)
            .to_event()
            .map_err(MemoryError::Metadata)
    }

    /// Dictionaries holding only the values the events of `cols` use, with the columns
    /// renumbered into them: after a purge, what only the removed events used (a URL with a
    /// session id, an erased customer's metadata or address) is forgotten, so memory follows
    /// the events held.
    pub(crate) fn compacted(&self, cols: &mut Columns) -> Self {
        let mut kept = Self::default();
        let mut names = Renumbering::new(self.names.len());
        for name in &mut cols.name {
            *name = names.map(*name, |old| kept.names.intern(self.names.get(old)));
        }
        let mut texts = Renumbering::new(self.text.len());
        let mut text = |old: u32, kept: &mut StrInterner| {
            texts.map(old, |old| kept.intern(self.text.get(old)))
        };
        let mut pages = Renumbering::new(self.pages.len());
        for page in &mut cols.page {
            *page = pages.map(*page, |old| {
                let tuple = self.pages.get(old).map(|t| text(t, &mut kept.text));
                kept.pages.intern(&tuple)
            });
        }
        let mut geos = Renumbering::new(self.geos.len());
        for geo in &mut cols.geo {
            *geo = geos.map(*geo, |old| {
                let tuple = self.geos.get(old).map(|t| text(t, &mut kept.text));
                kept.geos.intern(&tuple)
            });
        }
        let mut ipv6 = Renumbering::new(self.ipv6.len());
        for (ip, &flags) in cols.ip.iter_mut().zip(&cols.flags) {
            if Flags(flags).ip_kind() == IpKind::V6 {
                *ip = ipv6.map(*ip, |old| kept.ipv6.intern(self.ipv6.get(old)));
            }
        }
        let mut metadata = Renumbering::new(self.metadata.len());
        for meta in &mut cols.meta {
            *meta = metadata.map(*meta, |old| kept.metadata.intern(self.metadata.get(old)));
        }
        kept.empty_text = kept.text.lookup("");
        kept.empty_metadata = kept.metadata.lookup(EMPTY_METADATA);
        kept
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.names.heap_bytes()
            + self.text.heap_bytes()
            + self.pages.heap_bytes()
            + self.geos.heap_bytes()
            + self.ipv6.heap_bytes()
            + self.metadata.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engagement_core::{Actor, Device};
    use serde_json::json;

    #[test]
    fn every_field_round_trips() {
        let mut e = Event::new(
            "id-1",
            CustomerId(-4),
            "👍 Liked",
            Timestamp::from_micros(77),
        );
        e.actor = Actor::Staff;
        e.received_at = Timestamp::from_micros(99);
        e.page = Page {
            url: "https://a.test/x".into(),
            path: "/x".into(),
            domain: "a.test".into(),
            referrer: String::new(),
        };
        e.geo = Geo {
            country: "DE".into(),
            region: "BE".into(),
            city: "Berlin".into(),
            zone: "Europe/Berlin".into(),
        };
        e.device = Some(Device::Mobile);
        e.metadata.insert("k".into(), json!({"n": [1, 2.5, "ü"]}));
        let mut d = Dictionaries::default();
        let mut cols = Columns::default();
        for ip in [None, Some("10.1.2.3"), Some("2001:db8::1")] {
            e.ip = ip.map(|s| s.parse().unwrap());
            let json = metadata_json(&e.metadata).unwrap();
            let row = d.encode(&e, 0, &json, cols.len() as u32);
            cols.push(&row);
            let back = d.decode(&cols, cols.len() - 1, e.customer).unwrap();
            assert_eq!(back, e);
        }
        assert_eq!(d.pages.len(), 1);
        assert_eq!(metadata_json(&Metadata::new()).unwrap(), "{}");
    }
}
