//! The one error type of the library.

use std::fmt;

use crate::access::{ReportKind, Role};

/// The result type used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error from a backend, kept as the [`Error::Backend`] source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong, as variants a caller can match on.
///
/// An event whose id is already stored with another payload is not an error: the rest of its
/// batch is stored, the
/// stored event is kept, and [`AppendOutcome::conflicts`](crate::AppendOutcome::conflicts)
/// lists it, so that one re-sent event never fails a whole batch.
///
/// Messages say what was wrong and what to do about it; where a product document has its own
/// wording (the custom-range cap), that wording is kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The viewer may not see this report or this workspace. Raised before any storage call.
    #[error(
        "forbidden: {role} may not access the {report} report of workspace {workspace:?}: {reason}"
    )]
    Forbidden {
        /// The viewer's role.
        role: Role,
        /// The report that was asked for.
        report: ReportKind,
        /// The workspace the request targeted.
        workspace: String,
        /// Why access was refused.
        reason: ForbiddenReason,
    },
    /// A time range that cannot be resolved (for example `from` after `to`).
    #[error("invalid range: {reason}")]
    InvalidRange {
        /// What is wrong with the range.
        reason: String,
    },
    /// A custom range longer than the report allows. At the product's cap of 28 days the
    /// message is the product's own sentence ("Date Range must be less than 4 weeks"); under
    /// another cap it names that cap.
    #[error("{}", range_too_long(*days, *max_days))]
    RangeTooLong {
        /// The number of local days asked for.
        days: i64,
        /// The largest number of local days the report accepts.
        max_days: i64,
    },
    /// A time-zone name that is not in the IANA database.
    #[error("unknown time zone {name:?}: use an IANA name such as \"Europe/Berlin\" or \"UTC\"")]
    UnknownTimeZone {
        /// The name that was given.
        name: String,
    },
    /// An event (or customer) failed validation; nothing of its batch was written.
    #[error("invalid input at item {index}: field `{field}`: {reason}")]
    InvalidEvent {
        /// Position of the offending item in its batch.
        index: usize,
        /// The field that failed.
        field: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// A query parameter outside what the report accepts.
    #[error("invalid query: `{field}`: {reason}")]
    InvalidQuery {
        /// The parameter that failed.
        field: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// A setting the host gave the library that it cannot run with (an ingestor's batch size,
    /// a retention policy keeping nothing, band edges out of order, a store URL or table
    /// prefix): a mistake in the host's configuration, not in a viewer's request. Nothing was
    /// started, read or written.
    #[error("invalid setting `{setting}`: {reason}")]
    InvalidConfig {
        /// The setting that failed.
        setting: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// Something that was asked for by id does not exist in the viewer's workspace.
    #[error("{what} {id:?} not found in this workspace")]
    NotFound {
        /// What kind of thing was looked up ("customer", "event").
        what: &'static str,
        /// The id that was looked up.
        id: String,
    },
    /// The backend is busy (a lock or a pool) and gave up after its configured timeout.
    /// Nothing was written; the call can be retried.
    #[error("{backend} is busy: {source}")]
    Busy {
        /// The backend that gave up.
        backend: &'static str,
        /// The backend's own error.
        #[source]
        source: BoxError,
    },
    /// The ingestion queue is full; the event was not queued. Retry later or use the waiting
    /// `send`.
    #[error("the ingestion queue is full ({capacity} events waiting); retry later")]
    Full {
        /// The queue's capacity.
        capacity: usize,
    },
    /// The ingestor has shut down, or the store was closed
    /// ([`EventStore::close`](crate::EventStore::close)); it accepts nothing more.
    #[error("closed: the ingestor has shut down or the store was closed")]
    Closed,
    /// Accepted events were not written: their batches' appends failed every retry, or were
    /// refused with an error no retry changes, and were given up. Returned by every
    /// [`Ingestor::flush`](crate::ingest::Ingestor::flush) waiting when a batch was given up
    /// (or the next one, when none was), and by the next
    /// [`Sender::flush`](crate::ingest::Sender::flush) of each sender whose events it held;
    /// send the events again (a re-sent event that did land is a duplicate, not counted twice).
    #[error(
        "{events} accepted events in {batches} batches were not written, the store failed or refused them: {last}"
    )]
    NotWritten {
        /// Events in the batches given up (to a [`Sender`](crate::ingest::Sender)'s flush, only
        /// its own events among them).
        events: u64,
        /// Batches given up.
        batches: u64,
        /// The error the last of them was given up with.
        #[source]
        last: std::sync::Arc<Error>,
    },
    /// Writing a CSV failed; the output is incomplete and must not be used.
    #[error("CSV output failed and is incomplete: {source}")]
    Csv {
        /// The writer's error.
        #[source]
        source: csv::Error,
    },
    /// The backend refused the data for good: a value its database cannot hold (a data
    /// exception: a character its text type refuses, a number out of its range), or an insert
    /// the database would have altered. Nothing of the call was written, and the same call
    /// fails the same way, so the [`Ingestor`](crate::ingest::Ingestor) does not retry it.
    #[error("{backend} refused the data: {source}")]
    Refused {
        /// The backend that refused ("sqlite", "postgres", "mysql").
        backend: &'static str,
        /// The backend's own error.
        #[source]
        source: BoxError,
    },
    /// Any other failure inside a storage backend (a lost connection, a server restarting, a
    /// disk full, a bug): it may pass, so the call can be retried.
    #[error("{backend} backend failed: {source}")]
    Backend {
        /// The backend that failed ("memory", "sqlite", "postgres", "mysql").
        backend: &'static str,
        /// The backend's own error.
        #[source]
        source: BoxError,
    },
}

/// Why a viewer was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForbiddenReason {
    /// The viewer's role is below what the report requires.
    RoleTooLow {
        /// The least role the report requires.
        required: Role,
    },
    /// The role is not one the policy knows.
    UnknownRole,
    /// The viewer belongs to another workspace.
    OtherWorkspace,
}

impl fmt::Display for ForbiddenReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RoleTooLow { required } => write!(f, "the report requires {required} or above"),
            Self::UnknownRole => f.write_str("the role is not recognised"),
            Self::OtherWorkspace => f.write_str("the viewer belongs to another workspace"),
        }
    }
}

impl Error {
    /// Wraps a backend's own error, keeping it as the source.
    pub fn backend(backend: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Backend {
            backend,
            source: source.into(),
        }
    }

    /// Whether the same call, made again unchanged, may succeed: `true` for a backend that was
    /// busy ([`Error::Busy`]) or failed in a way that may pass ([`Error::Backend`]) and for a
    /// full ingestion queue ([`Error::Full`]); `false` for input that is wrong or that the
    /// store cannot hold ([`Error::InvalidEvent`], [`Error::Refused`], …), a setting the host
    /// must change ([`Error::InvalidConfig`]), a viewer refused,
    /// something not found, an ingestor shut down, and a report already given
    /// ([`Error::NotWritten`]). The [`Ingestor`](crate::ingest::Ingestor) retries an append
    /// only while this holds.
    ///
    /// ```
    /// use engagement_core::Error;
    ///
    /// assert!(Error::backend("postgres", "connection reset").is_retryable());
    /// assert!(!Error::invalid_query("page_size", "must be 1 to 500").is_retryable());
    /// ```
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Busy { .. } | Self::Full { .. } | Self::Backend { .. }
        )
    }

    /// Builds an [`Error::InvalidQuery`].
    pub fn invalid_query(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidQuery {
            field,
            reason: reason.into(),
        }
    }

    /// Builds an [`Error::InvalidConfig`].
    pub fn invalid_config(setting: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidConfig {
            setting,
            reason: reason.into(),
        }
    }

    /// Builds an [`Error::InvalidRange`].
    pub fn invalid_range(reason: impl Into<String>) -> Self {
        Self::InvalidRange {
            reason: reason.into(),
        }
    }
}

/// The message of [`Error::RangeTooLong`].
fn range_too_long(days: i64, max_days: i64) -> String {
    if max_days == 28 {
        format!("Date Range must be less than 4 weeks (asked for {days} days, at most 28 allowed)")
    } else {
        format!("Date Range must be at most {max_days} days (asked for {days} days)")
    }
}

impl From<csv::Error> for Error {
    fn from(source: csv::Error) -> Self {
        Self::Csv { source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_too_long_names_the_cap_it_passed() {
        let product = Error::RangeTooLong {
            days: 29,
            max_days: 28,
        };
        assert_eq!(
            product.to_string(),
            "Date Range must be less than 4 weeks (asked for 29 days, at most 28 allowed)"
        );
        let other = Error::RangeTooLong {
            days: 91,
            max_days: 90,
        };
        assert_eq!(
            other.to_string(),
            "Date Range must be at most 90 days (asked for 91 days)"
        );
    }
}
