//! Enrichment: device, geo and page context added to an event from the request it came with,
//! as the event log shows it ("enriched with customer, geo, device, and page context").
//!
//! Enrichment fills only what the sender left empty and never rejects an event: what cannot be
//! resolved stays empty. Customer name and email are not copied into events; the reports join
//! them at read time, so a renamed customer shows the new name.
//!
//! ```
//! use std::net::IpAddr;
//! use engagement_core::enrich::{Enricher, RequestContext};
//! use engagement_core::{CustomerId, Device, Event, names};
//!
//! let mut event = Event::new("e1", CustomerId(7), names::PAGE_VIEWED, "2026-11-20T12:00:00Z".parse()?);
//! let context = RequestContext {
//!     user_agent: Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"),
//!     ip: Some("81.2.69.142".parse()?),
//!     url: Some("https://shop.acme.test/pricing?plan=pro"),
//!     referrer: None,
//! };
//! Enricher::new().enrich(&mut event, &context);
//! assert_eq!(event.device, Some(Device::Desktop));
//! assert_eq!((event.page.domain.as_str(), event.page.path.as_str()), ("shop.acme.test", "/pricing"));
//! assert_eq!(event.ip, Some("81.2.69.142".parse::<IpAddr>()?));
//! assert!(event.geo.country.is_empty(), "no geo resolver configured");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod device;
#[cfg(feature = "mmdb")]
mod mmdb;
mod page;

use std::fmt::Debug;
use std::net::IpAddr;
use std::sync::Arc;

pub use device::device_class;
#[cfg(feature = "mmdb")]
pub use mmdb::MmdbResolver;
pub use page::domain_and_path;

use crate::model::event::{Event, Geo};

/// Resolves an IP address to where it is. Implementations answer from memory (no I/O per
/// lookup) and return `None` for what they do not know.
pub trait GeoResolver: Debug + Send + Sync + 'static {
    /// Country, region, city and zone of `ip`, each empty when unknown; `None` when nothing is.
    fn resolve(&self, ip: IpAddr) -> Option<Geo>;
}

/// What the request that carried an event says about it (the host reads these from its HTTP
/// request: the `User-Agent` header, the client address, the page URL and referrer).
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestContext<'a> {
    /// The `User-Agent` header.
    pub user_agent: Option<&'a str>,
    /// The client's address.
    pub ip: Option<IpAddr>,
    /// The page URL the event happened on.
    pub url: Option<&'a str>,
    /// The page's referrer.
    pub referrer: Option<&'a str>,
}

/// Fills an event's empty context fields from its request. Cloning is cheap.
#[derive(Debug, Clone, Default)]
pub struct Enricher {
    geo: Option<Arc<dyn GeoResolver>>,
}

impl Enricher {
    /// Device and page enrichment, no geo resolution.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same enricher resolving geo context from the IP with `resolver`.
    pub fn with_geo(self, resolver: Arc<dyn GeoResolver>) -> Self {
        Self {
            geo: Some(resolver),
        }
    }

    /// Fills what the event lacks, leaving what the sender set:
    /// - `ip` from the context;
    /// - `geo` (all four fields) from the IP, when the sender gave no geo field at all;
    /// - `device` from the User-Agent;
    /// - `page.url` and `page.referrer` from the context, then `page.domain` and `page.path`
    ///   from the URL.
    pub fn enrich(&self, event: &mut Event, context: &RequestContext<'_>) {
        if event.ip.is_none() {
            event.ip = context.ip;
        }
        if let (Some(resolver), Some(ip)) = (&self.geo, event.ip) {
            let geo = &event.geo;
            let unset = geo.country.is_empty()
                && geo.region.is_empty()
                && geo.city.is_empty()
                && geo.zone.is_empty();
            if unset && let Some(found) = resolver.resolve(ip) {
                event.geo = found;
            }
        }
        if event.device.is_none() {
            event.device = context.user_agent.and_then(device_class);
        }
        let page = &mut event.page;
        fill(&mut page.url, context.url);
        fill(&mut page.referrer, context.referrer);
        if (page.domain.is_empty() || page.path.is_empty())
            && let Some((domain, path)) = domain_and_path(&page.url)
        {
            if page.domain.is_empty() {
                page.domain = domain;
            }
            if page.path.is_empty() {
                page.path = path;
            }
        }
    }
}

fn fill(field: &mut String, value: Option<&str>) {
    if field.is_empty()
        && let Some(value) = value.map(str::trim).filter(|v| !v.is_empty())
    {
        value.clone_into(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::event::Device;
    use crate::model::ids::CustomerId;
    use crate::time::Timestamp;

    #[derive(Debug)]
    struct OneCountry;

    impl GeoResolver for OneCountry {
        fn resolve(&self, ip: IpAddr) -> Option<Geo> {
            ip.is_loopback().then(|| Geo {
                country: "SE".into(),
                ..Geo::default()
            })
        }
    }

    fn event() -> Event {
        Event::new("e", CustomerId(1), "X", Timestamp::EPOCH)
    }

    #[test]
    fn what_the_sender_set_is_kept() {
        let mut e = event();
        e.device = Some(Device::Tablet);
        e.page.path = "/mine".into();
        e.geo.city = "Oslo".into();
        e.ip = Some("127.0.0.2".parse().unwrap());
        let context = RequestContext {
            user_agent: Some(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36",
            ),
            ip: Some("10.0.0.1".parse().unwrap()),
            url: Some("https://a.test/theirs"),
            referrer: Some("https://ref.test/"),
        };
        Enricher::new()
            .with_geo(Arc::new(OneCountry))
            .enrich(&mut e, &context);
        assert_eq!(e.device, Some(Device::Tablet));
        assert_eq!(e.ip, Some("127.0.0.2".parse().unwrap()));
        assert_eq!(
            (e.page.path.as_str(), e.page.domain.as_str()),
            ("/mine", "a.test")
        );
        assert_eq!(e.page.referrer, "https://ref.test/");
        assert_eq!((e.geo.city.as_str(), e.geo.country.as_str()), ("Oslo", ""));
    }

    #[test]
    fn what_cannot_be_resolved_stays_empty() {
        let mut e = event();
        let context = RequestContext {
            user_agent: Some("curl/8.5.0"),
            ip: Some("192.0.2.1".parse().unwrap()),
            url: Some("::not a url::"),
            referrer: Some("   "),
        };
        let before = e.clone();
        Enricher::new()
            .with_geo(Arc::new(OneCountry))
            .enrich(&mut e, &context);
        assert_eq!(e.device, None);
        assert_eq!(e.geo, before.geo);
        assert_eq!(e.page.url, "::not a url::");
        assert!(e.page.domain.is_empty() && e.page.path.is_empty() && e.page.referrer.is_empty());

        let mut local = event();
        local.ip = Some("::1".parse().unwrap());
        Enricher::new()
            .with_geo(Arc::new(OneCountry))
            .enrich(&mut local, &RequestContext::default());
        assert_eq!(local.geo.country, "SE");
    }
}
