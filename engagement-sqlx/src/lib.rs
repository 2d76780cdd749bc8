//! SQL backends for [`engagement_core`]: [`SqliteStore`] (feature `sqlite`, the default, with a
//! bundled SQLite), `PostgresStore` (feature `postgres`) and `MySqlStore` (feature `mysql`,
//! MariaDB 10.11+; its migrations fail on MySQL 8), each an
//! [`EventStore`](engagement_core::EventStore) over a sqlx pool.
//!
//! ```
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! use engagement_core::{CustomerId, Event, EventStore, TimeWindow, Timestamp, TopCustomersQuery,
//!     WorkspaceId};
//! use engagement_sqlx::SqliteStore;
//!
//! // A file works the same way: "sqlite://engagement.db".
//! let store = SqliteStore::connect("sqlite::memory:").await?;
//! store.migrate().await?;
//!
//! let ws = WorkspaceId::new("acme")?;
//! let at = |s: i64| Timestamp::from_micros(s * 1_000_000);
//! let events = [
//!     Event::new("e1", CustomerId(1), "Page Viewed", at(10)),
//!     Event::new("e2", CustomerId(2), "Page Viewed", at(20)),
//!     Event::new("e3", CustomerId(2), "Order Submitted", at(30)),
//! ];
//! let outcome = store.append(&ws, &events).await?;
//! assert_eq!(outcome.inserted, 3);
//! // Appends are idempotent on the event id.
//! assert_eq!(store.append(&ws, &events).await?.duplicates, 3);
//!
//! let window = TimeWindow::new(at(0), at(60))?;
//! let top = store.top_customers(&ws, &TopCustomersQuery { window, limit: 10 }).await?;
//! assert_eq!(top[0].customer, CustomerId(2));
//! assert_eq!(top[0].score, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Storage
//!
//! - [`migrate`](SqliteStore::migrate) creates the tables from migrations embedded per
//!   dialect and records them in its own ledger table (`<prefix>schema_migrations`), never in
//!   the `_sqlx_migrations` table of the host's own migrations. Tables carry a [`TablePrefix`]
//!   (`engagement_` by default) so they sit beside the host's.
//! - Timestamps are `BIGINT` microseconds since the epoch; every index leads with the
//!   workspace; event ids are unique per workspace (the idempotency key) and compared byte-wise.
//! - Every primitive runs as SQL (grouping, conditional aggregation, keyset pages, exact counts)
//!   with every caller value bound; queries are built at run time, so the crate builds without a
//!   database.
//! - An export reads keyset chunks of 10,000 events. Once the first chunk is full, the rest of
//!   its window is cut into slices of time read by up to four tasks at once, each holding a
//!   pooled connection only while one of its statements runs (so a large export may use four
//!   connections of the pool at a time, and none while the consumer is slow). These tasks are
//!   spawned on the Tokio runtime the stream is polled on. On SQLite a chunk's statement is
//!   stepped through SQLite's C API (by `rusqlite`, on the connection sqlx holds) on a
//!   blocking thread; on PostgreSQL its rows are copied out with `COPY … TO STDOUT` as text,
//!   the statement's values bound to settings of the copy's transaction
//!   (`engagement.copy_arg_N`) that the copied query reads back. Either way each row is
//!   decoded into the chunk's batch as it is read, its text copied once.
//! - A call whose future is dropped (a client gone away, a timeout) leaves its pooled
//!   connection clean. On SQLite and PostgreSQL it stops (a statement the server had begun
//!   may still finish there); on MySQL it runs to its end on a task of its own, as sqlx's
//!   MySQL driver cannot take a connection back half way through a statement. A dropped
//!   export stops its reading tasks between statements. Tasks the store starts for a call run
//!   in the caller's `tracing` span; the upkeep a write leaves behind (SQLite's checkpoints,
//!   PostgreSQL's statistics) runs in a span of its own, `engagement.upkeep`, that follows
//!   from the caller's.
//! - [`close`](engagement_core::EventStore::close), as a host shuts down, ends every pool of
//!   the store (a file's [`SqliteStore::connect`] opens two: the readers' and the writer's)
//!   once their calls finish; on SQLite the last connection folds the write-ahead log into the
//!   file and removes it. Later calls return [`Error::Closed`](engagement_core::Error::Closed).
//!
//! # Building SQLite
//!
//! The SQLite that `libsqlite3-sys` bundles is compiled with `SQLITE_ENABLE_MEMORY_MANAGEMENT`,
//! which makes every connection of the process share one page cache behind one mutex, so the
//! reader connections of a parallel export wait on each other for every page. Build it
//! without, in the host's `.cargo/config.toml` (this workspace does so for its own builds):
//!
//! ```toml
//! [env]
//! LIBSQLITE3_FLAGS = "-USQLITE_ENABLE_MEMORY_MANAGEMENT"
//! ```
//!
//! Measured at 10M events, alternated: a SQLite export ran 600–730k rows/s (~650k typical)
//! instead of 578–595k (docs/scaling.md, "Building SQLite"). Nothing else changes: the flag
//! only lets `sqlite3_release_memory` (and a soft heap limit) free cached pages, which this
//! crate never calls or sets.
//!
//! # Testing against servers
//!
//! The PostgreSQL and MySQL suites run when `ENGAGEMENT_TEST_POSTGRES_URL` (for example
//! `postgres://postgres@127.0.0.1:5432/postgres`) and `ENGAGEMENT_TEST_MYSQL_URL` (for example
//! `mysql://root@127.0.0.1:3306/test`) are set, each test binary in a fresh schema or database of
//! its own; without them they print that they were skipped.
#![cfg_attr(docsrs, feature(doc_cfg))]
// Without a backend feature only the shared machinery is compiled, and nothing uses it.
#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code, unused_imports, unused_macros, unused_variables)
)]

mod chunk;
mod dialect;
mod encode;
mod engine;
mod error;
mod fetched;
mod filter;
mod migrate;
mod prefix;
mod sql;
mod url;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use prefix::TablePrefix;
/// The sqlx version the stores are built on, for building pools and options.
pub use sqlx;
pub use url::connect;

#[cfg(feature = "mysql")]
pub use mysql::MySqlStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
