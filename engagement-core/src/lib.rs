//! Customer-engagement reports over a pluggable event store.
//!
//! `engagement-core` holds the rules of three report families — the **engagement ranking**
//! (top customers by their own activity in a window), **customer activity** (milestone
//! counters, sparklines, a summary bar and a detail panel) and the **event log** (every event,
//! filtered, paginated, exported) — plus **funnels**, role-based **access**, **time rules**
//! (quick ranges, calendar presets, custom dates, DST-correct days) and **CSV**.
//! Storage sits behind the [`EventStore`] trait, implemented by `engagement-memory` (in
//! memory) and `engagement-sqlx` (SQLite, PostgreSQL, MySQL); the rules run without I/O. The
//! few helpers that touch files say so: [`csv::export_to_path`] and
//! [`csv::write_report_to_path`] write a file (the export formats on threads of its own), and
//! the `mmdb` feature's resolver reads a GeoIP database.
//!
//! ```
//! use std::sync::Arc;
//! use engagement_core::report::{EngagementRequest, Reports, ScoreBand};
//! use engagement_core::{
//!     Customer, CustomerId, Event, EventStore, FixedClock, Lookback, RangeSpec, ReferenceStore,
//!     Role, Viewer, WorkspaceId, names,
//! };
//!
//! # futures::executor::block_on(async {
//! let store = Arc::new(ReferenceStore::default());
//! let ws = WorkspaceId::new("acme")?;
//! store.upsert_customers(&ws, &[Customer::new(CustomerId(12345), "John", "Smith")]).await?;
//! let events: Vec<Event> = (0..47)
//!     .map(|i| Event::new(format!("e{i}"), CustomerId(12345), names::PAGE_VIEWED, "2026-11-20T11:50:00Z".parse().unwrap()))
//!     .collect();
//! store.append(&ws, &events).await?;
//!
//! let clock = Arc::new(FixedClock::new("2026-11-20T12:00:00Z".parse()?));
//! let reports = Reports::new(store).with_clock(clock);
//! let manager = Viewer::new(ws.clone(), Role::Manager);
//! let request = EngagementRequest::new(ws).with_range(RangeSpec::last(Lookback::Minutes15));
//! let report = reports.engagement(&manager, &request).await?;
//!
//! let top = &report.rows[0];
//! assert_eq!(top.customer.as_ref().map(|c| c.full_name()), Some("John Smith".into()));
//! assert_eq!((top.score, top.band), (47, ScoreBand::Medium));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! The pieces:
//! - [`report::Reports`], the facade a host holds: access check, time resolution, store
//!   primitives, rules; every report echoes the window, zone and request it was computed over.
//! - [`EventStore`], the contract of aggregate primitives; [`ReferenceStore`], the
//!   obviously-correct evaluator every backend is tested against (feature `conformance` ships
//!   the shared test suite).
//! - `ingest::Ingestor` (feature `ingest`, on by default; needs a Tokio runtime): validates
//!   events at once, writes them in batches with retries and backpressure, and says up to when
//!   ingested data is complete.
//! - [`import`]: streaming CSV and NDJSON readers with line-numbered errors, for existing logs.
//! - `enrich` (feature `enrich`, on by default; `mmdb` adds the GeoIP resolver): device, geo
//!   and page fields from a User-Agent, an IP and a URL.
//! - [`retention`]: per-workspace retention policies and erasure of one customer.
//! - [`csv`]: every report and the event log as CSV, guarded against spreadsheet formulas.
//! - [`time`], [`access`], [`Limits`] (validation of incoming events), [`Error`].

pub mod access;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod csv;
#[cfg(feature = "enrich")]
pub mod enrich;
mod error;
pub mod import;
#[cfg(feature = "ingest")]
pub mod ingest;
mod model;
pub mod report;
pub mod retention;
pub mod store;
pub mod time;

/// The `chrono` the API speaks (`NaiveDate` in custom ranges, `TimeDelta` in funnels and
/// timestamps' arithmetic), so that a host needs no matching version of its own.
pub use chrono;
/// The `chrono-tz` the API speaks ([`ReportZone`] holds a `chrono_tz::Tz`), for the same reason.
pub use chrono_tz;

pub use access::{AccessPolicy, ReportKind, Role, Viewer};
pub use error::{BoxError, Error, ForbiddenReason, Result};
#[cfg(feature = "ingest")]
pub use ingest::{IngestConfig, Ingestor};
pub use model::batch::{EventBatch, EventBatchIter, EventRef};
pub use model::customer::{
    Customer, CustomerStatus, SEARCH_SEPARATOR, fold_for_search, holds_every_word, search_words,
};
pub use model::event::{Actor, Device, Event, EventKey, Geo, Metadata, Page};
pub use model::ids::{CustomerId, EventId, MAX_ID_BYTES, WorkspaceId};
pub use model::names;
pub use model::validate::{Limits, MAX_READABLE_METADATA_DEPTH};
pub use report::Reports;
pub use store::EventStore;
pub use store::query::*;
pub use store::reference::ReferenceStore;
pub use store::reference::eval as reference;
pub use time::{
    CalendarPreset, Clock, FixedClock, Lookback, RangeSpec, ReportZone, SystemClock, TimeWindow,
    Timestamp,
};
