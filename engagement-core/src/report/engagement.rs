//! The engagement ranking: the most active customers in a window.

use serde::{Deserialize, Serialize};

use super::{BandThresholds, EventLogRequest, ReportPeriod, ScoreBand};
use crate::model::customer::{Customer, fold_for_search, search_words};
use crate::model::event::Actor;
use crate::model::ids::{CustomerId, WorkspaceId};
use crate::store::query::{CustomerScore, RankedScore};
use crate::time::{Lookback, RangeSpec, TimeWindow, Timestamp};

/// The largest (and default) number of rows of the ranking.
pub const MAX_RANKING_ROWS: usize = 100;

/// The longest custom range the ranking accepts, in local days.
pub const MAX_RANKING_DAYS: u16 = 28;

/// What the engagement ranking is asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EngagementRequest {
    /// The workspace to rank.
    pub workspace: WorkspaceId,
    /// The span scored; the last 15 minutes by default.
    pub range: RangeSpec,
    /// How many rows, 1 to [`MAX_RANKING_ROWS`].
    pub limit: usize,
    /// A customer whose place in the ranking the report says too, however far down
    /// ([`EngagementReport::standing`]); `None` for none.
    #[serde(default)]
    pub standing_of: Option<CustomerId>,
}

impl EngagementRequest {
    /// The default view: the last 15 minutes, top 100.
    #[must_use]
    pub fn new(workspace: WorkspaceId) -> Self {
        Self {
            workspace,
            range: RangeSpec::last(Lookback::Minutes15),
            limit: MAX_RANKING_ROWS,
            standing_of: None,
        }
    }

    /// The same request over another range.
    #[must_use]
    pub fn with_range(self, range: RangeSpec) -> Self {
        Self { range, ..self }
    }

    /// The same request for the top `limit` rows (1 to [`MAX_RANKING_ROWS`], checked when the
    /// report runs).
    #[must_use]
    pub fn with_limit(self, limit: usize) -> Self {
        Self { limit, ..self }
    }

    /// The same request saying where `customer` ranks too, even outside the rows
    /// ([`EngagementReport::standing`]), read with the ranking from one state.
    #[must_use]
    pub fn with_standing_of(self, customer: CustomerId) -> Self {
        Self {
            standing_of: Some(customer),
            ..self
        }
    }
}

/// One ranked customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EngagementRow {
    /// 1-based position.
    pub rank: u64,
    /// The customer.
    pub customer_id: CustomerId,
    /// The customer's record, when the directory has one.
    pub customer: Option<Customer>,
    /// Events the customer performed in the window.
    pub score: u64,
    /// How the score reads.
    pub band: ScoreBand,
    /// Whether the score is high enough to investigate.
    pub investigate: bool,
    /// The event-log request listing exactly the events counted (the score link).
    pub drill_down: EventLogRequest,
}

impl EngagementRow {
    /// Whether the row matches a table search: every word of `term` ([`search_words`]) is
    /// part of the id as the table shows it (`#12345`, `2345`, `#123`) or part of the name,
    /// case-insensitive, in any order: "smith john" and "#12345 smith" find John Smith, #12345.
    pub fn matches(&self, term: &str) -> bool {
        let id = format!("#{}", self.customer_id);
        let name = self
            .customer
            .as_ref()
            .map(|c| fold_for_search(&c.full_name()))
            .unwrap_or_default();
        search_words(term)
            .iter()
            .all(|word| id.contains(word.as_str()) || name.contains(word.as_str()))
    }
}

/// The engagement ranking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EngagementReport {
    /// The request it answers.
    pub request: EngagementRequest,
    /// The span it covers.
    pub period: ReportPeriod,
    /// When it was computed.
    pub generated_at: Timestamp,
    /// Every event accepted before this instant is included (see
    /// [`FreshnessSource`](crate::report::FreshnessSource)); `None` when the reports have no
    /// freshness source.
    #[serde(default)]
    pub complete_up_to: Option<Timestamp>,
    /// The rows, by score descending then customer id ascending.
    pub rows: Vec<EngagementRow>,
    /// Where the request's [`standing_of`](EngagementRequest::standing_of) customer ranks,
    /// from the same state as the rows: a rank within the rows is theirs.
    #[serde(default)]
    pub standing: Option<CustomerStanding>,
}

/// One customer's place in the ranking, wherever it falls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CustomerStanding {
    /// The customer.
    pub customer_id: CustomerId,
    /// The span it covers.
    pub period: ReportPeriod,
    /// Every event accepted before this instant is included (see
    /// [`FreshnessSource`](crate::report::FreshnessSource)); `None` when the reports have no
    /// freshness source.
    #[serde(default)]
    pub complete_up_to: Option<Timestamp>,
    /// Rank and score; `None` when the customer did nothing in the window (or is a placeholder).
    pub standing: Option<RankedScore>,
    /// How the score reads, when there is one.
    pub band: Option<ScoreBand>,
    /// The event-log request listing exactly the events the score counts (as a row's
    /// [`drill_down`](EngagementRow::drill_down)).
    pub drill_down: EventLogRequest,
}

/// The event-log request listing exactly the events a customer's score counts: the customer's
/// own events of the window, to the microsecond.
pub(crate) fn drill_down(
    workspace: &WorkspaceId,
    window: TimeWindow,
    customer: CustomerId,
) -> EventLogRequest {
    EventLogRequest::new(workspace.clone())
        .with_range(RangeSpec::Between {
            from: window.from,
            to: window.to,
        })
        .for_customer(customer)
        .with_actors(vec![Actor::Customer])
}

/// Builds the rows from the store's scores: ranks, bands, names and drill-downs.
pub(crate) fn rows(
    request: &EngagementRequest,
    period: &ReportPeriod,
    scores: Vec<CustomerScore>,
    customers: &[Customer],
    bands: &BandThresholds,
) -> Vec<EngagementRow> {
    let record = |id: CustomerId| {
        customers
            .binary_search_by_key(&id, |c| c.id)
            .ok()
            .map(|i| &customers[i])
    };
    scores
        .into_iter()
        .zip(1..)
        .map(|(s, rank)| EngagementRow {
            rank,
            customer_id: s.customer,
            customer: record(s.customer).cloned(),
            score: s.score,
            band: bands.band(s.score),
            investigate: bands.investigate(s.score),
            drill_down: drill_down(&request.workspace, period.window, s.customer),
        })
        .collect()
}
