//! The reports and the [`Reports`] facade that checks access, resolves time and asks the store.

mod activity;
mod bands;
mod engagement;
mod event_log;
mod facade;
mod freshness;
mod funnel;
mod period;

pub(crate) use activity::trend_last_day;
pub use activity::{
    ActivityReport, ActivityReportRow, ActivityRequest, CustomerDetail, DEFAULT_ACTIVITY_PAGE,
    DETAIL_DAYS, DailySeries, MAX_ACTIVITY_PAGE, MilestoneEvent, RECENT_MILESTONES, SPARKLINE_DAYS,
    TREND_DAYS,
};
pub use bands::{BandThresholds, ScoreBand};
pub use engagement::{
    CustomerStanding, EngagementReport, EngagementRequest, EngagementRow, MAX_RANKING_DAYS,
    MAX_RANKING_ROWS,
};
pub use event_log::{DEFAULT_LOG_PAGE, EventLogPage, EventLogRequest, LogEntry, MAX_LOG_PAGE};
pub use facade::Reports;
pub use freshness::FreshnessSource;
pub use funnel::{
    FunnelReport, FunnelRequest, FunnelStep, MAX_FUNNEL_STEPS, evaluate as evaluate_funnel,
};
pub use period::ReportPeriod;
