//! The backend's private error and its conversion into [`engagement_core::Error`].

use engagement_core::Error;

/// What can go wrong inside a SQL backend. It reaches callers as the source of an
/// [`Error::Backend`], [`Error::Busy`] or [`Error::Refused`], never flattened to a string.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SqlError {
    /// A statement named a table the database does not have: the store's migrations have not
    /// run there.
    #[error(
        "{context}: {source} (the store's tables are missing: run `migrate()` on this \
         database first)"
    )]
    NotMigrated {
        /// What the store was doing.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The driver or the database failed.
    #[error("{context}: {source}")]
    Driver {
        /// What the store was doing.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// SQLite's C API failed while the store stepped a statement itself (large reads).
    #[cfg(feature = "sqlite")]
    #[error("{context}: {source}")]
    Sqlite {
        /// What the store was doing.
        context: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A read larger than one buffer can hold.
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    #[error("{what} passes the limit of {limit} bytes")]
    TooLarge {
        /// What grew too large.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// A stored value that cannot be turned back into the model (a row written by someone else).
    #[error("stored value of column `{column}` is unreadable: {reason}")]
    Corrupt {
        /// The column.
        column: &'static str,
        /// Why it could not be read.
        reason: String,
    },
    /// A bound argument the driver refused to encode.
    #[error("could not encode an argument: {0}")]
    Encode(#[source] sqlx::error::BoxDynError),
    /// A named lock was not granted in time (another process holds it).
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    #[error("the lock {name:?} was not granted in time: another process holds it")]
    LockTimedOut {
        /// The lock.
        name: String,
    },
    /// An insert that may skip existing keys also skipped or altered rows for another reason.
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    #[error(
        "the insert raised {warnings} warnings for {skipped} existing keys; the first other one \
         was {first}"
    )]
    IgnoredError {
        /// Warnings the insert raised.
        warnings: u64,
        /// Rows it skipped as existing.
        skipped: u64,
        /// The first warning that is not a duplicate key.
        first: String,
    },
    /// Another append stored some of the batch's ids between our read of the existing ids and
    /// our insert (MySQL): nothing was written, and a retry sees them.
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    #[error("a concurrent append stored {taken} of the batch's ids first; retry the append")]
    ConcurrentAppend {
        /// Ids taken meanwhile.
        taken: u64,
    },
    /// A concurrent purge deleted stored events the batch re-sends after the insert skipped
    /// them as stored: nothing was written (the batch would otherwise be told they are stored
    /// while they are gone and its other events kept), and a retry stores them again.
    #[error(
        "a concurrent purge deleted {vanished} stored events the batch re-sends while the append \
         ran; retry the append"
    )]
    ConcurrentPurge {
        /// Events deleted meanwhile.
        vanished: u64,
    },
    /// A task reading or decoding part of a read ended before finishing it (it panicked or was
    /// cancelled): the read is incomplete.
    #[error("the task {task} stopped before finishing")]
    TaskStopped {
        /// What the task was doing.
        task: String,
    },
    /// The database holds migrations this version of the library does not know.
    #[error(
        "the database was migrated by a newer version (migration {version} is unknown to this \
         one): upgrade engagement-sqlx"
    )]
    UnknownMigration {
        /// The unknown version.
        version: i64,
    },
    /// An applied migration's text differs from the one embedded in the library.
    #[error("migration {version} was changed after it was applied (checksum mismatch)")]
    ChangedMigration {
        /// The changed version.
        version: i64,
    },
}

impl SqlError {
    /// Wraps a driver error with what the store was doing ([`Self::NotMigrated`] when it
    /// names a missing table, but for the migrations' own statements).
    pub(crate) fn driver(context: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| {
            if !context.contains("migration") && names_a_missing_table(&source) {
                Self::NotMigrated { context, source }
            } else {
                Self::Driver { context, source }
            }
        }
    }

    /// Wraps an error of SQLite's C API with what the store was doing.
    #[cfg(feature = "sqlite")]
    pub(crate) fn sqlite(context: &'static str) -> impl FnOnce(rusqlite::Error) -> Self {
        move |source| Self::Sqlite { context, source }
    }

    /// Converts into the library's error: [`Error::Closed`] when the store was closed,
    /// [`Error::Busy`] when `busy` says the driver gave up waiting for a lock or a pooled
    /// connection, [`Error::Refused`] when the database refused the data itself (no retry
    /// passes), [`Error::Backend`] otherwise.
    pub(crate) fn into_error(self, backend: &'static str, busy: fn(&sqlx::Error) -> bool) -> Error {
        let is_busy = match &self {
            Self::Driver { source, .. } => {
                matches!(source, sqlx::Error::PoolTimedOut) || busy(source)
            }
            #[cfg(feature = "sqlite")]
            Self::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            Self::LockTimedOut { .. }
            | Self::ConcurrentAppend { .. }
            | Self::ConcurrentPurge { .. } => true,
            _ => false,
        };
        let is_refused = match &self {
            Self::Driver { source, .. } => refuses_the_data(source),
            Self::IgnoredError { .. } => true,
            _ => false,
        };
        if matches!(
            &self,
            Self::Driver {
                source: sqlx::Error::PoolClosed,
                ..
            }
        ) {
            return Error::Closed;
        }
        let source = Box::new(self);
        if is_busy {
            Error::Busy { backend, source }
        } else if is_refused {
            Error::Refused { backend, source }
        } else {
            Error::Backend { backend, source }
        }
    }
}

/// Whether the database refused a value itself, so that the same statement fails the same way
/// however often it runs: SQLSTATE class `22`, "data exception", on PostgreSQL and
/// MySQL/MariaDB (a NUL character in PostgreSQL text, a value too long or out of range);
/// SQLite's `SQLITE_TOOBIG` (18) and `SQLITE_MISMATCH` (20).
fn refuses_the_data(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(database) = error else {
        return false;
    };
    let Some(code) = database.code() else {
        return false;
    };
    // A SQLSTATE is five characters; SQLite's codes are numbers of at most four digits.
    if code.len() == 5 {
        return code.starts_with("22");
    }
    code.parse::<i32>()
        .is_ok_and(|code| matches!(code & 0xff, 18 | 20))
}

/// Whether `error` says a statement named a table the database lacks: PostgreSQL's `42P01`
/// "relation … does not exist" (not its "missing FROM-clause entry"), MySQL's `42S02` "Table
/// … doesn't exist" (1146, not 1051's or 1109's "Unknown table"), SQLite's "no such table".
fn names_a_missing_table(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(database) = error else {
        return false;
    };
    let message = database.message();
    match database.code().as_deref() {
        Some("42P01") => message.starts_with("relation "),
        Some("42S02") => message.ends_with("doesn't exist"),
        _ => message.starts_with("no such table"),
    }
}

/// The result type inside the backend.
pub(crate) type SqlResult<T> = Result<T, SqlError>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    /// A database's error with a SQLSTATE and a message.
    #[derive(Debug, thiserror::Error)]
    #[error("{1}")]
    struct Refused(Option<&'static str>, &'static str);

    impl sqlx::error::DatabaseError for Refused {
        fn message(&self) -> &str {
            self.1
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            self.0.map(std::borrow::Cow::Borrowed)
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    #[test]
    fn only_a_missing_table_asks_for_the_migrations() {
        let asks = |context, code, message| {
            let error = sqlx::Error::Database(Box::new(Refused(code, message)));
            matches!(
                SqlError::driver(context)(error),
                SqlError::NotMigrated { .. }
            )
        };
        let read = "read a page";
        assert!(asks(
            read,
            Some("42P01"),
            "relation \"engagement_events\" does not exist"
        ));
        assert!(asks(
            read,
            Some("42S02"),
            "Table 'test.engagement_events' doesn't exist"
        ));
        assert!(asks(read, Some("1"), "no such table: engagement_events"));
        // Other errors of the same SQLSTATE are mistakes in a statement, not a missing store.
        assert!(!asks(
            read,
            Some("42P01"),
            "missing FROM-clause entry for table \"e\""
        ));
        assert!(!asks(
            read,
            Some("42S02"),
            "Unknown table 'e' in MULTI DELETE"
        ));
        // The migrations' own statements say what failed, not to run them.
        assert!(!asks("apply a migration", Some("1"), "no such table: x"));
    }

    #[test]
    fn pool_timeouts_are_busy_and_keep_their_source() {
        let err =
            SqlError::driver("append")(sqlx::Error::PoolTimedOut).into_error("sqlite", |_| false);
        assert!(matches!(
            err,
            Error::Busy {
                backend: "sqlite",
                ..
            }
        ));
        let source = err.source().expect("source kept");
        assert!(source.to_string().starts_with("append: "));
        assert!(
            source.source().is_some(),
            "the driver error is kept as the source"
        );
    }

    #[test]
    fn data_the_database_refuses_is_refused_for_good() {
        let class = |code, message| {
            let error = sqlx::Error::Database(Box::new(Refused(Some(code), message)));
            match SqlError::driver("append")(error).into_error("db", |_| false) {
                Error::Refused { .. } => "refused",
                Error::Backend { .. } => "backend",
                _ => "other",
            }
        };
        let nul = "invalid byte sequence for encoding \"UTF8\": 0x00";
        assert_eq!(class("22021", nul), "refused");
        assert_eq!(class("22001", "Data too long for column 'name'"), "refused");
        assert_eq!(class("18", "string or blob too big"), "refused");
        assert_eq!(class("20", "datatype mismatch"), "refused");
        // What may pass stays a backend failure, retried: a serialization failure, a
        // constraint (SQLite's UNIQUE, 2067), a server shutting down.
        assert_eq!(class("40001", "could not serialize access"), "backend");
        assert_eq!(class("2067", "UNIQUE constraint failed"), "backend");
        assert_eq!(class("57P01", "terminating connection"), "backend");
    }

    #[test]
    fn other_failures_are_backend_errors() {
        let err =
            SqlError::driver("append")(sqlx::Error::RowNotFound).into_error("sqlite", |_| false);
        assert!(matches!(
            err,
            Error::Backend {
                backend: "sqlite",
                ..
            }
        ));
        let err = SqlError::Corrupt {
            column: "actor",
            reason: "7".into(),
        }
        .into_error("mysql", |_| true);
        assert!(matches!(
            err,
            Error::Backend {
                backend: "mysql",
                ..
            }
        ));
    }
}
