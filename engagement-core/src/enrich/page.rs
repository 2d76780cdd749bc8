//! Page domain and path from a URL, with the `url` crate.

/// The host (lower-case, without port) and the path of a URL; `None` for what is not an
/// absolute URL with a host. A URL without a scheme ("shop.example.com/p") is read as `https`.
///
/// ```
/// use engagement_core::enrich::domain_and_path;
///
/// let parts = domain_and_path("https://Shop.Example.com:8443/pricing?plan=pro#top");
/// assert_eq!(parts, Some(("shop.example.com".to_owned(), "/pricing".to_owned())));
/// assert_eq!(domain_and_path("not a url"), None);
/// ```
pub fn domain_and_path(raw: &str) -> Option<(String, String)> {
    let raw = raw.trim();
    if raw.is_empty() || raw.starts_with('/') {
        return None;
    }
    // Only text that is not a URL at all is retried as a scheme-less one: "mailto:x@y" is a URL
    // without a host and stays unresolved.
    let parsed = match url::Url::parse(raw) {
        Ok(parsed) => parsed,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            url::Url::parse(&format!("https://{raw}")).ok()?
        }
        Err(_) => return None,
    };
    let host = parsed.host_str()?.to_owned();
    if host.is_empty() || host.contains(' ') {
        return None;
    }
    Some((host, parsed.path().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_domain_and_path() {
        let split = |s: &str| domain_and_path(s);
        assert_eq!(split("http://a.test"), Some(("a.test".into(), "/".into())));
        assert_eq!(
            split("shop.acme.test/p/1?x=2"),
            Some(("shop.acme.test".into(), "/p/1".into()))
        );
        assert_eq!(
            split("https://[::1]:8080/x"),
            Some(("[::1]".into(), "/x".into()))
        );
        assert_eq!(
            split("https://xn--bcher-kva.example/%C3%A9"),
            Some(("xn--bcher-kva.example".into(), "/%C3%A9".into()))
        );
        assert_eq!(split("mailto:someone@example.com"), None);
        assert_eq!(split(""), None);
        assert_eq!(split("/only/a/path"), None);
    }
}
