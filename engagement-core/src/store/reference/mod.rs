//! The reference evaluator: the expected answer of every store primitive.
//!
//! [`eval`] holds plain, synchronous functions over a slice of events and a customer
//! [`Directory`]; each one is the most direct reading of the [`EventStore`](crate::EventStore)
//! contract and the docs of its query types. [`ReferenceStore`] keeps events in memory and answers
//! every primitive through them. Property tests compare every backend with it.

mod activity;
mod funnel;
mod log;
mod ranking;
mod store;
mod writes;

pub use store::ReferenceStore;

/// The pure reference functions, one per store primitive.
///
/// Every function takes the events of ONE workspace (in any order, ids unique) and, where
/// customers matter, that workspace's directory.
///
/// ```
/// use std::collections::BTreeMap;
/// use engagement_core::{reference, CustomerId, Event, TimeWindow, Timestamp, TopCustomersQuery};
///
/// let at = Timestamp::from_micros(10);
/// let events = vec![
///     Event::new("a", CustomerId(2), "Page Viewed", at),
///     Event::new("b", CustomerId(1), "Page Viewed", at),
/// ];
/// let query = TopCustomersQuery { window: TimeWindow::ALL, limit: 10 };
/// let top = reference::top_customers(&events, &BTreeMap::new(), &query);
/// // A tie is broken by customer id ascending.
/// assert_eq!(top[0].customer, CustomerId(1));
/// ```
pub mod eval {
    pub use super::activity::{activity_page, bucket_counts};
    pub use super::funnel::funnel_input;
    pub use super::log::{event, event_page, export};
    pub use super::ranking::{customer_rank, ranking, top_customers};
    pub use super::writes::{append, purge, purge_removes};

    /// A workspace's customer records by id.
    pub type Directory =
        std::collections::BTreeMap<crate::model::ids::CustomerId, crate::model::customer::Customer>;
}

use crate::model::event::{Actor, Event};
use crate::time::TimeWindow;
use eval::Directory;

/// Whether an aggregate primitive counts `event` in `window`: only the customer's own events.
fn counted(event: &Event, window: TimeWindow) -> bool {
    event.actor == Actor::Customer && window.contains(event.occurred_at)
}
