//! The engagement report page (seed 000): quick-range buttons and Custom Range, the exact
//! window, a sortable and searchable table of up to 100 customers, the CSV button.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use engagement_core::report::{
    CustomerStanding, EngagementReport, EngagementRequest, EngagementRow,
};
use engagement_core::{Lookback, RangeSpec, ReportKind, ReportZone, Result, fold_for_search};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::csv_response;
use super::event_log::event_log_link;
use super::layout::{Nav, custom_dates, customer_link, href, page as shell, window_line};
use super::problem::{DIRECTIONS, Query, failed_page, one_of, plain};
use super::session::Session;
use crate::range_text::{QUICK_RANGES, exact_window_parts, named_range, parse_range, range_parts};
use crate::ranking_search::{keep_matching, search};

const TITLE: &str = "Customer Engagement";

/// The page's query: range, custom dates, table search and order.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub(crate) struct Params {
    range: Option<String>,
    from: Option<String>,
    to: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
}

/// The columns the table sorts by (`rank` is the score's order by another name).
const SORTS: [&str; 4] = ["score", "rank", "customer", "name"];

impl Params {
    /// The ranking the query asks for; its order is checked here, and applied by
    /// [`shape`](Self::shape).
    fn request(&self, session: &Session, zone: &ReportZone) -> Result<EngagementRequest> {
        one_of("sort", self.sort.as_deref(), &SORTS)?;
        one_of("dir", self.dir.as_deref(), &DIRECTIONS)?;
        let range = parse_range(
            self.range.as_deref(),
            self.from.as_deref(),
            self.to.as_deref(),
            RangeSpec::last(Lookback::Minutes15),
            zone,
        )?;
        Ok(EngagementRequest::new(session.workspace.clone()).with_range(range))
    }

    fn range_name(&self) -> String {
        match self.range.as_deref().map(str::trim) {
            Some(r) if !r.is_empty() => {
                named_range(r).map_or_else(|| r.to_ascii_lowercase(), |spec| range_parts(&spec).0)
            }
            _ if self.from.is_some() || self.to.is_some() => "custom".into(),
            _ => "15m".into(),
        }
    }

    fn link(&self, path: &str, changes: &[(&str, Option<String>)]) -> String {
        let mut pairs = vec![
            ("range", self.range.clone()),
            ("from", self.from.clone()),
            ("to", self.to.clone()),
            ("q", self.q.clone()),
            ("sort", self.sort.clone()),
            ("dir", self.dir.clone()),
        ];
        for (k, v) in changes {
            if let Some(slot) = pairs.iter_mut().find(|(name, _)| name == k) {
                slot.1 = v.clone();
            }
        }
        href(path, &pairs)
    }

    /// The column the table is sorted by, as [`request`](Self::request) checked it.
    fn sort(&self) -> Option<&'static str> {
        one_of("sort", self.sort.as_deref(), &SORTS).ok().flatten()
    }

    fn descending(&self) -> bool {
        match one_of("dir", self.dir.as_deref(), &DIRECTIONS)
            .ok()
            .flatten()
        {
            Some("asc") => false,
            Some("desc") => true,
            // Scores read best highest first; names and ids read A→Z.
            _ => matches!(self.sort(), None | Some("score" | "rank")),
        }
    }

    /// Orders the rows as the table shows them.
    fn order(&self, report: &mut EngagementReport) {
        let name = |r: &EngagementRow| {
            r.customer
                .as_ref()
                .map(|c| c.full_name().to_lowercase())
                .unwrap_or_default()
        };
        match self.sort() {
            Some("customer") => report.rows.sort_by_key(|r| r.customer_id),
            Some("name") => report.rows.sort_by(|a, b| {
                name(a)
                    .cmp(&name(b))
                    .then(a.customer_id.cmp(&b.customer_id))
            }),
            // The ranking's own order: score descending, then customer id.
            _ => report.rows.sort_by_key(|r| r.rank),
        }
        let by_score = matches!(self.sort(), None | Some("score" | "rank"));
        if by_score != self.descending() {
            report.rows.reverse();
        }
    }
}

/// `GET /engagement`.
pub(crate) async fn page(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<Params>,
) -> Response {
    let result = async {
        let request = params.request(&session, state.reports.zone())?;
        let found = search(
            &state.reports,
            &session.viewer(),
            &request,
            params.q.as_deref(),
        )
        .await?;
        let mut report = found.report;
        params.order(&mut report);
        let searched = Searched {
            ranked: found.ranked,
            standing: found.standing,
        };
        Ok((report, searched))
    }
    .await;
    match result {
        Ok((report, searched)) => {
            let body = html! {
                (controls(&params, Some(&report)))
                (table(&session, &params, &report, &searched))
            };
            Html(shell(TITLE, Some(&session), Nav::Engagement, body).into_string()).into_response()
        }
        Err(e) => failed_page(
            &session,
            TITLE,
            Nav::Engagement,
            controls(&params, None),
            &e,
        ),
    }
}

/// The ranking the query asks for with the rows the table shows (searched, then ordered),
/// and how many rows it had before the search.
async fn shown_report(
    state: &AppState,
    session: &Session,
    params: &Params,
) -> Result<EngagementReport> {
    let request = params.request(session, state.reports.zone())?;
    let mut report = state
        .reports
        .engagement(&session.viewer(), &request)
        .await?;
    keep_matching(&mut report, params.q.as_deref());
    params.order(&mut report);
    Ok(report)
}

/// `GET /engagement.csv`: the rows the page shows, under the seed's file name.
pub(crate) async fn csv(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<Params>,
) -> Response {
    let result = async {
        let report = shown_report(&state, &session, &params).await?;
        csv_response::report(&report)
    }
    .await;
    result.unwrap_or_else(|e| plain(&session, &e))
}

/// The header section: time-range buttons, the custom-range form, the exact window.
fn controls(params: &Params, report: Option<&EngagementReport>) -> Markup {
    let range = params.range_name();
    let (from, to) = match (&params.from, &params.to) {
        (None, None) => custom_dates(report.map(|r| &r.period), &range),
        _ => (params.from.clone(), params.to.clone()),
    };
    html! {
        div.toolbar.ranges {
            @for (name, label) in QUICK_RANGES {
                a.btn.active[range == name] href=(href("/engagement", &[("range", Some(name.into()))])) { (label) }
            }
            a.btn.active[range == "custom"] href="/engagement?range=custom" { "Custom Range" }
        }
        @if range == "custom" {
            form.filters method="get" action="/engagement" {
                input type="hidden" name="range" value="custom";
                label { "From Date" input type="date" name="from" value=[from]; }
                label { "To Date" input type="date" name="to" value=[to]; }
                button.primary type="submit" { "Update Date Range" }
                a.btn href="/engagement" { "Reset" }
                span.muted { "Blank From is yesterday, blank To is today; at most 4 weeks." }
            }
        }
        @if let Some(report) = report {
            (window_line(&report.period))
        }
    }
}

/// What a search of the table found beyond the rows it shows.
struct Searched {
    /// Rows of the ranking before the search.
    ranked: usize,
    /// The standing of the customer the search names by id, when no row shown is theirs.
    standing: Option<CustomerStanding>,
}

/// The table with its search box, CSV button and sortable headers, and what a search found
/// beyond them.
fn table(
    session: &Session,
    params: &Params,
    report: &EngagementReport,
    searched: &Searched,
) -> Markup {
    let sort_link = |key: &str| {
        let current = params
            .sort()
            .map_or("score", |s| if s == "rank" { "score" } else { s })
            == key;
        // A click on the current column flips it; another column starts in its natural order.
        let descending = if current {
            !params.descending()
        } else {
            key == "score"
        };
        let dir = if descending { "desc" } else { "asc" };
        params.link(
            "/engagement",
            &[("sort", Some(key.into())), ("dir", Some(dir.into()))],
        )
    };
    let (range, from, to) = range_parts(&report.period.spec);
    // The download is the page's window to the microsecond, not the range read again later.
    let (exact, first, end) = exact_window_parts(report.period.window);
    let export = params.link(
        "/engagement.csv",
        &[("range", exact), ("from", first), ("to", end)],
    );
    html! {
        div.toolbar {
            form method="get" action="/engagement" {
                input type="hidden" name="range" value=(range);
                @if let Some(from) = &from { input type="hidden" name="from" value=(from); }
                @if let Some(to) = &to { input type="hidden" name="to" value=(to); }
                input type="search" name="q" placeholder="Search customers" value=[params.q.as_deref()] data-filter-table="ranking";
                " " button type="submit" { "Search" }
            }
            a.btn.primary.csv href=(export) download=(csv_name(report)) data-filter-link="ranking" { "CSV" }
            span.muted { (report.rows.len()) " customers · top 100 · admin placeholders excluded" }
        }
        table #ranking {
            thead { tr {
                th.num { a href=(sort_link("score")) { "#" } }
                th { a href=(sort_link("customer")) { "Customer ID" } }
                th { a href=(sort_link("name")) { "Name" } }
                th.num { a href=(sort_link("score")) { "Engagement Score" } }
                th { "Band" }
            } }
            tbody {
                @for row in &report.rows {
                    // What the live search reads, as `ranking_search::keep_matching` does.
                    tr data-id=(row.customer_id) data-name=(row.customer.as_ref().map(|c| fold_for_search(&c.full_name())).unwrap_or_default()) {
                        td.num { (row.rank) }
                        td { (customer_link(session, row.customer_id, html! { "#" (row.customer_id) })) }
                        td { (customer_link(session, row.customer_id, html! {
                            (row.customer.as_ref().map(|c| c.full_name()).unwrap_or_else(|| "(unknown customer)".into()))
                        })) }
                        td.num {
                            @if session.may_read(ReportKind::EventLog) {
                                a.score href=(event_log_link(&row.drill_down)) title="Open the events counted" { (row.score) }
                            } @else { (row.score) }
                        }
                        td {
                            span class=(format!("badge band-{}", band_class(row))) { (row.band.label()) }
                            @if row.investigate { " " span.flag title="1000+ events: automation, errors or a loop?" { "⚠ investigate" } }
                        }
                    }
                }
            }
        }
        @if let Some(standing) = &searched.standing {
            (standing_line(session, standing, searched.ranked))
        } @else if report.rows.is_empty() && searched.ranked > 0 {
            p.muted {
                "No customer among the top " (searched.ranked) " matches “"
                (params.q.as_deref().unwrap_or_default().trim()) "”. Search by customer ID "
                "(such as 12345) to see where a customer outside them ranks."
            }
        } @else if report.rows.is_empty() {
            p.muted { "No customer activity in this window. Try a longer range." }
        }
    }
}

/// Where the customer a search names by id ranks, outside the rows shown.
fn standing_line(session: &Session, standing: &CustomerStanding, ranked: usize) -> Markup {
    let id = standing.customer_id;
    html! {
        p.standing {
            "Customer " (customer_link(session, id, html! { "#" (id) })) " "
            @match (&standing.standing, standing.band) {
                (Some(place), Some(band)) => {
                    "is not in the top " (ranked) ": rank " (place.rank) " in this window, "
                    "engagement score "
                    @if session.may_read(ReportKind::EventLog) {
                        a.score href=(event_log_link(&standing.drill_down)) title="Open the events counted" { (place.score) }
                    } @else { (place.score) }
                    " (" (band.label()) ")."
                }
                _ => {
                    "is not ranked in this window: no events of their own, or an admin "
                    "placeholder."
                }
            }
        }
    }
}

fn csv_name(report: &EngagementReport) -> String {
    engagement_core::csv::CsvReport::csv_file_name(report)
}

fn band_class(row: &EngagementRow) -> String {
    serde_json::to_value(row.band)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
