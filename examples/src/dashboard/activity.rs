//! The customer activity page (seed 001): five summary counters, search/status/date filters,
//! a sortable paginated table with 7-day sparklines, the two exports, and the customer detail
//! panel (cards, 14-day trend chart, recent milestones).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use engagement_core::report::{ActivityReport, ActivityRequest, CustomerDetail};
use engagement_core::{
    ActivitySort, ActivitySortKey, CalendarPreset, CustomerId, CustomerStatus, Error, Milestone,
    RangeSpec, ReportKind, ReportZone, Result, WorkspaceId,
};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::csv_response;
use super::layout::{
    Nav, custom_dates, href, link_if, local_time, local_time_or_dash, page as shell, range_fields,
    window_line,
};
use super::problem::{DIRECTIONS, Query, failed_page, one_of, plain};
use super::session::Session;
use super::svg;
use crate::range_text::{PRESETS, exact_window_parts, parse_range};

const TITLE: &str = "Customer Activity";

/// The sortable columns: (parameter, sort key, header).
const SORTS: [(&str, ActivitySortKey, &str); 9] = [
    ("name", ActivitySortKey::Name, "Customer"),
    ("last_click", ActivitySortKey::LastClick, "Last click"),
    (
        "views",
        ActivitySortKey::Milestone(Milestone::Views),
        "Views",
    ),
    (
        "confirmed",
        ActivitySortKey::Milestone(Milestone::Confirmed),
        "Confirmed",
    ),
    (
        "verified",
        ActivitySortKey::Milestone(Milestone::Verified),
        "Verified",
    ),
    (
        "checkout",
        ActivitySortKey::Milestone(Milestone::Checkout),
        "Checkout",
    ),
    (
        "orders",
        ActivitySortKey::Milestone(Milestone::Orders),
        "Orders",
    ),
    ("recent", ActivitySortKey::LastActivity, "Recent activity"),
    ("id", ActivitySortKey::CustomerId, "ID"),
];

/// The activity order a column name asks for: `name`, `last_click`, `views`, `confirmed`,
/// `verified`, `checkout`, `orders`, `recent` or `id`.
///
/// # Errors
/// [`engagement_core::Error::InvalidQuery`] for another name.
pub fn activity_sort(column: &str, descending: bool) -> Result<ActivitySort> {
    let key = SORTS
        .iter()
        .find(|(name, _, _)| name.eq_ignore_ascii_case(column.trim()))
        .map(|(_, key, _)| *key)
        .ok_or_else(|| {
            let names: Vec<&str> = SORTS.iter().map(|(n, _, _)| *n).collect();
            engagement_core::Error::invalid_query(
                "sort",
                format!(
                    "{column:?} is not a column: use one of {}",
                    names.join(", ")
                ),
            )
        })?;
    Ok(ActivitySort { key, descending })
}

/// The page's query: filters, order, page, and the open customer.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub(crate) struct Params {
    #[serde(skip_serializing_if = "Option::is_none")]
    range: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    q: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sort: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

fn blank(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Params {
    fn request(&self, workspace: WorkspaceId, zone: &ReportZone) -> Result<ActivityRequest> {
        let mut request = ActivityRequest::new(workspace);
        request.range = parse_range(
            self.range.as_deref(),
            self.from.as_deref(),
            self.to.as_deref(),
            RangeSpec::preset(CalendarPreset::LastDays(30)),
            zone,
        )?;
        request.search = blank(&self.q).map(str::to_owned);
        request.status = match blank(&self.status) {
            None | Some("all") => None,
            Some(s) => Some(CustomerStatus::parse(s)?),
        };
        let ascending = one_of("dir", self.dir.as_deref(), &DIRECTIONS)? == Some("asc");
        if let Some(key) = blank(&self.sort) {
            request.sort = activity_sort(key, !ascending)?;
        } else if ascending {
            request.sort.descending = false;
        }
        request.page = self.page.unwrap_or(1);
        request.page_size = self.page_size.unwrap_or(request.page_size);
        Ok(request)
    }

    fn link(&self, path: &str) -> String {
        match serde_urlencoded::to_string(self) {
            Ok(q) if !q.is_empty() => format!("{path}?{q}"),
            _ => path.to_owned(),
        }
    }

    fn with(&self, change: impl FnOnce(&mut Self)) -> Self {
        let mut next = self.clone();
        change(&mut next);
        next
    }
}

/// `GET /activity`.
pub(crate) async fn page(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<Params>,
) -> Response {
    let viewer = session.viewer();
    let result = match params.request(session.workspace.clone(), state.reports.zone()) {
        Ok(request) => state.reports.activity(&viewer, &request).await,
        Err(e) => Err(e),
    };
    let report = match result {
        Ok(report) => report,
        Err(e) => return failed_page(&session, TITLE, Nav::Activity, filters(&params, None), &e),
    };
    let detail = match params.customer {
        Some(id) => match state
            .reports
            .customer_detail(&viewer, &session.workspace, CustomerId(id))
            .await
        {
            Ok(detail) => Some(detail),
            Err(e) => return plain(&session, &e),
        },
        None => None,
    };
    let close = params.with(|p| p.customer = None).link("/activity");
    let body = html! {
        (summary(&report))
        (filters(&params, Some(&report)))
        (table(&params, &report))
        @if let Some(detail) = &detail { (panel(detail, Some(&close))) }
    };
    Html(shell(TITLE, Some(&session), Nav::Activity, body).into_string()).into_response()
}

/// `GET /activity.csv?scope=page|all`: the rows of this page, or every matching row.
pub(crate) async fn csv(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<Params>,
) -> Response {
    let result = async {
        let request = params.request(session.workspace.clone(), state.reports.zone())?;
        let report = if one_of("scope", params.scope.as_deref(), &["page", "all"])? == Some("all") {
            state
                .reports
                .activity_all(&session.viewer(), &request)
                .await?
        } else {
            state.reports.activity(&session.viewer(), &request).await?
        };
        csv_response::report(&report)
    }
    .await;
    result.unwrap_or_else(|e| plain(&session, &e))
}

/// `GET /customers/{id}`: one customer's detail, where names link.
pub(crate) async fn customer(
    State(state): State<AppState>,
    session: Session,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    // A path that is not UTF-8 once decoded (`/customers/%FF`) names no customer either.
    let id = match path {
        Ok(Path(id)) => id
            .parse::<i64>()
            .map_err(|_| format!("{id:?} is not a customer ID (a whole number)")),
        Err(rejection) => Err(format!("not a customer ID: {}", rejection.body_text())),
    };
    let id = match id {
        Ok(id) => id,
        Err(reason) => return plain(&session, &Error::invalid_query("customer", reason)),
    };
    match state
        .reports
        .customer_detail(&session.viewer(), &session.workspace, CustomerId(id))
        .await
    {
        Ok(detail) => {
            let title = format!("Customer #{id}");
            let body = html! {
                p { (link_if(&session, ReportKind::EventLog, &href("/events", &[("customer", Some(id.to_string()))]), html! { "All events of this customer" }))
                    " · " a href=(href("/activity", &[("q", Some(detail.customer.email.clone()))])) { "In the activity table" } }
                (panel(&detail, None))
            };
            Html(shell(&title, Some(&session), Nav::Activity, body).into_string()).into_response()
        }
        Err(e) => plain(&session, &e),
    }
}

fn summary(report: &ActivityReport) -> Markup {
    let s = report.summary;
    html! {
        div.summary {
            @for (label, n) in [
                ("Customers with clicks", s.customers_with_views),
                ("Total views", s.views),
                ("Verified", s.verified),
                ("Checkout started", s.checkout),
                ("Orders submitted", s.orders),
            ] {
                div.counter { b { (n) } span { (label) } }
            }
        }
    }
}

fn filters(params: &Params, report: Option<&ActivityReport>) -> Markup {
    let range = blank(&params.range).unwrap_or(if blank(&params.from).is_some() {
        "custom"
    } else {
        "last-30-days"
    });
    let (from, to) = match (blank(&params.from), blank(&params.to)) {
        (None, None) => custom_dates(report.map(|r| &r.period), range),
        (f, t) => (f.map(str::to_owned), t.map(str::to_owned)),
    };
    let status = blank(&params.status).unwrap_or("all");
    // The exports are the page's window to the microsecond, not the range read again later.
    let export = params.with(|p| {
        p.customer = None;
        if let Some(report) = report {
            (p.range, p.from, p.to) = exact_window_parts(report.period.window);
        }
    });
    html! {
        form.filters method="get" action="/activity" {
            label { "Search" input type="search" name="q" placeholder="Name, code or email" value=[blank(&params.q)]; }
            label { "Status" select name="status" {
                @for (value, label) in [("all", "All"), ("active", "Active"), ("inactive", "Inactive")] {
                    option value=(value) selected[status == value] { (label) }
                }
            } }
            (range_fields(&PRESETS, range, from.as_deref(), to.as_deref()))
            @if let Some(sort) = blank(&params.sort) { input type="hidden" name="sort" value=(sort); }
            @if let Some(dir) = blank(&params.dir) { input type="hidden" name="dir" value=(dir); }
            button.primary type="submit" { "Apply" }
            a.btn href="/activity" { "Reset" }
            details.export {
                summary.btn { "Export ▾" }
                div {
                    a.export-page href=(export.with(|p| p.scope = Some("page".into())).link("/activity.csv")) download { "Export current page" }
                    a.export-all href=(export.with(|p| { p.scope = Some("all".into()); p.page = None; }).link("/activity.csv")) download { "Export all results" }
                }
            }
        }
        @if let Some(report) = report { (window_line(&report.period)) }
    }
}

fn table(params: &Params, report: &ActivityReport) -> Markup {
    let zone = &report.period.zone;
    let header = |name: &str, label: &str, numeric: bool| {
        let current = blank(&params.sort).unwrap_or("views") == name;
        let descending = params.dir.as_deref() != Some("asc");
        let dir = if current && descending { "asc" } else { "desc" };
        let link = params
            .with(|p| {
                p.sort = Some(name.into());
                p.dir = Some(dir.into());
                p.page = None;
            })
            .link("/activity");
        let arrow = match (current, descending) {
            (true, true) => " ▼",
            (true, false) => " ▲",
            _ => "",
        };
        html! { th class=[numeric.then_some("num")] { a href=(link) { (label) (arrow) } } }
    };
    let page = report.request.page;
    html! {
        table #activity {
            thead { tr {
                (header("name", "Customer", false))
                th { "Email" }
                th { "Status" }
                (header("last_click", "Last click", false))
                (header("views", "Views", true))
                th { "7-day trend" }
                (header("confirmed", "Confirmed", true))
                (header("verified", "Verified", true))
                (header("checkout", "Checkout", true))
                (header("orders", "Orders", true))
                (header("recent", "Recent activity", false))
            } }
            tbody {
                @for row in &report.rows {
                    @let c = &row.counters;
                    @let open = params.with(|p| p.customer = Some(row.customer.id.0)).link("/activity");
                    tr data-href=(open) class=[(params.customer == Some(row.customer.id.0)).then_some("selected")] {
                        td { a href=(open) { (row.customer.full_name()) } @if !row.customer.code.is_empty() { " " span.muted { (row.customer.code) } } }
                        td { (row.customer.email) }
                        td { span class=(format!("badge status-{}", row.customer.status.as_str())) {
                            @if row.customer.status == CustomerStatus::Active { "Active" } @else { "Inactive" }
                        } }
                        td { (local_time_or_dash(c.last_click, zone)) }
                        td.num { (c.views) }
                        td { (svg::sparkline(&row.sparkline)) " " span.latest title="latest day" { (row.sparkline.latest()) } }
                        td.num { (c.confirmed) }
                        td.num { (c.verified) }
                        td.num { (c.checkout) }
                        td.num { (c.orders) }
                        td { (local_time_or_dash(c.last_activity, zone)) }
                    }
                }
            }
        }
        div.pager {
            @if page > 1 { a.btn href=(params.with(|p| p.page = Some(page - 1)).link("/activity")) { "« Previous" } }
            span { "Page " (page) " of " (report.page_count.max(1)) " · " (report.total_rows) " customers" }
            @if page < report.page_count { a.btn.next href=(params.with(|p| p.page = Some(page + 1)).link("/activity")) { "Next »" } }
        }
    }
}

/// The customer detail's Activity tab; `close` is where the ✕ goes when it is a panel.
fn panel(detail: &CustomerDetail, close: Option<&str>) -> Markup {
    let zone = &detail.period.zone;
    let c = &detail.customer;
    html! {
        aside.panel[close.is_some()] #customer-detail {
            @if let Some(close) = close { a.close href=(close) title="Close" { "✕" } }
            h2 { (c.full_name()) }
            p.muted { "#" (c.id) @if !c.code.is_empty() { " · " (c.code) } " · " (c.email) " · " (c.status.as_str()) }
            p.muted { "Activity · last 30 days" }
            div.cards {
                @for (label, n) in [("Views", detail.cards.views), ("Verified", detail.cards.verified), ("Checkout", detail.cards.checkout), ("Orders", detail.cards.orders)] {
                    div.card { b { (n) } span { (label) } }
                }
            }
            section { h3 { "14-day trend" } (svg::trend_chart(&detail.trend)) }
            section { h3 { "Recent events" }
                @if detail.recent_milestones.is_empty() { p.muted { "No confirmations, verifications, checkouts or orders in the last 30 days." } }
                ul.milestones {
                    @for m in &detail.recent_milestones {
                        li { strong { (m.name) } " · " span.muted { (local_time(m.at, zone)) } }
                    }
                }
            }
        }
    }
}
