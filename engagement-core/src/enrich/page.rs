//! Page domain and path from a URL, with the `url` crate.

/// The host (lower-case, without port) and the path of a URL; `None` for what is not an
/// absolute URL with a host (a relative one such as "../p" or "docs/intro" included). A URL
/// without a scheme whose host is `localhost` or has a dot ("shop.example.com/p",
/// "localhost:3000/p") is read as `https`.
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
    // No host starts with a dot: "./p" and "../p" are relative, like "/p".
    if raw.is_empty() || raw.starts_with(['/', '.']) {
        return None;
    }
    // Only text that is not a URL at all, or whose "scheme" is a host followed by a port, is
    // retried as a scheme-less one: "mailto:x@y" is a URL without a host and stays unresolved.
    let parsed = match url::Url::parse(raw) {
        Ok(parsed) if !is_host_and_port(&parsed) && !is_credentials_and_host(&parsed) => parsed,
        Ok(_) | Err(url::ParseError::RelativeUrlWithoutBase) => {
            let parsed = url::Url::parse(&format!("https://{raw}")).ok()?;
            // Read without a scheme, "checkout" or "docs/intro" would be a host: only a
            // name that looks like one is taken (as for a scheme-less host with a port).
            if !parsed.host_str().is_some_and(looks_like_a_host) {
                return None;
            }
            parsed
        }
        Err(_) => return None,
    };
    let host = parsed.host_str()?.to_owned();
    if host.is_empty() || host.contains(' ') {
        return None;
    }
    Some((host, parsed.path().to_owned()))
}

/// Whether `parsed` is scheme-less text with a port that the parser took for a scheme and a
/// path ("localhost:3000/p": scheme "localhost", path "3000/p"), rather than a URL of a scheme
/// that names no host and is followed by digits ("tel:911", "sips:112"). The "scheme" must look
/// like a host name: `localhost`, or a name with a dot (no scheme has one but vendor ones, and
/// a single-label host such as "intranet:8080" stays unresolved rather than risk a wrong one).
fn is_host_and_port(parsed: &url::Url) -> bool {
    let port = parsed
        .path()
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    parsed.cannot_be_a_base()
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && looks_like_a_host(parsed.scheme())
}

/// Whether `parsed` is scheme-less text with a user name and password that the parser took for
/// a scheme and a path ("ann:pw@shop.example/p": scheme "ann", path "pw@shop.example/p"): what
/// follows the `@` of its first path segment looks like a host. A `mailto:` address is an
/// address, not a page.
pub(super) fn is_credentials_and_host(parsed: &url::Url) -> bool {
    let path = parsed.path();
    let first = &path[..path.find(['/', '?', '#']).unwrap_or(path.len())];
    parsed.cannot_be_a_base()
        && parsed.scheme() != "mailto"
        && first
            .rsplit_once('@')
            .is_some_and(|(_, host)| looks_like_a_host(host))
}

/// Whether a name read without a scheme is taken for a host: `localhost`, a name with a dot,
/// or an IPv6 literal; a single label ("checkout", "intranet") stays unresolved rather than
/// risk a relative path taken for a domain.
fn looks_like_a_host(name: &str) -> bool {
    name == "localhost" || name.contains('.') || name.starts_with('[')
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

    #[test]
    fn a_scheme_less_url_with_a_port_keeps_its_host_and_path() {
        let split = |s: &str| domain_and_path(s);
        assert_eq!(
            split("localhost:3000/p/1?x=2"),
            Some(("localhost".into(), "/p/1".into()))
        );
        assert_eq!(
            split("shop.acme.test:8443"),
            Some(("shop.acme.test".into(), "/".into()))
        );
        let short = [
            "tel:911",
            "tel:112",
            "mailto:1",
            "urn:5",
            "data:123",
            "javascript:1",
            "sips:911",
            "skype:123",
            "intranet:8080",
        ];
        for no_host in ["tel:5551234", "urn:isbn:0451450523", "javascript:void(0)"]
            .into_iter()
            .chain(short)
        {
            assert_eq!(split(no_host), None, "{no_host}");
        }
    }

    #[test]
    fn a_relative_url_has_no_domain() {
        for relative in [
            "./pricing",
            "../pricing",
            "..",
            ".",
            "checkout",
            "docs/intro",
            "pricing?x=1",
        ] {
            assert_eq!(domain_and_path(relative), None, "{relative}");
        }
    }
}
