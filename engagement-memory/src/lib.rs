//! An exact, in-memory [`EventStore`](engagement_core::EventStore) for tests, demos and
//! single-process hosts.
//!
//! ```
//! use engagement_core::{CustomerId, Event, EventStore, TimeWindow, Timestamp, TopCustomersQuery, WorkspaceId};
//! use engagement_memory::MemoryStore;
//!
//! futures::executor::block_on(async {
//!     let store = MemoryStore::new();
//!     let ws = WorkspaceId::new("acme")?;
//!     let at = |s: &str| s.parse::<Timestamp>();
//!     store
//!         .append(&ws, &[
//!             Event::new("e1", CustomerId(7), "Page Viewed", at("2026-11-19T10:00:00Z")?),
//!             Event::new("e2", CustomerId(7), "Link Opened", at("2026-11-19T11:00:00Z")?),
//!             Event::new("e3", CustomerId(8), "Page Viewed", at("2026-11-19T12:00:00Z")?),
//!         ])
//!         .await?;
//!     let window = TimeWindow::new(at("2026-11-19T00:00:00Z")?, at("2026-11-20T00:00:00Z")?)?;
//!     let top = store.top_customers(&ws, &TopCustomersQuery { window, limit: 100 }).await?;
//!     assert_eq!((top[0].customer, top[0].score), (CustomerId(7), 2));
//!     assert_eq!(top.len(), 2);
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # How it is laid out
//!
//! Each workspace keeps its events sorted by `(occurred_at, id)` in columns: timestamps, a
//! dense customer number, an interned name, one byte for actor, device and IP kind, interned
//! page and geo tuples, the IPv4 address inline (IPv6 interned), interned compact metadata JSON
//! and the ids back to back in one buffer. A hash index maps each id to the event's number
//! (the order it was stored in), which two plain arrays translate to and from its position; an
//! append fetches the index slots of its ids a few dozen at a time, so their cache misses
//! overlap.
//! Each customer has its event positions in order (postings).
//!
//! - A window is two binary searches; the ranking counts into a reused per-customer array and
//!   selects the top rows partially.
//! - Drill-downs, buckets and funnels walk the customers' postings; log pages are keyset pages
//!   found by binary search on `(occurred_at, id)`, with exact totals.
//! - Appends are idempotent per event id and all-or-nothing. Events later than everything
//!   stored are pushed at the end; a late event moves only the stored events after it, and
//!   their numbers with them, so the id index is not touched.
//! - [`MemoryStore::resident_bytes`] reports what the data occupies.

mod activity;
mod append;
mod arena;
mod buckets;
mod columns;
mod dict;
mod directory;
mod error;
mod filter;
mod funnel;
mod grow;
mod ids;
mod intern;
mod log;
mod number_table;
mod parallel;
mod purge;
mod ranking;
mod scratch;
mod store;
mod workspace;

pub use store::MemoryStore;
