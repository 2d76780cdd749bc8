//! The memory backend's own failures, converted into [`engagement_core::Error::Backend`].

use std::fmt;

/// Why the memory backend failed.
#[derive(Debug)]
pub(crate) enum MemoryError {
    /// Stored metadata could not be read back (it is written by this crate, so this is a bug).
    Metadata(serde_json::Error),
    /// A workspace would hold more events than positions can address.
    Full {
        /// Events held now.
        held: usize,
        /// Events in the batch (counted before its duplicates are known: positions are
        /// claimed while the batch is classified).
        adding: usize,
    },
}

impl fmt::Display for MemoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Metadata(_) => f.write_str("stored metadata could not be decoded"),
            Self::Full { held, adding } => write!(
                f,
                "a workspace holds at most {} events; it holds {held} and the batch carries {adding}: \
                 purge old events or split the workspace",
                u32::MAX
            ),
        }
    }
}

impl std::error::Error for MemoryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Metadata(e) => Some(e),
            Self::Full { .. } => None,
        }
    }
}

impl From<MemoryError> for engagement_core::Error {
    fn from(e: MemoryError) -> Self {
        Self::backend("memory", e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn converts_to_a_backend_error_keeping_the_source() {
        let json = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        let e: engagement_core::Error = MemoryError::Metadata(json).into();
        assert!(matches!(
            e,
            engagement_core::Error::Backend {
                backend: "memory",
                ..
            }
        ));
        assert!(e.source().and_then(|s| s.source()).is_some());
        let full = MemoryError::Full { held: 1, adding: 2 };
        assert!(full.to_string().contains("purge"));
    }
}
