//! The vocabulary of the store contract: what a primitive is asked and what it answers.

use std::net::IpAddr;

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use crate::model::customer::{Customer, CustomerStatus, holds_every_word, search_words};
use crate::model::event::{Actor, Event, EventKey};
use crate::model::ids::{CustomerId, EventId};
use crate::model::names;
use crate::time::{TimeWindow, Timestamp};

/// Which events of a workspace a log query covers. `None` means "any"; `Some(vec![])` matches
/// nothing (an empty selection is never widened to everything).
///
/// ```
/// use engagement_core::{CustomerId, Event, EventFilter, TimeWindow, Timestamp};
///
/// let window = TimeWindow::new(Timestamp::from_micros(0), Timestamp::from_micros(100))?;
/// let filter = EventFilter::new(window).with_customers(vec![CustomerId(7)]);
/// let e = Event::new("a", CustomerId(7), "Page Viewed", Timestamp::from_micros(50));
/// assert!(filter.matches(&e));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFilter {
    /// The half-open span the events occurred in.
    pub window: TimeWindow,
    /// Event names, matched exactly.
    pub names: Option<Vec<String>>,
    /// Customers.
    pub customers: Option<Vec<CustomerId>>,
    /// Actors.
    pub actors: Option<Vec<Actor>>,
    /// Originating IP, matched exactly.
    pub ip: Option<IpAddr>,
    /// Page path, matched exactly.
    pub path: Option<String>,
    /// Page domain, matched exactly.
    pub domain: Option<String>,
    /// Referrer, matched exactly ("" selects direct traffic).
    pub referrer: Option<String>,
}

impl EventFilter {
    /// Every event in `window`.
    #[must_use]
    pub fn new(window: TimeWindow) -> Self {
        Self {
            window,
            names: None,
            customers: None,
            actors: None,
            ip: None,
            path: None,
            domain: None,
            referrer: None,
        }
    }

    /// The same filter restricted to these event names.
    #[must_use]
    pub fn with_names<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.names = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// The same filter restricted to these customers.
    #[must_use]
    pub fn with_customers(mut self, customers: Vec<CustomerId>) -> Self {
        self.customers = Some(customers);
        self
    }

    /// The same filter restricted to these actors.
    #[must_use]
    pub fn with_actors(mut self, actors: Vec<Actor>) -> Self {
        self.actors = Some(actors);
        self
    }

    /// Whether `event` passes the filter. This is the definition every backend implements.
    pub fn matches(&self, event: &Event) -> bool {
        fn any_of<T: PartialEq>(set: &Option<Vec<T>>, value: &T) -> bool {
            set.as_ref().is_none_or(|s| s.contains(value))
        }
        fn equal<T: PartialEq + ?Sized>(want: Option<&T>, value: &T) -> bool {
            want.is_none_or(|w| w == value)
        }
        self.window.contains(event.occurred_at)
            && self.names.as_ref().is_none_or(|s| s.contains(&event.name))
            && any_of(&self.customers, &event.customer)
            && any_of(&self.actors, &event.actor)
            && self.ip.is_none_or(|ip| event.ip == Some(ip))
            && equal(self.path.as_deref(), event.page.path.as_str())
            && equal(self.domain.as_deref(), event.page.domain.as_str())
            && equal(self.referrer.as_deref(), event.page.referrer.as_str())
    }
}

/// The engagement ranking primitive's question: who did the most in `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopCustomersQuery {
    /// The half-open span scored.
    pub window: TimeWindow,
    /// At most this many rows.
    pub limit: usize,
}

/// The engagement ranking and what is read with it, from one state:
/// [`EventStore::ranking`](crate::EventStore::ranking)'s question.
///
/// ```
/// use engagement_core::{CustomerId, RankingQuery, TimeWindow, TopCustomersQuery};
///
/// let top = TopCustomersQuery { window: TimeWindow::ALL, limit: 100 };
/// let query = RankingQuery::new(top).with_records().with_standing_of(CustomerId(7));
/// assert!(query.records);
/// assert_eq!(query.standing_of, Some(CustomerId(7)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankingQuery {
    /// The window scored and the rows wanted.
    pub top: TopCustomersQuery,
    /// Whether the records of the ranked customers are read too.
    pub records: bool,
    /// A customer whose place in the full ranking of the window is read too, however far down.
    pub standing_of: Option<CustomerId>,
}

impl RankingQuery {
    /// The ranking `top` asks for, and nothing with it.
    #[must_use]
    pub fn new(top: TopCustomersQuery) -> Self {
        Self {
            top,
            records: false,
            standing_of: None,
        }
    }

    /// The same query reading the ranked customers' records too.
    #[must_use]
    pub fn with_records(self) -> Self {
        Self {
            records: true,
            ..self
        }
    }

    /// The same query reading `customer`'s place in the full ranking too.
    #[must_use]
    pub fn with_standing_of(self, customer: CustomerId) -> Self {
        Self {
            standing_of: Some(customer),
            ..self
        }
    }
}

/// The answer to a [`RankingQuery`], read from one state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ranking {
    /// What [`top_customers`](crate::EventStore::top_customers) answers to the query's `top`.
    pub scores: Vec<CustomerScore>,
    /// The records of the ranked customers that have one, ordered by id; empty unless the
    /// query asks for them.
    pub records: Vec<Customer>,
    /// What [`customer_rank`](crate::EventStore::customer_rank) answers for the query's
    /// `standing_of` over its window; `None` when it names nobody.
    pub standing: Option<RankedScore>,
}

/// A customer's engagement score: the number of their own events in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CustomerScore {
    /// The customer.
    pub customer: CustomerId,
    /// How many events the customer performed.
    pub score: u64,
}

/// A customer's place in the full ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RankedScore {
    /// 1-based rank under (score desc, customer id asc).
    pub rank: u64,
    /// The customer's score.
    pub score: u64,
}

/// Which event names count as each milestone of the activity report. Events are data: a host
/// maps its own names; the default is the product documents' names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Milestones {
    /// Link opens ("Views", "Last click", the sparkline).
    pub views: Vec<String>,
    /// Confirmation welcome screen clicked through.
    pub confirmed: Vec<String>,
    /// Strict Security Mode verifications.
    pub verified: Vec<String>,
    /// Checkout reached.
    pub checkout: Vec<String>,
    /// Orders submitted.
    pub orders: Vec<String>,
}

impl Default for Milestones {
    fn default() -> Self {
        let one = |n: &str| vec![n.to_owned()];
        Self {
            views: one(names::LINK_OPENED),
            confirmed: one(names::CONFIRMED),
            verified: one(names::VERIFIED),
            checkout: one(names::CHECKOUT_STARTED),
            orders: one(names::ORDER_SUBMITTED),
        }
    }
}

impl Milestones {
    /// The milestone an event name counts toward, if any (the first one in declaration order
    /// when a host maps a name twice).
    pub fn milestone_of(&self, name: &str) -> Option<Milestone> {
        Milestone::ALL
            .into_iter()
            .find(|m| self.names(*m).iter().any(|n| n == name))
    }

    /// The names mapped to `milestone`.
    pub fn names(&self, milestone: Milestone) -> &[String] {
        match milestone {
            Milestone::Views => &self.views,
            Milestone::Confirmed => &self.confirmed,
            Milestone::Verified => &self.verified,
            Milestone::Checkout => &self.checkout,
            Milestone::Orders => &self.orders,
        }
    }
}

/// One of the activity report's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Milestone {
    /// Link opens.
    Views,
    /// Confirmations.
    Confirmed,
    /// Verifications.
    Verified,
    /// Checkouts started.
    Checkout,
    /// Orders submitted.
    Orders,
}

impl Milestone {
    /// Every milestone, in column order.
    pub const ALL: [Self; 5] = [
        Self::Views,
        Self::Confirmed,
        Self::Verified,
        Self::Checkout,
        Self::Orders,
    ];
}

/// Which customers an activity query lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerFilter {
    /// Words ([`search_words`]) that [`Customer::search_text`] (first name, last name, full
    /// name, code and email, folded) must each hold, in any order, case-insensitive. Matched
    /// literally: `%`, `_` and `\` are ordinary characters.
    pub search: Option<String>,
    /// Only active or only inactive customers.
    pub status: Option<CustomerStatus>,
    /// Only these customers.
    pub ids: Option<Vec<CustomerId>>,
}

impl CustomerFilter {
    /// Whether `customer` passes the filter. This is the definition every backend implements.
    pub fn matches(&self, customer: &Customer) -> bool {
        self.status.is_none_or(|s| s == customer.status)
            && self
                .ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&customer.id))
            && self
                .search
                .as_ref()
                .is_none_or(|term| holds_every_word(&customer.search_text(), &search_words(term)))
    }
}

/// What the activity table can be sorted by. Ties are always broken by customer id ascending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivitySortKey {
    /// A milestone counter.
    Milestone(Milestone),
    /// The last link open (customers without one sort as the smallest value).
    LastClick,
    /// The most recent event of any name (customers without one sort as the smallest value).
    LastActivity,
    /// The lower-cased full name, byte-wise.
    Name,
    /// The customer id.
    CustomerId,
}

/// A sort key and direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ActivitySort {
    /// What to sort by.
    pub key: ActivitySortKey,
    /// Largest first.
    pub descending: bool,
}

impl Default for ActivitySort {
    /// Most views first.
    fn default() -> Self {
        Self {
            key: ActivitySortKey::Milestone(Milestone::Views),
            descending: true,
        }
    }
}

/// The activity primitive's question: one page of customers with their counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityQuery {
    /// The span the counters cover.
    pub window: TimeWindow,
    /// Which customers are rows.
    pub customers: CustomerFilter,
    /// Which names count as which milestone.
    pub milestones: Milestones,
    /// The order of the rows.
    pub sort: ActivitySort,
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return at most.
    pub limit: u64,
    /// Counts per bucket to read for the page's rows with them (their sparklines, a trend);
    /// `None` reads none.
    pub row_buckets: Option<RowBuckets>,
    /// The latest events of the page's customers to read with them (a customer's recent
    /// milestones); `None` reads none.
    pub latest: Option<LatestEvents>,
}

impl ActivityQuery {
    /// What [`row_buckets`](Self::row_buckets) asks of
    /// [`bucket_counts`](crate::EventStore::bucket_counts) for the page's `rows`: the counts of
    /// its names in its buckets for the rows' customers, in row order. `None` when it asks
    /// nothing or there is no row.
    #[must_use]
    pub fn row_buckets_query(&self, rows: &[ActivityRow]) -> Option<BucketCountsQuery> {
        let asked = self.row_buckets.as_ref().filter(|_| !rows.is_empty())?;
        Some(BucketCountsQuery {
            customers: rows.iter().map(|r| r.customer.id).collect(),
            names: asked.names.clone(),
            edges: asked.edges.clone(),
        })
    }

    /// What [`latest`](Self::latest) asks of [`event_page`](crate::EventStore::event_page) for
    /// the page's `rows`: the first page of the rows' customers' own events
    /// ([`Actor::Customer`]) of its names in the window. `None` when it asks nothing or there
    /// is no row.
    #[must_use]
    pub fn latest_query(&self, rows: &[ActivityRow]) -> Option<EventPageQuery> {
        let asked = self.latest.as_ref().filter(|_| !rows.is_empty())?;
        Some(EventPageQuery {
            filter: EventFilter::new(self.window)
                .with_customers(rows.iter().map(|r| r.customer.id).collect())
                .with_actors(vec![Actor::Customer])
                .with_names(asked.names.iter().cloned()),
            after: None,
            limit: asked.limit,
        })
    }
}

/// Counts per bucket of an activity page's rows, read with them: the query
/// [`ActivityQuery::row_buckets_query`] builds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowBuckets {
    /// The event names that count.
    pub names: Vec<String>,
    /// `n + 1` ascending edges of `n` half-open buckets.
    pub edges: Vec<Timestamp>,
}

/// The latest events of an activity page's customers, read with them: the query
/// [`ActivityQuery::latest_query`] builds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatestEvents {
    /// The event names listed.
    pub names: Vec<String>,
    /// Events to return at most.
    pub limit: usize,
}

/// One customer's counters over a window, from the customer's own events only (actor
/// [`Customer`](crate::Actor::Customer)): what staff or the system did on the account is not the
/// customer's activity, so it moves neither a counter nor the last activity; the event log shows
/// every actor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ActivityCounters {
    /// Link opens.
    pub views: u64,
    /// Confirmations.
    pub confirmed: u64,
    /// Verifications.
    pub verified: u64,
    /// Checkouts started.
    pub checkout: u64,
    /// Orders submitted.
    pub orders: u64,
    /// The latest link open.
    pub last_click: Option<Timestamp>,
    /// The latest event of any name.
    pub last_activity: Option<Timestamp>,
}

impl ActivityCounters {
    /// The counter of one milestone.
    pub fn get(&self, milestone: Milestone) -> u64 {
        match milestone {
            Milestone::Views => self.views,
            Milestone::Confirmed => self.confirmed,
            Milestone::Verified => self.verified,
            Milestone::Checkout => self.checkout,
            Milestone::Orders => self.orders,
        }
    }

    /// Counts one event of `name` at `at` under `milestones`.
    pub fn record(&mut self, milestones: &Milestones, name: &str, at: Timestamp) {
        self.last_activity = self.last_activity.max(Some(at));
        match milestones.milestone_of(name) {
            Some(Milestone::Views) => {
                self.views += 1;
                self.last_click = self.last_click.max(Some(at));
            }
            Some(Milestone::Confirmed) => self.confirmed += 1,
            Some(Milestone::Verified) => self.verified += 1,
            Some(Milestone::Checkout) => self.checkout += 1,
            Some(Milestone::Orders) => self.orders += 1,
            None => {}
        }
    }
}

/// A row of the activity table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityRow {
    /// The customer.
    pub customer: Customer,
    /// Their counters over the window.
    pub counters: ActivityCounters,
}

/// The summary bar: totals over every row that matches the filters, not just the page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ActivitySummary {
    /// Distinct customers with at least one link open ("Customers with clicks").
    pub customers_with_views: u64,
    /// Link opens.
    pub views: u64,
    /// Verifications.
    pub verified: u64,
    /// Checkouts started.
    pub checkout: u64,
    /// Orders submitted.
    pub orders: u64,
}

impl ActivitySummary {
    /// Adds one row's counters.
    pub fn add(&mut self, c: &ActivityCounters) {
        self.customers_with_views += u64::from(c.views > 0);
        self.views += c.views;
        self.verified += c.verified;
        self.checkout += c.checkout;
        self.orders += c.orders;
    }
}

/// One page of the activity table, its total and its summary, and what the query asks to read
/// with its rows, from one snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActivityPage {
    /// The rows of the page.
    pub rows: Vec<ActivityRow>,
    /// How many rows match in all.
    pub total_rows: u64,
    /// Totals over all matching rows.
    pub summary: ActivitySummary,
    /// What [`bucket_counts`](crate::EventStore::bucket_counts) answers to
    /// [`ActivityQuery::row_buckets_query`] for these rows; empty when that is `None`.
    #[serde(default)]
    pub row_buckets: Vec<BucketCount>,
    /// What [`event_page`](crate::EventStore::event_page) answers to
    /// [`ActivityQuery::latest_query`] for these rows; empty when that is `None`.
    #[serde(default)]
    pub latest: EventPage,
}

/// Daily (or any) buckets of counts for a set of customers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketCountsQuery {
    /// The customers to count for.
    pub customers: Vec<CustomerId>,
    /// The event names that count.
    pub names: Vec<String>,
    /// `n + 1` ascending edges of `n` half-open buckets.
    pub edges: Vec<Timestamp>,
}

/// A non-zero cell of a bucket grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BucketCount {
    /// The customer.
    pub customer: CustomerId,
    /// Index of the bucket (`[edges[i], edges[i + 1])`).
    pub bucket: usize,
    /// Events in it (never zero).
    pub count: u64,
}

/// One page of the event log, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventPageQuery {
    /// Which events.
    pub filter: EventFilter,
    /// Resume strictly after (older than) this key; `None` for the first page.
    pub after: Option<EventKey>,
    /// Events to return at most.
    pub limit: usize,
}

/// A page of the event log and the exact number of events the filter matches, from one snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventPage {
    /// The events, newest first ((occurred_at, id) descending).
    pub events: Vec<Event>,
    /// Every event the filter matches, whatever the cursor.
    pub total: u64,
}

/// What a funnel needs from storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunnelQuery {
    /// The span all step events must lie in.
    pub window: TimeWindow,
    /// Distinct event names, step 1 first (2 to 8 steps).
    pub steps: Vec<String>,
    /// How long after a step-1 event later steps still count: it decides which step-1 events
    /// a journey must hold (see [`Journey::events`]). In JSON: whole microseconds.
    #[serde(with = "crate::time::micros")]
    pub conversion_window: TimeDelta,
    /// Customers without a step-2 event whose latest step-1 event is at or after this instant
    /// are counted as [`FunnelInput::waiting`]; `None` counts none.
    pub open_since: Option<Timestamp>,
}

/// The events of one customer's journey through a funnel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journey {
    /// The customer.
    pub customer: CustomerId,
    /// The customer's step events in the window that decide the funnel, in (occurred_at, id)
    /// order: every event of steps 2 and later, and of the step-1 events only the latest and,
    /// for each step the customer reaches, the earliest step-1 event from which it is reached
    /// (see [`Journey::retain_decisive`]). Events of the same microsecond are ordered by their
    /// ids, so the position carries the tie-break and the ids themselves need not cross the
    /// trait.
    ///
    /// The other step-1 events change nothing in [`evaluate_funnel`](crate::report::evaluate_funnel)'s
    /// answer, and a store that need not read them (most events of an active customer are
    /// step 1 in a typical funnel) does not.
    pub events: Vec<StepEvent>,
}

/// An event that is one of a funnel's steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StepEvent {
    /// When it happened.
    pub at: Timestamp,
    /// 0-based index of the step its name matches.
    pub step: usize,
}

/// The funnel primitive's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunnelInput {
    /// Distinct customers with at least one step-1 event in the window.
    pub entered: u64,
    /// Customers with at least one step-1 and one step-2 event in the window, ordered by
    /// customer id, each with the step events that decide their progress.
    pub journeys: Vec<Journey>,
    /// Customers with a step-1 event but no step-2 event in the window, whose latest step-1
    /// event is at or after [`FunnelQuery::open_since`].
    pub waiting: u64,
}

/// The result of an append.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendOutcome {
    /// Events newly stored.
    pub inserted: u64,
    /// Events whose id was already stored (or repeated in the batch) with the same payload.
    pub duplicates: u64,
    /// Ids already stored (or repeated in the batch) with a different payload: the first write
    /// was kept.
    pub conflicts: Vec<EventId>,
}

/// Whether a purge deletes what its scope names or only counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurgeMode {
    /// Delete, in bounded chunks.
    Delete,
    /// Count what would be deleted; nothing changes.
    DryRun,
}

impl PurgeMode {
    /// Whether nothing is deleted, only counted.
    #[must_use]
    pub fn is_dry_run(self) -> bool {
        self == Self::DryRun
    }
}

/// What a purge removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PurgeScope {
    /// Every event strictly before the cutoff (retention).
    Before {
        /// Events at this instant or later are kept.
        cutoff: Timestamp,
    },
    /// Every event and the directory entry of one customer (an erasure request).
    Customer {
        /// The customer to erase.
        customer: CustomerId,
    },
}

/// The result of a purge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PurgeOutcome {
    /// Events removed (or, on a dry run, that would be removed).
    pub events: u64,
    /// Customer records removed (or that would be).
    pub customers: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An activity page written before `row_buckets` and `latest` existed reads as holding
    /// nothing read with its rows. (A query without them reads as asking nothing: serde takes
    /// a missing `Option` for `None` by itself.)
    #[test]
    fn activity_pages_without_what_is_read_with_the_rows_still_read() {
        let mut page = serde_json::to_value(ActivityPage::default()).unwrap();
        for field in ["row_buckets", "latest"] {
            assert!(
                page.as_object_mut().unwrap().remove(field).is_some(),
                "{field}"
            );
        }
        let page: ActivityPage = serde_json::from_value(page).unwrap();
        assert_eq!(page, ActivityPage::default());
    }
}
