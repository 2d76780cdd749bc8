//! Geo enrichment against a real MaxMind-format database file.
//!
//! The file is not in the repository: `.ci/run` extracts MaxMind's `GeoIP2-City-Test.mmdb` from
//! the `maxminddb` package on PyPI and points `ENGAGEMENT_TEST_MMDB` at it. Without the variable
//! the test says so and skips, unless `ENGAGEMENT_REQUIRE_SERVERS` is set, when it fails.
#![cfg(feature = "mmdb")]

use std::sync::Arc;

use engagement_core::enrich::{Enricher, GeoResolver, MmdbResolver, RequestContext};
use engagement_core::{CustomerId, Device, Error, Event, Geo, Timestamp};

fn database() -> Option<MmdbResolver> {
    let Some(path) = std::env::var_os("ENGAGEMENT_TEST_MMDB") else {
        let message = "ENGAGEMENT_TEST_MMDB is not set: skipping the .mmdb geo test";
        assert!(
            std::env::var_os("ENGAGEMENT_REQUIRE_SERVERS").is_none(),
            "ENGAGEMENT_REQUIRE_SERVERS is set, so the test must run: {message}"
        );
        eprintln!("{message}");
        return None;
    };
    Some(MmdbResolver::open(&path).expect("ENGAGEMENT_TEST_MMDB names a readable .mmdb file"))
}

fn geo(country: &str, region: &str, city: &str, zone: &str) -> Option<Geo> {
    Some(Geo {
        country: country.into(),
        region: region.into(),
        city: city.into(),
        zone: zone.into(),
    })
}

#[test]
fn ip_addresses_resolve_to_country_region_city_and_zone() {
    let Some(db) = database() else { return };
    assert!(
        db.database_type().contains("City"),
        "{}",
        db.database_type()
    );
    let at = |ip: &str| db.resolve(ip.parse().unwrap());
    assert_eq!(
        at("81.2.69.142"),
        geo("GB", "England", "London", "Europe/London")
    );
    assert_eq!(
        at("216.160.83.57"),
        geo("US", "Washington", "Milton", "America/Los_Angeles")
    );
    assert_eq!(
        at("::89.160.20.130"),
        geo("SE", "Östergötland County", "Linköping", "Europe/Stockholm")
    );
    assert_eq!(at("2001:218::1"), geo("JP", "", "", "Asia/Tokyo"));
    assert_eq!(at("127.0.0.1"), None, "not in the database");
    assert_eq!(at("10.1.2.3"), None);
}

#[test]
fn an_enriched_event_carries_the_resolved_geo() {
    let Some(db) = database() else { return };
    let enricher = Enricher::new().with_geo(Arc::new(db));
    let mut event = Event::new("e", CustomerId(1), "Page Viewed", Timestamp::EPOCH);
    enricher.enrich(
        &mut event,
        &RequestContext {
            user_agent: Some("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1"),
            ip: Some("81.2.69.160".parse().unwrap()),
            url: Some("https://news.example/articles/1"),
            referrer: None,
        },
    );
    assert_eq!(
        (event.geo.country.as_str(), event.geo.city.as_str()),
        ("GB", "London")
    );
    assert_eq!(event.device, Some(Device::Tablet));
    assert_eq!(event.page.domain, "news.example");
}

#[test]
fn a_file_that_is_not_a_database_is_a_typed_error() {
    let not_mmdb = MmdbResolver::from_bytes(b"definitely not a MaxMind database".to_vec());
    assert!(matches!(
        not_mmdb,
        Err(Error::Backend {
            backend: "mmdb",
            ..
        })
    ));
    let missing = MmdbResolver::open("/nonexistent/GeoLite2-City.mmdb");
    assert!(matches!(
        missing,
        Err(Error::Backend {
            backend: "mmdb",
            ..
        })
    ));
}
