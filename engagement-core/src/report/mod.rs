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
    DETAIL_DAYS, DailySeries, MAX_ACTIVITY_PAGE, MAX_SEARCH_WORDS, MilestoneEvent,
    RECENT_MILESTONES, SPARKLINE_DAYS, TREND_DAYS,
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

use crate::error::{Error, Result};

/// Refuses a text a report is asked to match that holds a control character: no stored text
/// holds one (validation refuses it), and PostgreSQL refuses a NUL in any text it is sent.
///
/// # Errors
/// [`Error::InvalidQuery`] naming `field`.
fn refuse_control_characters(field: &'static str, text: &str) -> Result<()> {
    if text.chars().any(char::is_control) {
        return Err(Error::invalid_query(
            field,
            format!("the {field} must not contain control characters"),
        ));
    }
    Ok(())
}
