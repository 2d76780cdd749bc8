//! The funnel page: steps, conversion window and range, a step chart and the step table.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use chrono::TimeDelta;
use engagement_core::report::{FunnelReport, FunnelRequest, Reports};
use engagement_core::{
    CalendarPreset, Error, FixedClock, RangeSpec, ReportZone, Result, Timestamp, WorkspaceId,
};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::csv_response;
use super::layout::{Nav, custom_dates, href, page as shell, range_fields, window_line};
use super::problem::{Query, failed_page, plain};
use super::session::Session;
use super::svg;
use crate::range_text::{PRESETS, exact_window_parts, parse_range};

const TITLE: &str = "Funnel";

/// The page's query: steps (comma-separated), conversion window in days, range; and for the
/// CSV, `as_of`, the instant (RFC 3339) its page was computed at, which the page's CSV link
/// carries so that the download counts the customers in progress as the page did.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub(crate) struct Params {
    steps: Option<String>,
    window_days: Option<String>,
    range: Option<String>,
    from: Option<String>,
    to: Option<String>,
    as_of: Option<String>,
}

impl Params {
    fn request(&self, workspace: WorkspaceId, zone: &ReportZone) -> Result<FunnelRequest> {
        let mut request = FunnelRequest::new(workspace);
        request.range = parse_range(
            self.range.as_deref(),
            self.from.as_deref(),
            self.to.as_deref(),
            RangeSpec::preset(CalendarPreset::LastDays(30)),
            zone,
        )?;
        if let Some(steps) = self.steps.as_deref().filter(|s| !s.trim().is_empty()) {
            request.steps = steps.split(',').map(|s| s.trim().to_owned()).collect();
        }
        if let Some(days) = self.window_days.as_deref().filter(|s| !s.trim().is_empty()) {
            let days: i64 = days.trim().parse().map_err(|_| {
                Error::invalid_query(
                    "conversion_window",
                    format!("{days:?} is not a number of days"),
                )
            })?;
            request.conversion_window = TimeDelta::try_days(days).ok_or_else(|| {
                Error::invalid_query("conversion_window", "the conversion window is too long")
            })?;
        }
        Ok(request)
    }

    /// `reports` evaluating funnels as of `as_of` when it is given (the instant a page was
    /// computed at: who is in progress depends on it), as of now otherwise.
    ///
    /// # Errors
    /// [`Error::InvalidQuery`] for an `as_of` that is not an RFC 3339 instant or is later than
    /// now (nobody has seen the funnel then yet). An earlier one, even before the window
    /// starts (a page over a window ahead of now), is what a page showed then.
    fn reports_as_of(&self, reports: &Reports) -> Result<Reports> {
        let Some(text) = self
            .as_of
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        else {
            return Ok(reports.clone());
        };
        let at: Timestamp = text.parse().map_err(|_| {
            Error::invalid_query("as_of", format!("{text:?} is not an RFC 3339 instant"))
        })?;
        let now = reports.clock().now();
        if at > now {
            return Err(Error::invalid_query(
                "as_of",
                format!("{at} is later than now ({now}): no page has shown the funnel then"),
            ));
        }
        Ok(reports.clone().with_clock(Arc::new(FixedClock::new(at))))
    }

    fn pairs(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("steps", self.steps.clone()),
            ("window_days", self.window_days.clone()),
            ("range", self.range.clone()),
            ("from", self.from.clone()),
            ("to", self.to.clone()),
            ("as_of", self.as_of.clone()),
        ]
    }
}

/// `GET /funnel`.
pub(crate) async fn page(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<Params>,
) -> Response {
    let result = match params.request(session.workspace.clone(), state.reports.zone()) {
        Ok(request) => state.reports.funnel(&session.viewer(), &request).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(report) => {
            let body = html! { (form(&params, Some(&report))) (chart(&params, &report)) };
            Html(shell(TITLE, Some(&session), Nav::Funnel, body).into_string()).into_response()
        }
        Err(e) => failed_page(&session, TITLE, Nav::Funnel, form(&params, None), &e),
    }
}

/// `GET /funnel.csv`: the page's report, as of `as_of` when the link gives it.
pub(crate) async fn csv(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<Params>,
) -> Response {
    let result = async {
        let request = params.request(session.workspace.clone(), state.reports.zone())?;
        let reports = params.reports_as_of(&state.reports)?;
        let report = reports.funnel(&session.viewer(), &request).await?;
        csv_response::report(&report)
    }
    .await;
    result.unwrap_or_else(|e| plain(&session, &e))
}

fn form(params: &Params, report: Option<&FunnelReport>) -> Markup {
    let steps = report.map_or_else(
        || params.steps.clone().unwrap_or_default(),
        |r| r.request.steps.join(", "),
    );
    let days = report.map_or_else(
        || params.window_days.clone().unwrap_or_default(),
        |r| r.request.conversion_window.num_days().to_string(),
    );
    let range = params
        .range
        .as_deref()
        .filter(|r| !r.is_empty())
        .unwrap_or("last-30-days");
    let (from, to) = match (&params.from, &params.to) {
        (None, None) => custom_dates(report.map(|r| &r.period), range),
        _ => (params.from.clone(), params.to.clone()),
    };
    html! {
        form.filters method="get" action="/funnel" {
            label { "Steps (comma-separated, in order)" input name="steps" size="44" value=(steps); }
            label { "Days to convert" input type="number" min="1" name="window_days" size="4" value=(days); }
            (range_fields(&PRESETS, range, from.as_deref(), to.as_deref()))
            button.primary type="submit" { "Update" }
            a.btn href="/funnel" { "Reset" }
        }
        @if let Some(report) = report { (window_line(&report.period)) }
    }
}

fn chart(params: &Params, report: &FunnelReport) -> Markup {
    // The download is the page's window to the microsecond, not the range read again later,
    // evaluated as of the instant the page was: a customer in progress on the page is not
    // dropped in a download a second later, once a window ending "now" lies in the past.
    let mut export = params.clone();
    (export.range, export.from, export.to) = exact_window_parts(report.period.window);
    export.as_of = Some(report.generated_at.to_string());
    html! {
        div.toolbar { a.btn.primary.csv href=(href("/funnel.csv", &export.pairs())) download { "CSV" } }
        (svg::funnel_chart(&report.steps))
        table #funnel {
            thead { tr {
                th { "Step" } th.num { "Customers" } th.num { "% of step 1" } th.num { "% of previous" }
                th.num { "Dropped" } th.num { "In progress" } th { "Median time to convert" }
            } }
            tbody {
                @for (i, step) in report.steps.iter().enumerate() {
                    tr {
                        td { (i + 1) ". " (step.name) }
                        td.num { (step.reached) }
                        td.num { (format!("{:.1}%", step.conversion_from_first * 100.0)) }
                        td.num { (format!("{:.1}%", step.conversion_from_previous * 100.0)) }
                        td.num { (step.dropped) }
                        td.num { (step.in_progress) }
                        td { (step.median_time_to_convert.map_or_else(|| "—".to_owned(), human)) }
                    }
                }
            }
        }
    }
}

/// A duration as a person reads it: `3d 4h`, `2h 5m`, `45s`.
fn human(d: TimeDelta) -> String {
    let secs = d.num_seconds();
    let (days, hours, mins) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    match (days, hours, mins) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) => format!("{m}m {}s", secs % 60),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_the_largest_units() {
        assert_eq!(human(TimeDelta::seconds(45)), "45s");
        assert_eq!(human(TimeDelta::seconds(125)), "2m 5s");
        assert_eq!(human(TimeDelta::minutes(125)), "2h 5m");
        assert_eq!(human(TimeDelta::hours(76)), "3d 4h");
    }

    #[test]
    fn steps_and_window_come_from_the_form() {
        let params = Params {
            steps: Some("Page Viewed, Registered".into()),
            window_days: Some("3".into()),
            ..Params::default()
        };
        let request = params
            .request(WorkspaceId::new("w").unwrap(), &ReportZone::utc())
            .unwrap();
        assert_eq!(request.steps, vec!["Page Viewed", "Registered"]);
        assert_eq!(request.conversion_window, TimeDelta::days(3));
        let bad = Params {
            window_days: Some("a week".into()),
            ..Params::default()
        };
        assert!(
            bad.request(WorkspaceId::new("w").unwrap(), &ReportZone::utc())
                .is_err()
        );
    }
}
