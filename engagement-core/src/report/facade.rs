//! [`Reports`]: access check → time resolution → store primitives → rules.

use std::sync::Arc;

use chrono::NaiveDate;
use futures::stream::BoxStream;

use super::activity::{
    self, ActivityReport, ActivityReportRow, ActivityRequest, CustomerDetail, MilestoneEvent,
};
use super::engagement::{
    self, CustomerStanding, EngagementReport, EngagementRequest, MAX_RANKING_DAYS, MAX_RANKING_ROWS,
};
use super::event_log::{self, EventLogPage, EventLogRequest, LogEntry};
use super::freshness::FreshnessSource;
use super::funnel::{self, FunnelReport, FunnelRequest};
use super::{BandThresholds, ReportPeriod};
use crate::access::{AccessPolicy, ReportKind, Viewer};
use crate::error::{Error, Result};
use crate::model::batch::EventBatch;
use crate::model::event::Event;
use crate::model::ids::{CustomerId, EventId, WorkspaceId};
use crate::store::EventStore;
use crate::store::query::{
    ActivityQuery, ActivityRow, BucketCount, CustomerFilter, EventPage, EventPageQuery,
    FunnelQuery, LatestEvents, Milestone, Milestones, RankedScore, RankingQuery, RowBuckets,
    TopCustomersQuery,
};
use crate::time::{CalendarPreset, Clock, RangeSpec, ReportZone, SystemClock, Timestamp};

/// The reports over one store: the entry point a host application holds.
///
/// Every call checks the viewer first (a refused viewer never reaches the store), resolves the
/// requested range in the configured zone with the injected clock, asks the store's aggregate
/// primitives, and applies the rules (ranks, bands, sparklines, funnel steps). Cloning is cheap.
///
/// ```
/// use std::sync::Arc;
/// use engagement_core::report::{EngagementRequest, Reports};
/// use engagement_core::{
///     CustomerId, Event, EventStore, FixedClock, ReferenceStore, Role, Viewer, WorkspaceId, names,
/// };
///
/// # futures::executor::block_on(async {
/// let store = Arc::new(ReferenceStore::default());
/// let ws = WorkspaceId::new("acme")?;
/// let event = Event::new("e1", CustomerId(7), names::PAGE_VIEWED, "2026-11-20T11:55:00Z".parse()?);
/// store.append(&ws, &[event]).await?;
///
/// let clock = Arc::new(FixedClock::new("2026-11-20T12:00:00Z".parse()?));
/// let reports = Reports::new(store).with_clock(clock);
/// let manager = Viewer::new(ws.clone(), Role::Manager);
/// let report = reports.engagement(&manager, &EngagementRequest::new(ws.clone())).await?;
/// assert_eq!((report.rows[0].customer_id, report.rows[0].score), (CustomerId(7), 1));
///
/// // Customer service never reaches the store.
/// let support = Viewer::new(ws.clone(), Role::CustomerService);
/// assert!(reports.engagement(&support, &EngagementRequest::new(ws)).await.is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Reports {
    store: Arc<dyn EventStore>,
    clock: Arc<dyn Clock>,
    zone: ReportZone,
    policy: AccessPolicy,
    bands: BandThresholds,
    milestones: Milestones,
    freshness: Option<Arc<dyn FreshnessSource>>,
}

impl Reports {
    /// Reports over `store` with the system clock, UTC, and the default access policy, score
    /// bands and milestone names.
    #[must_use]
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self {
            store,
            clock: Arc::new(SystemClock),
            zone: ReportZone::utc(),
            policy: AccessPolicy::default(),
            bands: BandThresholds::default(),
            milestones: Milestones::default(),
            freshness: None,
        }
    }

    /// The same reports reading "now" from `clock`.
    #[must_use]
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Self { clock, ..self }
    }

    /// The same reports resolving calendar rules in `zone` (a workspace's zone).
    ///
    /// One `Reports` has one zone. A host whose workspaces live in different zones keeps one
    /// shared `Reports` and, per request, calls `reports.clone().with_zone(zone)`: a clone
    /// copies the settings (a few short lists) and reference-counted handles, not the store.
    #[must_use]
    pub fn with_zone(self, zone: ReportZone) -> Self {
        Self { zone, ..self }
    }

    /// The same reports under another access policy.
    #[must_use]
    pub fn with_policy(self, policy: AccessPolicy) -> Self {
        Self { policy, ..self }
    }

    /// The same reports with other score bands.
    #[must_use]
    pub fn with_bands(self, bands: BandThresholds) -> Self {
        Self { bands, ..self }
    }

    /// The same reports with the host's own event names for the activity milestones.
    #[must_use]
    pub fn with_milestones(self, milestones: Milestones) -> Self {
        Self { milestones, ..self }
    }

    /// The same reports stamping each report's `complete_up_to` from `source` (for example
    /// the `Freshness` handle of the ingestor that feeds the store).
    #[must_use]
    pub fn with_freshness(self, source: Arc<dyn FreshnessSource>) -> Self {
        Self {
            freshness: Some(source),
            ..self
        }
    }

    /// The freshness watermark now, read before a report asks the store.
    fn watermark(&self) -> Option<Timestamp> {
        self.freshness.as_ref().map(|f| f.complete_up_to())
    }

    /// The store the reports read.
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// The clock the reports read "now" from.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The zone calendar rules are resolved in.
    pub fn zone(&self) -> &ReportZone {
        &self.zone
    }

    /// The access policy every report checks first, for a host that shows only what a viewer
    /// may open (navigation, links).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use engagement_core::{ReportKind, Role, Viewer, WorkspaceId, report::Reports};
    /// # let store = Arc::new(engagement_core::ReferenceStore::default());
    /// let reports = Reports::new(store);
    /// let ws = WorkspaceId::new("acme")?;
    /// let manager = Viewer::new(ws.clone(), Role::Manager);
    /// assert!(reports.policy().check(&manager, &ws, ReportKind::Engagement).is_ok());
    /// assert!(reports.policy().check(&manager, &ws, ReportKind::Activity).is_err());
    /// # Ok::<(), engagement_core::Error>(())
    /// ```
    pub fn policy(&self) -> &AccessPolicy {
        &self.policy
    }

    fn period(
        &self,
        spec: RangeSpec,
        now: Timestamp,
        max_days: Option<u16>,
    ) -> Result<ReportPeriod> {
        Ok(ReportPeriod {
            spec,
            window: spec.resolve(now, &self.zone, max_days)?,
            zone: self.zone,
        })
    }

    /// The engagement ranking: the top customers by number of their own events, with their
    /// records and, when the request names one
    /// ([`with_standing_of`](EngagementRequest::with_standing_of)), a customer's place however
    /// far down, all from one store call: a placeholder flagged or an event appended meanwhile
    /// shows in all of it or in none.
    ///
    /// # Errors
    /// [`Error::Forbidden`] before anything else; [`Error::InvalidRange`] /
    /// [`Error::RangeTooLong`] for a bad range (custom ranges are capped at 28 local days);
    /// [`Error::InvalidQuery`] for a limit outside 1 to 100; store errors.
    pub async fn engagement(
        &self,
        viewer: &Viewer,
        request: &EngagementRequest,
    ) -> Result<EngagementReport> {
        self.policy
            .check(viewer, &request.workspace, ReportKind::Engagement)?;
        if !(1..=MAX_RANKING_ROWS).contains(&request.limit) {
            return Err(Error::invalid_query(
                "limit",
                format!("{} is not between 1 and {MAX_RANKING_ROWS}", request.limit),
            ));
        }
        let now = self.clock.now();
        let period = self.period(request.range, now, Some(MAX_RANKING_DAYS))?;
        let complete_up_to = self.watermark();
        let top = TopCustomersQuery {
            window: period.window,
            limit: request.limit,
        };
        let query = RankingQuery {
            standing_of: request.standing_of,
            ..RankingQuery::new(top).with_records()
        };
        let ranking = self.store.ranking(&request.workspace, &query).await?;
        let standing = request.standing_of.map(|customer| {
            self.standing(
                &request.workspace,
                customer,
                &period,
                complete_up_to,
                ranking.standing,
            )
        });
        let rows = engagement::rows(
            request,
            &period,
            ranking.scores,
            &ranking.records,
            &self.bands,
        );
        Ok(EngagementReport {
            request: request.clone(),
            period,
            generated_at: now,
            complete_up_to,
            rows,
            standing,
        })
    }

    /// `customer`'s standing in the ranking over `period`, as the store read it.
    fn standing(
        &self,
        workspace: &WorkspaceId,
        customer: CustomerId,
        period: &ReportPeriod,
        complete_up_to: Option<Timestamp>,
        standing: Option<RankedScore>,
    ) -> CustomerStanding {
        CustomerStanding {
            customer_id: customer,
            drill_down: engagement::drill_down(workspace, period.window, customer),
            period: *period,
            complete_up_to,
            band: standing.map(|s| self.bands.band(s.score)),
            standing,
        }
    }

    /// One customer's rank and score in the ranking over `range`, even outside the top 100.
    /// Beside a ranking, ask the ranking for it instead
    /// ([`EngagementRequest::with_standing_of`]): read apart, the two may see different states.
    ///
    /// # Errors
    /// [`Error::Forbidden`] before anything else; [`Error::InvalidRange`] /
    /// [`Error::RangeTooLong`] for a bad range, as in [`Reports::engagement`]; store errors.
    pub async fn customer_standing(
        &self,
        viewer: &Viewer,
        workspace: &WorkspaceId,
        range: RangeSpec,
        customer: CustomerId,
    ) -> Result<CustomerStanding> {
        self.policy
            .check(viewer, workspace, ReportKind::Engagement)?;
        let period = self.period(range, self.clock.now(), Some(MAX_RANKING_DAYS))?;
        let complete_up_to = self.watermark();
        let standing = self
            .store
            .customer_rank(workspace, period.window, customer)
            .await?;
        Ok(self.standing(workspace, customer, &period, complete_up_to, standing))
    }

    /// A page of the customer activity table with sparklines, its total and the summary bar.
    ///
    /// The rows, the total, the summary and the sparklines come from one store call, so they
    /// always agree: the summary sums exactly the matching customers' counters, and under
    /// concurrent ingestion an event counts in a row's counters and its sparkline or in
    /// neither.
    ///
    /// # Errors
    /// [`Error::Forbidden`] before anything else; [`Error::InvalidQuery`] for a bad page, page
    /// size or search term ([`ActivityRequest::validate`]); range errors; store errors.
    pub async fn activity(
        &self,
        viewer: &Viewer,
        request: &ActivityRequest,
    ) -> Result<ActivityReport> {
        let offset = request
            .page
            .saturating_sub(1)
            .saturating_mul(request.page_size);
        self.activity_rows(viewer, request, offset, request.page_size)
            .await
    }

    /// Every row matching the activity filters (for "Export all results"); rows, total,
    /// summary and sparklines from one store call, as in [`Reports::activity`], so that the
    /// file is one consistent snapshot. The rows are held in memory together, one per matching
    /// customer with its sparkline: a host with very many customers narrows the filters or
    /// exports page by page ([`Reports::activity`]) instead.
    ///
    /// # Errors
    /// As [`Reports::activity`].
    pub async fn activity_all(
        &self,
        viewer: &Viewer,
        request: &ActivityRequest,
    ) -> Result<ActivityReport> {
        self.activity_rows(viewer, request, 0, u64::MAX).await
    }

    /// Checks access and the request, then rows `offset..offset + limit` with their total,
    /// summary and sparklines (one store call).
    async fn activity_rows(
        &self,
        viewer: &Viewer,
        request: &ActivityRequest,
        offset: u64,
        limit: u64,
    ) -> Result<ActivityReport> {
        self.policy
            .check(viewer, &request.workspace, ReportKind::Activity)?;
        request.validate()?;
        let now = self.clock.now();
        let period = self.period(request.range, now, None)?;
        let complete_up_to = self.watermark();
        let sparklines = self.daily_views(&period, now, activity::SPARKLINE_DAYS);
        let query = ActivityQuery {
            window: period.window,
            customers: CustomerFilter {
                search: request.search_term(),
                status: request.status,
                ids: None,
            },
            milestones: self.milestones.clone(),
            sort: request.sort,
            offset,
            limit,
            row_buckets: Some(sparklines.asked.clone()),
            latest: None,
        };
        let page = self.store.activity_page(&request.workspace, &query).await?;
        let series = sparklines.series(&page.rows, &page.row_buckets);
        let rows = page
            .rows
            .into_iter()
            .zip(series)
            .map(|(row, sparkline)| ActivityReportRow {
                customer: row.customer,
                counters: row.counters,
                sparkline,
            })
            .collect();
        Ok(ActivityReport {
            request: request.clone(),
            period,
            generated_at: now,
            complete_up_to,
            rows,
            total_rows: page.total_rows,
            page_count: activity::page_count(page.total_rows, request.page_size),
            summary: page.summary,
        })
    }

    /// Daily link opens over the last `days` local days of the period: the buckets an activity
    /// query asks for its rows, and how their cells become series.
    fn daily_views(&self, period: &ReportPeriod, now: Timestamp, days: u16) -> DailyViews {
        let last = activity::trend_last_day(&self.zone, period.window, now);
        let (first_day, edges) = activity::trailing_days(&self.zone, last, days);
        DailyViews {
            days: edges.len().saturating_sub(1),
            first_day,
            asked: RowBuckets {
                names: self.milestones.views.clone(),
                edges,
            },
        }
    }

    /// The customer detail panel: 30-day cards, a 14-day daily trend, recent milestones.
    ///
    /// The record, the cards, the trend and the milestones come from one store call (an
    /// [`activity_page`](EventStore::activity_page) of the one customer, with its buckets and
    /// latest events), so they always agree: under concurrent ingestion or a purge, an event
    /// counts in every part or in none.
    ///
    /// # Errors
    /// [`Error::Forbidden`] before anything else; [`Error::NotFound`] when the workspace has no
    /// such customer; store errors.
    pub async fn customer_detail(
        &self,
        viewer: &Viewer,
        workspace: &WorkspaceId,
        customer: CustomerId,
    ) -> Result<CustomerDetail> {
        self.policy.check(viewer, workspace, ReportKind::Activity)?;
        let complete_up_to = self.watermark();
        let now = self.clock.now();
        let period = self.period(
            RangeSpec::preset(CalendarPreset::LastDays(activity::DETAIL_DAYS)),
            now,
            None,
        )?;
        let trend = self.daily_views(&period, now, activity::TREND_DAYS);
        let query = ActivityQuery {
            window: period.window,
            customers: CustomerFilter {
                ids: Some(vec![customer]),
                ..CustomerFilter::default()
            },
            milestones: self.milestones.clone(),
            sort: Default::default(),
            offset: 0,
            limit: 1,
            row_buckets: Some(trend.asked.clone()),
            latest: Some(LatestEvents {
                names: self.milestone_names(),
                limit: activity::RECENT_MILESTONES,
            }),
        };
        let page = self.store.activity_page(workspace, &query).await?;
        let trend = trend.series(&page.rows, &page.row_buckets).pop();
        let row = page
            .rows
            .into_iter()
            .next()
            .ok_or_else(|| Error::NotFound {
                what: "customer",
                id: customer.to_string(),
            })?;
        Ok(CustomerDetail {
            customer: row.customer,
            period,
            generated_at: now,
            complete_up_to,
            cards: row.counters,
            trend: trend.unwrap_or_default(),
            recent_milestones: self.milestone_events(page.latest),
        })
    }

    /// The names the detail panel lists as milestones: every milestone's but the views'.
    fn milestone_names(&self) -> Vec<String> {
        [
            Milestone::Confirmed,
            Milestone::Verified,
            Milestone::Checkout,
            Milestone::Orders,
        ]
        .into_iter()
        .flat_map(|m| self.milestones.names(m).iter().cloned())
        // A name mapped to views as well counts as a view (`Milestones::milestone_of`): its
        // events are no milestone of the list, and would crowd the milestones out of it.
        .filter(|name| self.milestones.milestone_of(name) != Some(Milestone::Views))
        .collect()
    }

    /// The milestones of the latest events the detail panel read.
    fn milestone_events(&self, page: EventPage) -> Vec<MilestoneEvent> {
        page.events
            .into_iter()
            .filter_map(|e| {
                Some(MilestoneEvent {
                    milestone: self.milestones.milestone_of(&e.name)?,
                    at: e.occurred_at,
                    id: e.id,
                    name: e.name,
                })
            })
            .collect()
    }

    /// One page of the event log, newest first, with the exact total and the next cursor.
    ///
    /// # Errors
    /// [`Error::Forbidden`] before anything else; range and page-size errors, and
    /// [`Error::InvalidQuery`] for a text to match holding a control character; store errors.
    pub async fn event_log(
        &self,
        viewer: &Viewer,
        request: &EventLogRequest,
    ) -> Result<EventLogPage> {
        self.policy
            .check(viewer, &request.workspace, ReportKind::EventLog)?;
        request.validate()?;
        let now = self.clock.now();
        let period = self.period(request.range, now, None)?;
        let complete_up_to = self.watermark();
        // One event more than the page holds says whether another page follows, so the last
        // page has no next cursor even when it is full.
        let mut page = self
            .store
            .event_page(
                &request.workspace,
                &EventPageQuery {
                    filter: request.filter(period.window),
                    after: request.after.clone(),
                    limit: request.page_size + 1,
                },
            )
            .await?;
        let next = if page.events.len() > request.page_size {
            page.events.truncate(request.page_size);
            page.events.last().map(Event::key)
        } else {
            None
        };
        let customers = self
            .store
            .customers(&request.workspace, &event_log::customer_ids(&page.events))
            .await?;
        Ok(EventLogPage {
            request: request.clone(),
            period,
            generated_at: now,
            complete_up_to,
            entries: event_log::join_customers(page.events, &customers),
            total: page.total,
            next,
        })
    }

    /// The event detail panel: one event with its customer.
    ///
    /// # Errors
    /// [`Error::Forbidden`] before anything else; [`Error::NotFound`] when the workspace has no
    /// such event; store errors.
    pub async fn event_detail(
        &self,
        viewer: &Viewer,
        workspace: &WorkspaceId,
        id: &EventId,
    ) -> Result<LogEntry> {
        self.policy.check(viewer, workspace, ReportKind::EventLog)?;
        let not_found = || Error::NotFound {
            what: "event",
            id: id.to_string(),
        };
        // An id no event may have (blank, too long, a control character) is found nowhere.
        if id.check().is_err() {
            return Err(not_found());
        }
        let event = self
            .store
            .event(workspace, id)
            .await?
            .ok_or_else(not_found)?;
        let customer = self
            .store
            .customers(workspace, &[event.customer])
            .await?
            .into_iter()
            .next();
        Ok(LogEntry { event, customer })
    }

    /// Every event the log request matches (ignoring its cursor and page size), oldest first,
    /// streamed from the store in batches of a bounded size. Feed it to
    /// [`export_to_path`](crate::csv::export_to_path) or
    /// [`event_log_chunks`](crate::csv::event_log_chunks); [`export_events`](crate::store::export_events)
    /// turns it into owned events.
    ///
    /// # Errors
    /// [`Error::Forbidden`] before anything else; [`Error::InvalidQuery`] for a text to match
    /// holding a control character; range errors. Store failures arrive as an `Err` item that
    /// ends the stream.
    pub fn export_event_log(
        &self,
        viewer: &Viewer,
        request: &EventLogRequest,
    ) -> Result<(ReportPeriod, BoxStream<'static, Result<EventBatch>>)> {
        self.policy
            .check(viewer, &request.workspace, ReportKind::EventLog)?;
        request.check_texts()?;
        let period = self.period(request.range, self.clock.now(), None)?;
        let stream = self
            .store
            .export(request.workspace.clone(), request.filter(period.window));
        Ok((period, stream))
    }

    /// A funnel: unique customers per step, conversion, drop-off, in-progress and median time
    /// to convert.
    ///
    /// # Errors
    /// [`Error::Forbidden`] before anything else; [`Error::InvalidQuery`] for bad steps or
    /// conversion window; range errors; store errors.
    pub async fn funnel(&self, viewer: &Viewer, request: &FunnelRequest) -> Result<FunnelReport> {
        self.policy
            .check(viewer, &request.workspace, ReportKind::Funnel)?;
        request.validate()?;
        let now = self.clock.now();
        let period = self.period(request.range, now, None)?;
        let window = period.window;
        let complete_up_to = self.watermark();
        // A conversion window that closed after the earliest occurrence still waiting to be
        // stored may hold a conversion not stored yet: such a customer is in progress.
        let waiting = self.freshness.as_ref();
        let known_up_to = waiting.map_or(now, |f| f.earliest_waiting_occurrence().min(now));
        let open_since = funnel::may_still_convert(now, known_up_to, window).then(|| {
            known_up_to
                .checked_sub(request.conversion_window)
                .unwrap_or(Timestamp::MIN)
        });
        let input = self
            .store
            .funnel_input(
                &request.workspace,
                &FunnelQuery {
                    window,
                    steps: request.steps.clone(),
                    conversion_window: request.conversion_window,
                    open_since,
                },
            )
            .await?;
        let steps = funnel::evaluate(&request.steps, &input, request.conversion_window, |start| {
            funnel::is_open(start, request.conversion_window, now, known_up_to, window)
        });
        Ok(FunnelReport {
            request: request.clone(),
            period,
            generated_at: now,
            complete_up_to,
            steps,
        })
    }
}

/// Daily link opens asked of the store with an activity page's rows, and how the cells it
/// counted become one [`activity::DailySeries`] per row.
struct DailyViews {
    asked: RowBuckets,
    first_day: NaiveDate,
    days: usize,
}

impl DailyViews {
    /// One series per row, in row order, from the cells counted for them.
    fn series(&self, rows: &[ActivityRow], cells: &[BucketCount]) -> Vec<activity::DailySeries> {
        let customers: Vec<CustomerId> = rows.iter().map(|r| r.customer.id).collect();
        activity::series_for(&customers, cells, self.first_day, self.days)
    }
}
