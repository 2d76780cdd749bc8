//! [`connect`]: open and migrate whichever store a URL names.

use std::sync::Arc;

use engagement_core::{Error, EventStore, Result};

/// Opens the store a URL names and brings its schema up to date: `sqlite://FILE` (or
/// `sqlite::memory:`), `postgres://…` / `postgresql://…`, `mysql://…` / `mariadb://…`, each
/// available when its feature is enabled.
///
/// ```
/// use engagement_core::{EventFilter, EventStore, TimeWindow, WorkspaceId};
///
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let store = engagement_sqlx::connect("sqlite::memory:").await?;
/// let ws = WorkspaceId::new("acme")?;
/// let page = engagement_core::EventPageQuery { filter: EventFilter::new(TimeWindow::ALL), after: None, limit: 10 };
/// assert_eq!(store.event_page(&ws, &page).await?.total, 0);
/// let unknown = engagement_sqlx::connect("oracle://db").await;
/// assert!(matches!(unknown, Err(engagement_core::Error::InvalidConfig { setting: "url", .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`Error::InvalidConfig`] for a scheme that is unknown or whose feature is disabled, or a
/// URL its driver cannot read; connection and migration errors of the store.
pub async fn connect(url: &str) -> Result<Arc<dyn EventStore>> {
    let (scheme, url) = driver_url(url);
    let url = url.as_str();
    match scheme.as_str() {
        #[cfg(feature = "sqlite")]
        "sqlite" => {
            let store = crate::SqliteStore::connect(url).await?;
            store.migrate().await?;
            Ok(Arc::new(store))
        }
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => {
            let store = crate::PostgresStore::connect(url).await?;
            store.migrate().await?;
            Ok(Arc::new(store))
        }
        #[cfg(feature = "mysql")]
        "mysql" | "mariadb" => {
            let store = crate::MySqlStore::connect(url).await?;
            store.migrate().await?;
            Ok(Arc::new(store))
        }
        _ => Err(Error::invalid_config(
            "url",
            format!(
                "{scheme:?} is not a store this build opens: use sqlite://FILE, postgres://… or \
                 mysql://… (with the matching feature of engagement-sqlx)"
            ),
        )),
    }
}

/// The scheme of `url` in lower case, and the URL as its store's driver takes it: the
/// drivers take only a lower-case scheme (sqlx read `SQLITE::memory:` as a file name), and
/// MySQL's only `mysql:` for `mariadb:`. The rest of the URL stays as given: a host called
/// `mariadb` is that host.
fn driver_url(url: &str) -> (String, String) {
    let given = url.split(':').next().unwrap_or_default();
    let scheme = given.to_ascii_lowercase();
    let driver = if scheme == "mariadb" {
        "mysql"
    } else {
        &scheme
    };
    let url = format!("{driver}{}", &url[given.len()..]);
    (scheme, url)
}

#[cfg(test)]
mod driver_url_tests {
    use super::driver_url;

    #[test]
    fn only_the_scheme_is_rewritten() {
        let cases = [
            ("SQLITE::memory:", "sqlite", "sqlite::memory:"),
            (
                "MariaDB://root@mariadb:3306/app",
                "mariadb",
                "mysql://root@mariadb:3306/app",
            ),
            (
                "mysql://root@mariadb:3306/app",
                "mysql",
                "mysql://root@mariadb:3306/app",
            ),
            (
                "mysql://u:mariadb:pw@h/app",
                "mysql",
                "mysql://u:mariadb:pw@h/app",
            ),
            ("Postgres://u@h/Db", "postgres", "postgres://u@h/Db"),
        ];
        for (url, scheme, driver) in cases {
            assert_eq!(
                driver_url(url),
                (scheme.to_owned(), driver.to_owned()),
                "{url}"
            );
        }
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use std::path::Path;

    use engagement_core::{Error, EventFilter, EventPageQuery, TimeWindow, WorkspaceId};

    #[tokio::test]
    async fn the_scheme_is_read_in_any_case() {
        let name = "SQLITE::memory:";
        let store = super::connect(name).await.expect("an in-memory store");
        let page = EventPageQuery {
            filter: EventFilter::new(TimeWindow::ALL),
            after: None,
            limit: 1,
        };
        let ws = WorkspaceId::new("acme").unwrap();
        assert_eq!(store.event_page(&ws, &page).await.unwrap().total, 0);
        let file = Path::new(name).exists();
        let _ = std::fs::remove_file(name);
        assert!(!file, "an in-memory URL made a file named {name:?}");
    }

    /// A URL the driver cannot read is the host's configuration to fix, not a server to wait
    /// for: `InvalidConfig`, not retryable, and the message keeps the password out. (A bad
    /// PostgreSQL or MySQL URL was a retryable `Backend` error.)
    #[tokio::test]
    async fn a_url_the_driver_cannot_read_is_a_setting_to_fix() {
        let urls = [
            (cfg!(feature = "sqlite"), "sqlite://a.db?mode=bogus"),
            (
                cfg!(feature = "postgres"),
                "postgres://u:s3cret@h:notaport/db",
            ),
            (cfg!(feature = "mysql"), "mysql://u:s3cret@h:notaport/db"),
        ];
        for (_, url) in urls.into_iter().filter(|(enabled, _)| *enabled) {
            let Err(error) = super::connect(url).await else {
                panic!("{url} connected");
            };
            assert!(
                matches!(error, Error::InvalidConfig { setting: "url", .. }),
                "{url}: {error:?}"
            );
            assert!(!error.is_retryable(), "{url}");
            if url.contains("s3cret") {
                assert!(!error.to_string().contains("s3cret"), "{error}");
            }
        }
    }
}
