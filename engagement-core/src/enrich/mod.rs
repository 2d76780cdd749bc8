//! Enrichment: device, geo and page context added to an event from the request it came with,
//! as the event log shows it ("enriched with customer, geo, device, and page context").
//!
//! Enrichment fills only what the sender left empty and never rejects an event: what cannot be
//! resolved stays empty, and so does what validation would refuse (a URL longer than
//! [`Limits::max_text_bytes`], a header with a control character). Customer name and email are
//! not copied into events; the reports join them at read time, so a renamed customer shows the
//! new name.
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

use std::borrow::Cow;
use std::fmt::Debug;
use std::net::IpAddr;
use std::sync::Arc;

pub use device::device_class;
#[cfg(feature = "mmdb")]
pub use mmdb::MmdbResolver;
pub use page::domain_and_path;

use crate::model::event::{Event, Geo};
use crate::model::validate::{Limits, check_text};

/// Resolves an IP address to where it is. Implementations answer from memory (no I/O per
/// lookup) and return `None` for what they do not know.
pub trait GeoResolver: Debug + Send + Sync + 'static {
    /// Country, region, city and zone of `ip`, each empty when unknown; `None` when nothing is.
    fn resolve(&self, ip: IpAddr) -> Option<Geo>;
}

/// What the request that carried an event says about it (the host reads these from its HTTP
/// request: the `User-Agent` header, the client address, the page URL and referrer).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
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
#[derive(Debug, Clone)]
pub struct Enricher {
    geo: Option<Arc<dyn GeoResolver>>,
    /// The longest text it fills in, in bytes: that of the limits the events are validated by.
    max_text_bytes: usize,
}

impl Default for Enricher {
    fn default() -> Self {
        Self {
            geo: None,
            max_text_bytes: Limits::default().max_text_bytes,
        }
    }
}

impl Enricher {
    /// Device and page enrichment, no geo resolution; it fills in no text that the default
    /// [`Limits`] refuse.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The same enricher resolving geo context from the IP with `resolver`.
    #[must_use]
    pub fn with_geo(self, resolver: Arc<dyn GeoResolver>) -> Self {
        Self {
            geo: Some(resolver),
            ..self
        }
    }

    /// The same enricher filling in no text that `limits` refuse, for events validated by
    /// other limits than the default ones.
    #[must_use]
    pub fn with_limits(self, limits: &Limits) -> Self {
        Self {
            max_text_bytes: limits.max_text_bytes,
            ..self
        }
    }

    /// Fills what the event lacks, leaving what the sender set:
    /// - `ip` from the context; an IPv4-mapped IPv6 address, the sender's or the context's,
    ///   as its IPv4 address (as ingestion stores it), before the geo lookup reads it;
    /// - `geo` from the IP: the place (country, region and city) when the sender gave none of
    ///   it, and the time zone when the sender gave none (a browser sends its zone, and still
    ///   gets a country);
    /// - `device` from the User-Agent;
    /// - `page.url` and `page.referrer` from the context, without any user name or password
    ///   they carry (`https://user:secret@host/` is stored as `https://host/`, and
    ///   `user@host/p` as `host/p`), then
    ///   `page.domain` and `page.path` from the URL (the context's, when the event's own is
    ///   empty).
    ///
    /// A text that validation would refuse (longer than the limit, or with a control
    /// character) is not filled in: the field stays empty, and the event valid.
    pub fn enrich(&self, event: &mut Event, context: &RequestContext<'_>) {
        // A dual-stack listener sees an IPv4 client as `::ffff:a.b.c.d`: stored (and resolved)
        // as the IPv4 address it is, the IP filter and the detail panel show what the client
        // had, whether the sender or the request gave it.
        event.ip = event.ip.or(context.ip).as_ref().map(IpAddr::to_canonical);
        if let (Some(resolver), Some(ip)) = (&self.geo, event.ip) {
            let geo = &event.geo;
            let no_place = geo.country.is_empty() && geo.region.is_empty() && geo.city.is_empty();
            if (no_place || geo.zone.is_empty())
                && let Some(found) = resolver.resolve(ip)
            {
                self.fill_geo(&mut event.geo, found, no_place);
            }
        }
        if event.device.is_none() {
            event.device = context.user_agent.and_then(device_class);
        }
        let page = &mut event.page;
        let url = match page.url.as_str() {
            "" => context.url.unwrap_or_default(),
            url => url,
        };
        let parts = if page.domain.is_empty() || page.path.is_empty() {
            domain_and_path(url)
        } else {
            None
        };
        let context_url = context.url.map(without_credentials);
        let context_referrer = context.referrer.map(without_credentials);
        self.fill(&mut page.url, context_url.as_deref());
        self.fill(&mut page.referrer, context_referrer.as_deref());
        if let Some((domain, path)) = parts {
            self.fill(&mut page.domain, Some(&domain));
            self.fill(&mut page.path, Some(&path));
        }
    }

    /// Sets an empty `field` to `value`, trimmed, when it is not blank and validation takes it.
    fn fill(&self, field: &mut String, value: Option<&str>) {
        if field.is_empty()
            && let Some(value) = value.map(str::trim).filter(|v| !v.is_empty())
            && check_text(value, self.max_text_bytes).is_ok()
        {
            value.clone_into(field);
        }
    }

    /// Sets the empty fields of `geo` to what was `found`, field by field as
    /// [`fill`](Self::fill) does: the place (country, region, city) only when `place` says the
    /// sender gave none of it, so that a place is never half the sender's and half the IP's.
    fn fill_geo(&self, geo: &mut Geo, found: Geo, place: bool) {
        if place {
            self.fill(&mut geo.country, Some(&found.country));
            self.fill(&mut geo.region, Some(&found.region));
            self.fill(&mut geo.city, Some(&found.city));
        }
        self.fill(&mut geo.zone, Some(&found.zone));
    }
}

/// `url` without the user name and password it carries, if any: they are the visitor's
/// secrets, not page context to store and export. Anything else is kept as it was written.
fn without_credentials(url: &str) -> Cow<'_, str> {
    match url::Url::parse(url.trim()) {
        // "ann:pw@shop.example/p", without a scheme, parses as scheme "ann".
        Ok(parsed) if page::is_credentials_and_host(&parsed) => without_user_info(url),
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            // Both only fail for URLs that cannot have credentials, which this one has.
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            Cow::Owned(parsed.into())
        }
        // Without a scheme ("ann@shop.example/p", "//ann:pw@shop.example/p") the parser reads
        // no credentials, but `domain_and_path` reads a host after them: they are cut here.
        Err(url::ParseError::RelativeUrlWithoutBase) => without_user_info(url),
        _ => Cow::Borrowed(url),
    }
}

/// Scheme-less `url` without what comes before the `@` of its authority, if it has one.
fn without_user_info(url: &str) -> Cow<'_, str> {
    let text = url.trim();
    let (slashes, rest) = text
        .strip_prefix("//")
        .map_or(("", text), |rest| ("//", rest));
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    match authority.rfind('@') {
        Some(at) => Cow::Owned(format!("{slashes}{}", &rest[at + 1..])),
        None => Cow::Borrowed(url),
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
                zone: "Europe/Stockholm".into(),
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
        // The sender's place is kept whole, not completed from the IP's; its zone was empty.
        assert_eq!(
            (
                e.geo.city.as_str(),
                e.geo.country.as_str(),
                e.geo.zone.as_str()
            ),
            ("Oslo", "", "Europe/Stockholm")
        );
    }

    /// A browser sends its time zone and nothing of its place: the place still comes from the
    /// IP (before, any geo field the sender set left the whole of it empty).
    #[test]
    fn a_sender_giving_only_its_zone_still_gets_its_place() {
        let mut e = event();
        e.geo.zone = "America/New_York".into();
        e.ip = Some("127.0.0.1".parse().unwrap());
        Enricher::new()
            .with_geo(Arc::new(OneCountry))
            .enrich(&mut e, &RequestContext::default());
        assert_eq!(
            (e.geo.country.as_str(), e.geo.zone.as_str()),
            ("SE", "America/New_York")
        );
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

    /// A fresh event enriched from `context` by a default enricher.
    fn enriched(context: RequestContext<'_>) -> Event {
        let mut e = event();
        Enricher::new().enrich(&mut e, &context);
        e
    }

    /// The event passes the default validation.
    fn assert_valid(e: &Event) {
        let checked = Limits::default().validate_event(0, e, Timestamp::EPOCH);
        assert!(checked.is_ok(), "{checked:?}");
    }

    fn domain_and_path_of(e: &Event) -> (&str, &str) {
        (e.page.domain.as_str(), e.page.path.as_str())
    }

    #[test]
    fn a_url_or_referrer_validation_refuses_is_not_filled_in() {
        let long = format!("https://shop.acme.test/pricing?utm={}", "x".repeat(3000));
        let context = RequestContext {
            url: Some(&long),
            referrer: Some("https://ref.test/a\tb"),
            ..RequestContext::default()
        };
        let e = enriched(context);
        assert_valid(&e);
        assert_eq!((e.page.url.as_str(), e.page.referrer.as_str()), ("", ""));
        assert_eq!(domain_and_path_of(&e), ("shop.acme.test", "/pricing"));

        let mut wide = event();
        let limits = Limits {
            max_text_bytes: 4096,
            ..Limits::default()
        };
        Enricher::new()
            .with_limits(&limits)
            .enrich(&mut wide, &context);
        assert_eq!(wide.page.url, long);
        assert!(limits.validate_event(0, &wide, Timestamp::EPOCH).is_ok());
    }

    #[test]
    fn a_path_longer_once_percent_encoded_is_not_filled_in() {
        // 1,500 bytes of URL, whose path is 4,000 bytes once each character is %-encoded.
        let url = format!("https://blog.test/{}", "\u{6587}".repeat(494));
        assert!(url.len() <= Limits::default().max_text_bytes);
        let e = enriched(RequestContext {
            url: Some(&url),
            ..RequestContext::default()
        });
        assert_valid(&e);
        assert_eq!(e.page.url, url);
        assert_eq!(domain_and_path_of(&e), ("blog.test", ""));
    }

    #[test]
    fn credentials_in_a_request_url_are_not_stored() {
        let e = enriched(RequestContext {
            url: Some("https://ann:s3cret@shop.acme.test/pricing?plan=pro"),
            referrer: Some("https://bob@ref.test/a"),
            ..RequestContext::default()
        });
        assert_eq!(e.page.url, "https://shop.acme.test/pricing?plan=pro");
        assert_eq!(e.page.referrer, "https://ref.test/a");
        assert_eq!(domain_and_path_of(&e), ("shop.acme.test", "/pricing"));
        // A URL without credentials is kept exactly as written.
        let plain = enriched(RequestContext {
            url: Some("https://Shop.acme.test"),
            ..RequestContext::default()
        });
        assert_eq!(plain.page.url, "https://Shop.acme.test");
        // Nor without a scheme, where the host is read after them.
        // (A protocol-relative URL gets no domain, as a path does not.)
        for (written, stored, domain) in [
            (
                "ann@shop.acme.test/pricing",
                "shop.acme.test/pricing",
                "shop.acme.test",
            ),
            (
                "//ann:s3cret@shop.acme.test/p?x=@",
                "//shop.acme.test/p?x=@",
                "",
            ),
            // A user name and a password, without a scheme, read as a scheme "ann".
            (
                "ann:s3cret@shop.acme.test/pricing",
                "shop.acme.test/pricing",
                "shop.acme.test",
            ),
            (
                "ann:s3cret@shop.acme.test:8443",
                "shop.acme.test:8443",
                "shop.acme.test",
            ),
            // An e-mail address is no page: kept as written, no domain.
            ("mailto:ann@shop.acme.test", "mailto:ann@shop.acme.test", ""),
        ] {
            let e = enriched(RequestContext {
                url: Some(written),
                referrer: Some(written),
                ..RequestContext::default()
            });
            assert_eq!(
                (e.page.url.as_str(), e.page.referrer.as_str()),
                (stored, stored)
            );
            assert_eq!(e.page.domain, domain, "{written}");
        }
    }

    #[test]
    fn an_ipv4_client_seen_through_ipv6_gets_its_ipv4_address() {
        for (seen, stored) in [
            ("::ffff:81.2.69.142", "81.2.69.142"),
            ("2001:db8::1", "2001:db8::1"),
        ] {
            let e = enriched(RequestContext {
                ip: Some(seen.parse().unwrap()),
                ..RequestContext::default()
            });
            assert_eq!(e.ip, Some(stored.parse().unwrap()), "{seen}");
        }
        // The sender's own address too, before the resolver reads it.
        let mut e = event();
        e.ip = Some("::ffff:127.0.0.1".parse().unwrap());
        Enricher::new()
            .with_geo(Arc::new(OneCountry))
            .enrich(&mut e, &RequestContext::default());
        assert_eq!(e.ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(e.geo.country, "SE");
    }
}
