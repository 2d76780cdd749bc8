//! Customer activity: milestone counters per customer, sparklines, the summary bar and the
//! customer detail panel.

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use super::{ReportPeriod, refuse_control_characters};
use crate::error::{Error, Result};
use crate::model::customer::{Customer, CustomerStatus};
use crate::model::ids::{CustomerId, EventId, WorkspaceId};
use crate::store::query::{
    ActivityCounters, ActivitySort, ActivitySummary, BucketCount, Milestone,
};
use crate::time::{CalendarPreset, RangeSpec, ReportZone, TimeWindow, Timestamp, dates_from};

/// The default page size of the activity table.
pub const DEFAULT_ACTIVITY_PAGE: u64 = 25;
/// The largest page size of the activity table.
pub const MAX_ACTIVITY_PAGE: u64 = 500;

/// The most words an activity search takes: each is looked for in every record
/// ([`search_words`](crate::search_words)).
pub const MAX_SEARCH_WORDS: usize = 16;
/// Days in a row's sparkline.
pub const SPARKLINE_DAYS: u16 = 7;
/// Days covered by the customer detail's cards.
pub const DETAIL_DAYS: u16 = 30;
/// Days in the customer detail's trend chart.
pub const TREND_DAYS: u16 = 14;
/// Milestone events listed in the customer detail.
pub const RECENT_MILESTONES: usize = 20;

/// What the activity page is asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActivityRequest {
    /// The workspace to read.
    pub workspace: WorkspaceId,
    /// The period the counters cover; the last 30 days by default.
    pub range: RangeSpec,
    /// Search over name, code and email: every word of it, case-insensitive, in any order
    /// ([`search_words`](crate::search_words)).
    pub search: Option<String>,
    /// All (`None`), active or inactive customers.
    pub status: Option<CustomerStatus>,
    /// Row order (most views first by default); ties by customer id.
    pub sort: ActivitySort,
    /// 1-based page number.
    pub page: u64,
    /// Rows per page, 1 to [`MAX_ACTIVITY_PAGE`].
    pub page_size: u64,
}

impl ActivityRequest {
    /// All customers, last 30 days, most views first, first page of 25.
    #[must_use]
    pub fn new(workspace: WorkspaceId) -> Self {
        Self {
            workspace,
            range: RangeSpec::preset(CalendarPreset::LastDays(30)),
            search: None,
            status: None,
            sort: ActivitySort::default(),
            page: 1,
            page_size: DEFAULT_ACTIVITY_PAGE,
        }
    }

    /// The same request over another range.
    #[must_use]
    pub fn with_range(self, range: RangeSpec) -> Self {
        Self { range, ..self }
    }

    /// The same request for the customers whose name, code or email holds every word of `term`
    /// (in any case and order; [`search_words`](crate::search_words)).
    #[must_use]
    pub fn with_search(self, term: impl Into<String>) -> Self {
        Self {
            search: Some(term.into()),
            ..self
        }
    }

    /// The same request for active or for inactive customers only.
    #[must_use]
    pub fn with_status(self, status: CustomerStatus) -> Self {
        Self {
            status: Some(status),
            ..self
        }
    }

    /// The same request in another row order.
    #[must_use]
    pub fn with_sort(self, sort: ActivitySort) -> Self {
        Self { sort, ..self }
    }

    /// The same request for page `page` (from 1) of `page_size` rows (1 to
    /// [`MAX_ACTIVITY_PAGE`]; both checked when the report runs).
    #[must_use]
    pub fn with_page(self, page: u64, page_size: u64) -> Self {
        Self {
            page,
            page_size,
            ..self
        }
    }

    /// Checks paging and the search term.
    ///
    /// # Errors
    /// [`Error::InvalidQuery`] for page 0, a page size outside 1 to [`MAX_ACTIVITY_PAGE`], or a
    /// search term with control characters or more than [`MAX_SEARCH_WORDS`] words.
    pub fn validate(&self) -> Result<()> {
        if self.page == 0 {
            return Err(Error::invalid_query("page", "pages are numbered from 1"));
        }
        if !(1..=MAX_ACTIVITY_PAGE).contains(&self.page_size) {
            return Err(Error::invalid_query(
                "page_size",
                format!(
                    "{} is not between 1 and {MAX_ACTIVITY_PAGE}",
                    self.page_size
                ),
            ));
        }
        // The separator of the stored search text is a control character too.
        if let Some(term) = &self.search {
            refuse_control_characters("search", term)?;
            let words = crate::search_words(term).len();
            if words > MAX_SEARCH_WORDS {
                return Err(Error::invalid_query(
                    "search",
                    format!("{words} words: a search takes at most {MAX_SEARCH_WORDS}"),
                ));
            }
        }
        Ok(())
    }

    /// The search term as the store receives it: trimmed, `None` when blank.
    pub(crate) fn search_term(&self) -> Option<String> {
        self.search
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    }
}

/// Daily counts for a run of local days.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailySeries {
    /// The first local date.
    pub first_day: NaiveDate,
    /// One count per day from `first_day`.
    pub counts: Vec<u64>,
}

impl DailySeries {
    /// The count of the last day (the sparkline's "latest day").
    pub fn latest(&self) -> u64 {
        self.counts.last().copied().unwrap_or(0)
    }

    /// Each day with its count.
    pub fn days(&self) -> impl Iterator<Item = (NaiveDate, u64)> + '_ {
        dates_from(self.first_day).zip(self.counts.iter().copied())
    }
}

/// A row of the activity table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActivityReportRow {
    /// The customer.
    pub customer: Customer,
    /// Counters over the period.
    pub counters: ActivityCounters,
    /// Daily link opens over the last seven days of the period, up to today for a period
    /// that reaches past it ("This month": the seven days ending today).
    pub sparkline: DailySeries,
}

/// The customer activity page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActivityReport {
    /// The request it answers.
    pub request: ActivityRequest,
    /// The span it covers.
    pub period: ReportPeriod,
    /// When it was computed.
    pub generated_at: Timestamp,
    /// Every event accepted before this instant is included (see
    /// [`FreshnessSource`](crate::report::FreshnessSource)); `None` when the reports have no
    /// freshness source.
    #[serde(default)]
    pub complete_up_to: Option<Timestamp>,
    /// The rows of the page.
    pub rows: Vec<ActivityReportRow>,
    /// Rows matching the filters on all pages.
    pub total_rows: u64,
    /// Pages at the requested size.
    pub page_count: u64,
    /// The summary bar, over every matching row.
    pub summary: ActivitySummary,
}

/// A milestone event in the customer detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MilestoneEvent {
    /// Which milestone.
    pub milestone: Milestone,
    /// The event's own name.
    pub name: String,
    /// When it happened.
    pub at: Timestamp,
    /// The event's id.
    pub id: EventId,
}

/// The customer detail panel's Activity tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CustomerDetail {
    /// The customer.
    pub customer: Customer,
    /// The last 30 days.
    pub period: ReportPeriod,
    /// When it was computed.
    pub generated_at: Timestamp,
    /// Every event accepted before this instant is included (see
    /// [`FreshnessSource`](crate::report::FreshnessSource)); `None` when the reports have no
    /// freshness source.
    #[serde(default)]
    pub complete_up_to: Option<Timestamp>,
    /// Views, verified, checkout and orders over the period (the summary cards).
    pub cards: ActivityCounters,
    /// Daily link opens over the last 14 days.
    pub trend: DailySeries,
    /// The latest confirmation, verification, checkout and order events, newest first.
    pub recent_milestones: Vec<MilestoneEvent>,
}

/// The last local date of the trend of a report over `window` made at `now`: the window's last
/// day, or today when the window reaches past it (a "This month" sparkline shows the days up
/// to today, not the month's days still to come), never before the window's first day.
pub(crate) fn trend_last_day(zone: &ReportZone, window: TimeWindow, now: Timestamp) -> NaiveDate {
    let last_instant = Timestamp::from_micros(window.to.as_micros().saturating_sub(1))
        .min(now)
        .max(window.from);
    zone.date_of(last_instant)
}

/// The `n` local dates ending with `last`, the first of them, and their bucket edges.
pub(crate) fn trailing_days(
    zone: &ReportZone,
    last: NaiveDate,
    n: u16,
) -> (NaiveDate, Vec<Timestamp>) {
    let first = last
        .checked_sub_days(Days::new(u64::from(n.saturating_sub(1))))
        .unwrap_or(last);
    (first, zone.day_edges(first, last))
}

/// Spreads sparse bucket counts into one dense series per customer, in the order of `customers`.
pub(crate) fn series_for(
    customers: &[CustomerId],
    cells: &[BucketCount],
    first_day: NaiveDate,
    days: usize,
) -> Vec<DailySeries> {
    customers
        .iter()
        .map(|id| {
            let mut counts = vec![0; days];
            for cell in cells.iter().filter(|c| c.customer == *id) {
                if let Some(slot) = counts.get_mut(cell.bucket) {
                    *slot += cell.count;
                }
            }
            DailySeries { first_day, counts }
        })
        .collect()
}

/// Pages needed for `total` rows.
pub(crate) fn page_count(total: u64, page_size: u64) -> u64 {
    total.div_ceil(page_size.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::query::ActivitySortKey;

    #[test]
    fn each_builder_sets_its_own_field() {
        let ws = WorkspaceId::new("w").unwrap();
        let sort = ActivitySort {
            key: ActivitySortKey::Name,
            descending: false,
        };
        let range = RangeSpec::preset(CalendarPreset::Today);
        let built = ActivityRequest::new(ws.clone())
            .with_range(range)
            .with_search("ann")
            .with_status(CustomerStatus::Inactive)
            .with_sort(sort)
            .with_page(3, 10);
        let mut set = ActivityRequest::new(ws);
        set.range = range;
        set.search = Some("ann".into());
        set.status = Some(CustomerStatus::Inactive);
        set.sort = sort;
        (set.page, set.page_size) = (3, 10);
        assert_eq!(built, set);
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn sparkline_days_end_with_the_last_day_of_the_period_or_today() {
        let zone = ReportZone::utc();
        let window = TimeWindow {
            from: "2026-10-21T00:00:00Z".parse().unwrap(),
            to: "2026-11-20T00:00:00Z".parse().unwrap(),
        };
        let later = "2026-12-01T08:00:00Z".parse().unwrap();
        let last = trend_last_day(&zone, window, later);
        assert_eq!(last, d(2026, 11, 19), "a past period: its last day");
        let (first, edges) = trailing_days(&zone, last, 7);
        assert_eq!(first, d(2026, 11, 13));
        assert_eq!(edges.len(), 8);
        assert_eq!(edges[7], window.to);
        let inside = "2026-11-02T08:00:00Z".parse().unwrap();
        assert_eq!(
            trend_last_day(&zone, window, inside),
            d(2026, 11, 2),
            "a period reaching past today: today"
        );
        let before = "2026-10-01T08:00:00Z".parse().unwrap();
        assert_eq!(
            trend_last_day(&zone, window, before),
            d(2026, 10, 21),
            "never before the period's first day"
        );
    }

    #[test]
    fn sparse_cells_fill_a_dense_series() {
        let cells = [
            BucketCount {
                customer: CustomerId(2),
                bucket: 6,
                count: 4,
            },
            BucketCount {
                customer: CustomerId(2),
                bucket: 0,
                count: 1,
            },
            BucketCount {
                customer: CustomerId(3),
                bucket: 1,
                count: 9,
            },
        ];
        let series = series_for(&[CustomerId(2), CustomerId(1)], &cells, d(2026, 11, 13), 7);
        assert_eq!(series[0].counts, vec![1, 0, 0, 0, 0, 0, 4]);
        assert_eq!(series[0].latest(), 4);
        assert_eq!(series[1].counts, vec![0; 7]);
        assert_eq!(series[0].days().last(), Some((d(2026, 11, 19), 4)));
    }

    #[test]
    fn requests_are_validated() {
        let mut r = ActivityRequest::new(WorkspaceId::new("w").unwrap());
        assert!(r.validate().is_ok());
        r.page = 0;
        assert!(r.validate().is_err());
        r.page = 1;
        r.page_size = MAX_ACTIVITY_PAGE + 1;
        assert!(r.validate().is_err());
        r.page_size = 10;
        r.search = Some("a\u{1f}b".into());
        assert!(r.validate().is_err());
        r.search = Some((0..MAX_SEARCH_WORDS).map(|i| format!("w{i} ")).collect());
        assert!(r.validate().is_ok(), "{MAX_SEARCH_WORDS} words");
        r.search = Some((0..=MAX_SEARCH_WORDS).map(|i| format!("w{i} ")).collect());
        assert!(
            matches!(
                r.validate(),
                Err(Error::InvalidQuery {
                    field: "search",
                    ..
                })
            ),
            "{:?}",
            r.validate()
        );
        r.search = Some("  ".into());
        assert!(r.validate().is_ok());
        assert_eq!(r.search_term(), None);
        assert_eq!(page_count(0, 10), 0);
        assert_eq!(page_count(21, 10), 3);
    }
}
