//! What the report tests (`reports.rs`, `seed_requirements.rs`) build on: the `Reports` facade
//! over a `ReferenceStore` with a `FixedClock`, in workspace `acme`, and their test data.
//!
//! Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::sync::Arc;

use engagement_core::report::Reports;
use engagement_core::{
    Customer, CustomerId, CustomerStatus, Event, EventStore, FixedClock, ReferenceStore,
    ReportZone, Role, Timestamp, Viewer, WorkspaceId,
};

/// An instant written in RFC 3339.
pub(crate) fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// The workspace every report test reads.
pub(crate) fn ws() -> WorkspaceId {
    WorkspaceId::new("acme").unwrap()
}

/// Event `id` of `customer` named `name` at `at`.
pub(crate) fn event(id: &str, customer: i64, name: &str, at: Timestamp) -> Event {
    Event::new(id, CustomerId(customer), name, at)
}

/// Customers 1 to `n`, named `Name{i} {surname}`, every third inactive.
pub(crate) fn customers_every_third_inactive(n: i64, surname: &str) -> Vec<Customer> {
    (1..=n)
        .map(|i| {
            let mut c = Customer::new(CustomerId(i), format!("Name{i}"), surname);
            c.status = if i % 3 == 0 {
                CustomerStatus::Inactive
            } else {
                CustomerStatus::Active
            };
            c
        })
        .collect()
}

/// Parses CSV bytes into rows of cells, the header included.
pub(crate) fn parse_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// The store, the reports over it, and a manager and an administrator of `acme`.
pub(crate) struct Fixture {
    pub(crate) store: Arc<ReferenceStore>,
    pub(crate) reports: Reports,
    pub(crate) manager: Viewer,
    pub(crate) admin: Viewer,
}

/// A fresh fixture whose clock stands at `now`, its reports in `zone`.
pub(crate) fn fixture_at(now: &str, zone: ReportZone) -> Fixture {
    let store = Arc::new(ReferenceStore::default());
    let reports = Reports::new(store.clone())
        .with_clock(Arc::new(FixedClock::new(ts(now))))
        .with_zone(zone);
    Fixture {
        store,
        reports,
        manager: Viewer::new(ws(), Role::Manager),
        admin: Viewer::new(ws(), Role::Administrator),
    }
}

impl Fixture {
    /// Appends `events` to `acme`.
    pub(crate) async fn append(&self, events: &[Event]) {
        self.store.append(&ws(), events).await.unwrap();
    }

    /// Stores `customers` in `acme`.
    pub(crate) async fn customers(&self, customers: &[Customer]) {
        self.store.upsert_customers(&ws(), customers).await.unwrap();
    }
}
