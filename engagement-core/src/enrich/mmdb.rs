//! [`MmdbResolver`]: geo context from a MaxMind-format (`.mmdb`) database such as GeoLite2-City.

use std::net::IpAddr;
use std::path::Path;

use maxminddb::{Reader, geoip2};

use super::GeoResolver;
use crate::error::{Error, Result};
use crate::model::event::Geo;

/// A City database in the MaxMind DB format, held in memory; lookups do no I/O.
///
/// Country is the ISO 3166-1 alpha-2 code, region the English name of the largest subdivision,
/// city the English name, zone the IANA time zone; each stays empty when the database does
/// not know it.
#[derive(Debug)]
pub struct MmdbResolver {
    reader: Reader<Vec<u8>>,
}

impl MmdbResolver {
    /// Reads the whole database file into memory.
    ///
    /// # Errors
    /// [`Error::Backend`] (backend `"mmdb"`) when the file cannot be read or is not a MaxMind
    /// database.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let reader = Reader::open_readfile(path).map_err(|e| Error::backend("mmdb", e))?;
        Ok(Self { reader })
    }

    /// Uses a database already in memory.
    ///
    /// # Errors
    /// [`Error::Backend`] (backend `"mmdb"`) when the bytes are not a MaxMind database.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        let reader = Reader::from_source(bytes).map_err(|e| Error::backend("mmdb", e))?;
        Ok(Self { reader })
    }

    /// The database's type as it names itself ("GeoIP2-City", "GeoLite2-City", …).
    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }
}

impl GeoResolver for MmdbResolver {
    fn resolve(&self, ip: IpAddr) -> Option<Geo> {
        // An IPv4 address written as IPv6 (`::ffff:81.2.69.142`) is looked up as IPv4: a
        // database of IPv4 networks alone has no entry for the IPv6 form.
        let found = self.reader.lookup(ip.to_canonical()).ok()?;
        let city: geoip2::City<'_> = found.decode().ok()??;
        let text = |s: Option<&str>| s.unwrap_or_default().to_owned();
        let geo = Geo {
            country: text(city.country.iso_code),
            region: text(city.subdivisions.first().and_then(|s| s.names.english)),
            city: text(city.city.names.english),
            zone: text(city.location.time_zone),
        };
        (geo != Geo::default()).then_some(geo)
    }
}
