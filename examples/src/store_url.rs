//! Opening the store a `--store` URL names, the in-memory one included.

use std::sync::Arc;

use engagement_core::{EventStore, Result};

/// The embedded default: a SQLite file in the current folder, shared by every example.
pub const DEFAULT_STORE: &str = "sqlite://engagement-demo.db";

/// Opens (and migrates) the store `url` names: `memory` for a fresh in-memory store,
/// `sqlite://FILE`, `sqlite::memory:`, `postgres://…` or `mysql://…`.
///
/// # Errors
/// [`engagement_core::Error::InvalidConfig`] for an unknown scheme; connection and migration
/// errors of the store.
pub async fn open(url: &str) -> Result<Arc<dyn EventStore>> {
    if url.trim().eq_ignore_ascii_case("memory") {
        Ok(Arc::new(engagement_memory::MemoryStore::new()))
    } else {
        engagement_sqlx::connect(url.trim()).await
    }
}

/// Opens the store `url` names ([`open`]), runs `work` on it, then closes it
/// ([`EventStore::close`]) whatever `work` returned: a SQLite file is left without its
/// write-ahead log beside it, and a server sees the sessions end.
///
/// # Errors
/// What [`open`] or `work` returned.
pub async fn with_store<T, E>(
    url: &str,
    work: impl AsyncFnOnce(Arc<dyn EventStore>) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<engagement_core::Error>,
{
    let store = open(url).await?;
    let result = work(Arc::clone(&store)).await;
    store.close().await;
    result
}

/// Whether `url` names a store that starts empty every time (so the examples fill it).
pub fn is_ephemeral(url: &str) -> bool {
    let url = url.trim().to_ascii_lowercase();
    url == "memory" || url.contains(":memory:") || url.contains("mode=memory")
}

/// The note a binary that writes to the store `url` names prints when that store is thrown
/// away at exit (`memory`), so that the writing is not mistaken for keeping.
pub fn discarded_note(url: &str) -> Option<String> {
    is_ephemeral(url).then(|| format!("Note: {url} is discarded when this program exits."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_urls_are_ephemeral() {
        assert!(is_ephemeral("memory"));
        assert!(is_ephemeral("sqlite::memory:"));
        assert!(is_ephemeral("sqlite://?mode=memory"));
        assert!(is_ephemeral("sqlite://demo.db?MODE=memory"));
        assert!(!is_ephemeral(DEFAULT_STORE));
        assert_eq!(
            discarded_note("memory").as_deref(),
            Some("Note: memory is discarded when this program exits.")
        );
        assert_eq!(discarded_note(DEFAULT_STORE), None);
    }

    #[tokio::test]
    async fn unknown_schemes_are_refused() {
        let err = open("oracle://db").await.unwrap_err();
        assert!(matches!(
            err,
            engagement_core::Error::InvalidConfig { setting: "url", .. }
        ));
        assert!(open("memory").await.is_ok());
    }
}
