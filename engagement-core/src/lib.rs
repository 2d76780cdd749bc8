//! Customer-engagement reports over a pluggable event store.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod access;
#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod model;
pub mod store;
pub mod time;

pub use access::{AccessPolicy, ReportKind, Role, Viewer};
pub use error::{BoxError, Error, ForbiddenReason, Result};
pub use model::customer::{Customer, CustomerStatus, SEARCH_SEPARATOR};
pub use model::event::{Actor, Device, Event, EventKey, Geo, Metadata, Page};
pub use model::ids::{CustomerId, EventId, MAX_ID_BYTES, WorkspaceId};
pub use model::names;
pub use model::validate::Limits;
pub use store::EventStore;
pub use store::query::*;
pub use store::reference::ReferenceStore;
pub use store::reference::eval as reference;
pub use time::{
    CalendarPreset, Clock, FixedClock, Lookback, RangeSpec, ReportZone, SystemClock, TimeWindow,
    Timestamp,
};
