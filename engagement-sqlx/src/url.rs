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
/// [`Error::InvalidConfig`] for a scheme that is unknown or whose feature is disabled;
/// connection and migration errors of the store.
pub async fn connect(url: &str) -> Result<Arc<dyn EventStore>> {
    let scheme = url
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    // The drivers take only a lower-case scheme: sqlx read `SQLITE::memory:` as a file name.
    let url = format!("{scheme}{}", &url[scheme.len()..]);
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
            let store = crate::MySqlStore::connect(&url.replacen("mariadb:", "mysql:", 1)).await?;
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

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use std::path::Path;

    use engagement_core::{EventFilter, EventPageQuery, TimeWindow, WorkspaceId};

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
}
