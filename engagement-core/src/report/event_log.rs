//! The event log: every event with its context, filtered, newest first, with an exact total.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{ReportPeriod, refuse_control_characters};
use crate::error::{Error, Result};
use crate::model::customer::Customer;
use crate::model::event::{Actor, Event, EventKey, normalize_domain};
use crate::model::ids::{CustomerId, WorkspaceId};
use crate::store::query::EventFilter;
use crate::time::{Lookback, RangeSpec, TimeWindow, Timestamp};

/// The default page size of the event log.
pub const DEFAULT_LOG_PAGE: usize = 50;
/// The largest page size of the event log.
pub const MAX_LOG_PAGE: usize = 1_000;

/// What the event log is asked: a range, the filters, and a keyset cursor.
///
/// `None` filters match anything. The default range is the log's "14D": the 14 days (of 24
/// hours) before now. Built with [`new`](Self::new) and the `with_*` methods (or by setting
/// its fields), so that a filter added later is no breaking change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventLogRequest {
    /// The workspace to read.
    pub workspace: WorkspaceId,
    /// The span the events occurred in.
    pub range: RangeSpec,
    /// Event names.
    pub names: Option<Vec<String>>,
    /// Customers.
    pub customers: Option<Vec<CustomerId>>,
    /// Actors (the ranking's drill-down narrows to the customer's own events).
    pub actors: Option<Vec<Actor>>,
    /// Originating IP.
    pub ip: Option<IpAddr>,
    /// Page path.
    pub path: Option<String>,
    /// Page domain.
    pub domain: Option<String>,
    /// Referrer ("" for direct traffic).
    pub referrer: Option<String>,
    /// Resume after this event (the previous page's [`EventLogPage::next`]).
    pub after: Option<EventKey>,
    /// Events per page, 1 to [`MAX_LOG_PAGE`].
    pub page_size: usize,
}

impl EventLogRequest {
    /// Every event of the last 14 days, first page.
    #[must_use]
    pub fn new(workspace: WorkspaceId) -> Self {
        Self {
            workspace,
            range: RangeSpec::last(Lookback::Days(14)),
            names: None,
            customers: None,
            actors: None,
            ip: None,
            path: None,
            domain: None,
            referrer: None,
            after: None,
            page_size: DEFAULT_LOG_PAGE,
        }
    }

    /// The same request over another range.
    #[must_use]
    pub fn with_range(self, range: RangeSpec) -> Self {
        Self { range, ..self }
    }

    /// The same request for one customer.
    #[must_use]
    pub fn for_customer(self, customer: CustomerId) -> Self {
        Self {
            customers: Some(vec![customer]),
            ..self
        }
    }

    /// The same request for these customers.
    #[must_use]
    pub fn with_customers(self, customers: impl IntoIterator<Item = CustomerId>) -> Self {
        Self {
            customers: Some(customers.into_iter().collect()),
            ..self
        }
    }

    /// The same request restricted to these actors.
    #[must_use]
    pub fn with_actors(self, actors: Vec<Actor>) -> Self {
        Self {
            actors: Some(actors),
            ..self
        }
    }

    /// The same request restricted to these event names.
    #[must_use]
    pub fn with_names<S: Into<String>>(self, names: impl IntoIterator<Item = S>) -> Self {
        Self {
            names: Some(names.into_iter().map(Into::into).collect()),
            ..self
        }
    }

    /// The same request restricted to the events of one client IP (either spelling of an IPv4
    /// client: see [`filter`](Self::filter)).
    #[must_use]
    pub fn with_ip(self, ip: IpAddr) -> Self {
        Self {
            ip: Some(ip),
            ..self
        }
    }

    /// The same request restricted to the pages of one domain (in any case).
    #[must_use]
    pub fn with_domain(self, domain: impl Into<String>) -> Self {
        Self {
            domain: Some(domain.into()),
            ..self
        }
    }

    /// The same request restricted to one page path (exactly).
    #[must_use]
    pub fn with_path(self, path: impl Into<String>) -> Self {
        Self {
            path: Some(path.into()),
            ..self
        }
    }

    /// The same request restricted to one referrer (exactly; `""` for direct traffic).
    #[must_use]
    pub fn with_referrer(self, referrer: impl Into<String>) -> Self {
        Self {
            referrer: Some(referrer.into()),
            ..self
        }
    }

    /// The same request resuming after `key` (a page's [`EventLogPage::next`]; to keep that
    /// page's window too, use [`EventLogPage::next_request`]).
    #[must_use]
    pub fn with_after(self, key: EventKey) -> Self {
        Self {
            after: Some(key),
            ..self
        }
    }

    /// The same request with pages of `page_size` events (1 to [`MAX_LOG_PAGE`], checked when
    /// the report runs).
    #[must_use]
    pub fn with_page_size(self, page_size: usize) -> Self {
        Self { page_size, ..self }
    }

    /// The store filter for the resolved window, its IP and domain written as ingestion
    /// stores them ([`Event::normalize`](crate::Event::normalize)): `::ffff:81.2.69.142`
    /// finds the events of `81.2.69.142`, `Shop.Example.com` those of `shop.example.com`,
    /// `bücher.example` those of `xn--bcher-kva.example`.
    pub fn filter(&self, window: TimeWindow) -> EventFilter {
        EventFilter {
            window,
            names: self.names.clone(),
            customers: self.customers.clone(),
            actors: self.actors.clone(),
            ip: self.ip.map(|ip| ip.to_canonical()),
            path: self.path.clone(),
            domain: self.domain.clone().map(|mut domain| {
                normalize_domain(&mut domain);
                domain
            }),
            referrer: self.referrer.clone(),
        }
    }

    /// Checks the page size, the cursor and the texts to match.
    ///
    /// # Errors
    /// [`Error::InvalidQuery`] when the page size is 0 or above [`MAX_LOG_PAGE`], or the
    /// cursor's event id, an event name, the path, domain or referrer holds a control character
    /// (no stored event has one).
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_LOG_PAGE).contains(&self.page_size) {
            return Err(Error::invalid_query(
                "page_size",
                format!("{} is not between 1 and {MAX_LOG_PAGE}", self.page_size),
            ));
        }
        if let Some(after) = &self.after {
            refuse_control_characters("after", after.id.as_str())?;
        }
        self.check_texts()
    }

    /// Checks the texts to match (an export has no pages to check): none holds a control
    /// character.
    ///
    /// # Errors
    /// [`Error::InvalidQuery`] naming the first field that does.
    pub(crate) fn check_texts(&self) -> Result<()> {
        for name in self.names.iter().flatten() {
            refuse_control_characters("name", name)?;
        }
        for (field, text) in [
            ("path", &self.path),
            ("domain", &self.domain),
            ("referrer", &self.referrer),
        ] {
            if let Some(text) = text {
                refuse_control_characters(field, text)?;
            }
        }
        Ok(())
    }
}

/// An event with its customer's record, joined at read time (a renamed customer shows the new name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LogEntry {
    /// The event.
    pub event: Event,
    /// The customer's record, when the directory has one.
    pub customer: Option<Customer>,
}

/// One page of the event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventLogPage {
    /// The request it answers.
    pub request: EventLogRequest,
    /// The span it covers.
    pub period: ReportPeriod,
    /// When it was computed.
    pub generated_at: Timestamp,
    /// Every event accepted before this instant is included (see
    /// [`FreshnessSource`](crate::report::FreshnessSource)); `None` when the reports have no
    /// freshness source.
    #[serde(default)]
    pub complete_up_to: Option<Timestamp>,
    /// The events, newest first.
    pub entries: Vec<LogEntry>,
    /// Every event the filters match (all pages).
    pub total: u64,
    /// The cursor of the next page; `None` on the last page.
    pub next: Option<EventKey>,
}

impl EventLogPage {
    /// The request for the next page, `None` on the last one: this page's request resuming
    /// after its last event, over the instants this page covered
    /// ([`RangeSpec::Between`] its [`period`](Self::period)'s window). A range ending "now"
    /// (the default 14-day lookback) would otherwise move on between pages, and the total
    /// with it, while events keep arriving.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use engagement_core::report::{EventLogRequest, Reports};
    /// use engagement_core::{
    ///     CustomerId, Event, EventStore, FixedClock, ReferenceStore, Role, Viewer, WorkspaceId,
    ///     names,
    /// };
    ///
    /// # futures::executor::block_on(async {
    /// let (now, earlier) = ("2026-11-20T12:00:00Z".parse()?, "2026-11-20T11:00:00Z".parse()?);
    /// let store = Arc::new(ReferenceStore::default());
    /// let ws = WorkspaceId::new("acme")?;
    /// let events: Vec<_> = (0..5)
    ///     .map(|i| Event::new(format!("e{i}"), CustomerId(1), names::PAGE_VIEWED, earlier))
    ///     .collect();
    /// store.append(&ws, &events).await?;
    /// let reports = Reports::new(store).with_clock(Arc::new(FixedClock::new(now)));
    /// let viewer = Viewer::new(ws.clone(), Role::Manager);
    ///
    /// let mut request = EventLogRequest::new(ws);
    /// request.page_size = 2;
    /// let mut seen = 0;
    /// loop {
    ///     let page = reports.event_log(&viewer, &request).await?;
    ///     seen += page.entries.len();
    ///     match page.next_request() {
    ///         Some(next) => request = next,
    ///         None => break,
    ///     }
    /// }
    /// assert_eq!(seen, 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn next_request(&self) -> Option<EventLogRequest> {
        let after = self.next.clone()?;
        let window = self.period.window;
        Some(EventLogRequest {
            after: Some(after),
            ..self.request.clone().with_range(RangeSpec::Between {
                from: window.from,
                to: window.to,
            })
        })
    }
}

/// Pairs events with their customer records (sorted by id).
pub(crate) fn join_customers(events: Vec<Event>, customers: &[Customer]) -> Vec<LogEntry> {
    events
        .into_iter()
        .map(|event| LogEntry {
            customer: customers
                .binary_search_by_key(&event.customer, |c| c.id)
                .ok()
                .map(|i| customers[i].clone()),
            event,
        })
        .collect()
}

/// The distinct customers of some events, sorted.
pub(crate) fn customer_ids<'a>(events: impl IntoIterator<Item = &'a Event>) -> Vec<CustomerId> {
    let mut ids: Vec<CustomerId> = events.into_iter().map(|e| e.customer).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_builder_sets_its_own_field() {
        let ws = WorkspaceId::new("w").unwrap();
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let built = EventLogRequest::new(ws.clone())
            .with_ip(ip)
            .with_domain("shop.test")
            .with_path("/cart")
            .with_referrer("")
            .with_page_size(7);
        let mut set = EventLogRequest::new(ws);
        set.ip = Some(ip);
        set.domain = Some("shop.test".into());
        set.path = Some("/cart".into());
        set.referrer = Some(String::new());
        set.page_size = 7;
        assert_eq!(built, set);
    }
}
