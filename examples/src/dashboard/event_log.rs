//! The event log page (seed 002): the filter bar, a keyset-paginated table with the exact
//! total, the event detail panel, and the streamed export of the complete filtered log.

use axum::body::Body;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use engagement_core::csv::{ChunkSize, CsvOptions, event_log_chunks, event_log_file_name};
use engagement_core::report::{EventLogPage, EventLogRequest, LogEntry};
use engagement_core::{
    Actor, Error, EventId, EventKey, Lookback, RangeSpec, ReportZone, Result, WorkspaceId, names,
};
use futures::StreamExt;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::csv_response::download;
use super::layout::{
    Nav, custom_dates, customer_link, href, local_time, page as shell, range_fields, window_line,
};
use super::problem::{Query, failed_page, plain};
use super::session::Session;
use crate::range_text::{exact_window_parts, parse_range, range_parts};
use crate::ranking_search::customer_named;

const TITLE: &str = "Event Log";

/// The ranges the filter bar offers.
const RANGES: [(&str, &str); 10] = [
    ("15m", "Last 15 min"),
    ("60m", "Last 60 min"),
    ("24h", "Last 24 hours"),
    ("48h", "Last 48 hours"),
    ("7d", "7D"),
    ("14d", "14D"),
    ("30d", "30D"),
    ("today", "Today"),
    ("yesterday", "Yesterday"),
    ("this-week", "This week"),
];

/// The page's query: range, the seed's filters, the cursor and the open event.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub(crate) struct Params {
    #[serde(skip_serializing_if = "Option::is_none")]
    range: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    referrer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pos: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<String>,
}

/// The text a referrer filter uses for direct traffic (an empty referrer).
const DIRECT: &str = "(direct)";

/// A typed filter's text, without the blanks around it; `None` when there is none.
fn blank(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// An event id a link carries (`event`, the cursor `after`), exactly as given: an id may begin
/// or end with a blank; `None` when there is none.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

impl Params {
    /// The request these parameters describe, for `workspace`.
    fn request(&self, workspace: WorkspaceId, zone: &ReportZone) -> Result<EventLogRequest> {
        let range = parse_range(
            self.range.as_deref(),
            self.from.as_deref(),
            self.to.as_deref(),
            RangeSpec::last(Lookback::Days(14)),
            zone,
        )?;
        let mut request = EventLogRequest::new(workspace).with_range(range);
        if let Some(name) = blank(&self.name) {
            request = request.with_names([name]);
        }
        if let Some(id) = blank(&self.customer) {
            let id = customer_named(id).ok_or_else(|| {
                Error::invalid_query(
                    "customer",
                    format!("{id:?} is not a customer ID (a whole number)"),
                )
            })?;
            request = request.for_customer(id);
        }
        if let Some(actor) = blank(&self.actor) {
            let actor = Actor::ALL
                .into_iter()
                .find(|a| a.as_str().eq_ignore_ascii_case(actor))
                .ok_or_else(|| {
                    Error::invalid_query(
                        "actor",
                        format!("{actor:?} is not customer, staff or system"),
                    )
                })?;
            request = request.with_actors(vec![actor]);
        }
        if let Some(ip) = blank(&self.ip) {
            request.ip =
                Some(ip.parse().map_err(|_| {
                    Error::invalid_query("ip", format!("{ip:?} is not an IP address"))
                })?);
        }
        request.path = blank(&self.path).map(str::to_owned);
        request.domain = blank(&self.domain).map(str::to_owned);
        request.referrer = blank(&self.referrer).map(|r| {
            if r == DIRECT {
                String::new()
            } else {
                r.to_owned()
            }
        });
        request.after = given(&self.after).map(str::parse).transpose()?;
        Ok(request)
    }

    /// The parameters of a request (the inverse of [`Params::request`] for one name, customer
    /// and actor).
    fn of(request: &EventLogRequest) -> Self {
        let (range, from, to) = range_parts(&request.range);
        let one = |v: Option<String>| v;
        Self {
            range: Some(range),
            from,
            to,
            name: one(request.names.as_ref().and_then(|n| n.first().cloned())),
            customer: request
                .customers
                .as_ref()
                .and_then(|c| c.first())
                .map(|c| c.to_string()),
            actor: request
                .actors
                .as_ref()
                .and_then(|a| a.first())
                .map(|a| a.as_str().to_owned()),
            ip: request.ip.map(|ip| ip.to_string()),
            path: request.path.clone(),
            domain: request.domain.clone(),
            referrer: request
                .referrer
                .clone()
                .map(|r| if r.is_empty() { DIRECT.into() } else { r }),
            after: request.after.as_ref().map(EventKey::to_string),
            pos: None,
            event: None,
        }
    }

    fn link(&self, path: &str) -> String {
        let clean = Self {
            range: self.range.clone().filter(|s| !s.is_empty()),
            ..self.clone()
        };
        match serde_urlencoded::to_string(&clean) {
            Ok(q) if !q.is_empty() => format!("{path}?{q}"),
            _ => path.to_owned(),
        }
    }

    fn without_paging(&self) -> Self {
        Self {
            after: None,
            pos: None,
            event: None,
            ..self.clone()
        }
    }
}

/// The event-log address that shows `request` (the ranking's score links use it).
///
/// ```
/// use engagement_core::report::EventLogRequest;
/// use engagement_core::{CustomerId, WorkspaceId};
/// use engagement_examples::dashboard::event_log_link;
///
/// let request = EventLogRequest::new(WorkspaceId::new("demo")?).for_customer(CustomerId(7));
/// assert_eq!(event_log_link(&request), "/events?range=14d&customer=7");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn event_log_link(request: &EventLogRequest) -> String {
    Params::of(request).link("/events")
}

/// `GET /events`.
pub(crate) async fn page(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<Params>,
) -> Response {
    let viewer = session.viewer();
    let result = match params.request(session.workspace.clone(), state.reports.zone()) {
        Ok(request) => state.reports.event_log(&viewer, &request).await,
        Err(e) => Err(e),
    };
    let log = match result {
        Ok(log) => log,
        Err(e) => {
            return failed_page(
                &session,
                TITLE,
                Nav::EventLog,
                filter_bar(&params, None),
                &e,
            );
        }
    };
    let detail = match given(&params.event) {
        Some(id) => match state
            .reports
            .event_detail(&viewer, &session.workspace, &EventId::new(id))
            .await
        {
            Ok(entry) => Some(entry),
            Err(e) => return plain(&session, &e),
        },
        None => None,
    };
    let body = html! {
        (filter_bar(&params, Some(&log)))
        (table(&session, &params, &log))
        @if let Some(entry) = &detail { (panel(&session, &params, entry, &log)) }
    };
    Html(shell(TITLE, Some(&session), Nav::EventLog, body).into_string()).into_response()
}

/// `GET /events.csv`: the complete filtered log, streamed from the store as it is read.
pub(crate) async fn csv(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<Params>,
) -> Response {
    let export = params
        .without_paging()
        .request(session.workspace.clone(), state.reports.zone())
        .and_then(|request| state.reports.export_event_log(&session.viewer(), &request));
    match export {
        Ok((period, events)) => {
            // Fused: `event_log_chunks` polls its source once more after the source has ended
            // (when the last chunk is partial), which an unfused store stream may panic on.
            let chunks = event_log_chunks(
                events.fuse().boxed(),
                [names::MODAL_NAME_KEY],
                CsvOptions::default(),
                ChunkSize::default(),
            );
            download(&event_log_file_name(&period), Body::from_stream(chunks))
        }
        Err(e) => plain(&session, &e),
    }
}

fn filter_bar(params: &Params, log: Option<&EventLogPage>) -> Markup {
    let range = blank(&params.range).unwrap_or(if blank(&params.from).is_some() {
        "custom"
    } else {
        "14d"
    });
    let (from, to) = match (blank(&params.from), blank(&params.to)) {
        (None, None) => custom_dates(log.map(|l| &l.period), range),
        (f, t) => (f.map(str::to_owned), t.map(str::to_owned)),
    };
    // The export is the page's window to the microsecond, not the range read again later.
    let mut export = params.without_paging();
    if let Some(log) = log {
        (export.range, export.from, export.to) = exact_window_parts(log.period.window);
    }
    let export = export.link("/events.csv");
    html! {
        form.filters method="get" action="/events" {
            (range_fields(&RANGES, range, from.as_deref(), to.as_deref()))
            label { "Event name" input name="name" list="event-names" value=[blank(&params.name)] placeholder="Page Viewed"; }
            datalist #event-names {
                @for n in [names::PAGE_VIEWED, names::MODAL_DISPLAYED, names::SUBSCRIBED, names::REGISTERED, names::LINK_OPENED, names::ORDER_SUBMITTED] {
                    option value=(n) {}
                }
            }
            label { "Customer ID" input name="customer" size="8" value=[blank(&params.customer)]; }
            label { "IP address" input name="ip" size="12" value=[blank(&params.ip)]; }
            label { "Page path" input name="path" size="12" value=[blank(&params.path)]; }
            label { "Page domain" input name="domain" size="14" value=[blank(&params.domain)]; }
            label { "Page referrer" input name="referrer" size="16" value=[blank(&params.referrer)] placeholder=(DIRECT); }
            @if let Some(actor) = blank(&params.actor) { input type="hidden" name="actor" value=(actor); }
            button.primary type="submit" { "Apply filters" }
            a.btn href="/events" { "Clear" }
            a.btn.export href=(export) download { "Export" }
        }
        @if let Some(log) = log { (window_line(&log.period)) }
    }
}

fn table(session: &Session, params: &Params, log: &EventLogPage) -> Markup {
    let pos = params.pos.unwrap_or(0);
    // `pos` comes from the link, so any number may arrive: saturate rather than overflow.
    let first = pos.saturating_add(1);
    let last = pos.saturating_add(log.entries.len() as u64);
    html! {
        p.total {
            strong { (log.total) } " events"
            @if !log.entries.is_empty() { span.muted { " · showing " (first) "–" (last) } }
        }
        table #events {
            thead { tr { th { "Event" } th { "Customer ID" } th { "Path" } th { "Country" } th { "Device" } th { "Time" } } }
            tbody {
                @for entry in &log.entries {
                    @let e = &entry.event;
                    @let open = Params { event: Some(e.id.as_str().to_owned()), ..params.clone() }.link("/events");
                    tr data-href=(open) class=[(given(&params.event) == Some(e.id.as_str())).then_some("selected")] {
                        td { a href=(open) { (e.name) } @if e.actor != Actor::Customer { " " span.muted { "(" (e.actor.as_str()) ")" } } }
                        td { (customer_link(session, e.customer, html! { (e.customer) })) }
                        td { (e.page.path) }
                        td { (e.geo.country) }
                        td { (e.device.map_or("—", |d| d.as_str())) }
                        td { (local_time(e.occurred_at, &log.period.zone)) }
                    }
                }
            }
        }
        div.pager {
            @if params.after.is_some() {
                a.btn href=(params.without_paging().link("/events")) { "« First page" }
            }
            // The next page keeps this page's window: a range ending now would move between pages.
            @if let Some(next) = log.next_request() {
                a.btn.next href=(Params { pos: Some(last), ..Params::of(&next) }.link("/events")) { "Next page »" }
            }
        }
    }
}

fn panel(session: &Session, params: &Params, entry: &LogEntry, log: &EventLogPage) -> Markup {
    let e = &entry.event;
    let zone = &log.period.zone;
    let close = Params {
        event: None,
        ..params.clone()
    }
    .link("/events");
    let customer_events = href("/events", &[("customer", Some(e.customer.to_string()))]);
    let dash = |s: &str| {
        if s.is_empty() {
            "—".to_owned()
        } else {
            s.to_owned()
        }
    };
    html! {
        aside.panel #event-detail {
            a.close href=(close) title="Close" { "✕" }
            h2 { (e.name) }
            p.muted { (local_time(e.occurred_at, zone)) " · " (e.actor.as_str()) " · " (e.id.as_str()) }
            section { h3 { "Customer" } dl {
                dt { "ID" } dd { (e.customer) " " button type="button" data-copy=(e.customer.to_string()) { "Copy" } }
                dt { "Name" } dd { (entry.customer.as_ref().map_or("—".into(), |c| c.full_name())) }
                dt { "Email" } dd { (entry.customer.as_ref().map_or("—".into(), |c| dash(&c.email))) }
                dt { "IP address" } dd { (e.ip.map_or("—".into(), |ip| ip.to_string())) }
                dt { "Links" } dd { (customer_link(session, e.customer, html! { "Profile" })) " · " a href=(customer_events) { "Activity" } }
            } }
            section { h3 { "Geo" } dl {
                dt { "Country" } dd { (dash(&e.geo.country)) }
                dt { "Region · City" } dd { (dash(&e.geo.region)) " · " (dash(&e.geo.city)) }
                dt { "Timezone" } dd { (dash(&e.geo.zone)) }
                dt { "Device" } dd { (e.device.map_or("—", |d| d.as_str())) }
            } }
            section { h3 { "Page" } dl {
                dt { "URL" } dd { (dash(&e.page.url)) }
                dt { "Path" } dd { (dash(&e.page.path)) }
                dt { "Domain" } dd { (dash(&e.page.domain)) }
                dt { "Referrer" } dd { (if e.page.referrer.is_empty() { DIRECT.to_owned() } else { e.page.referrer.clone() }) }
            } }
            section { h3 { "Metadata" }
                @if e.metadata.is_empty() { p.muted { "No metadata." } }
                @else { dl { @for (k, v) in &e.metadata {
                    dt { (k) } dd { (v.as_str().map_or_else(|| v.to_string(), str::to_owned)) }
                } } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use engagement_core::{CustomerId, Timestamp};

    use super::*;

    #[test]
    fn a_request_survives_its_link() {
        let ws = WorkspaceId::new("demo").unwrap();
        let mut request = EventLogRequest::new(ws.clone())
            .with_range(RangeSpec::Between {
                from: "2026-11-20T11:00:00Z".parse().unwrap(),
                to: "2026-11-20T12:00:00Z".parse().unwrap(),
            })
            .for_customer(CustomerId(-7))
            .with_actors(vec![Actor::Customer])
            .with_names(["Page Viewed"]);
        request.referrer = Some(String::new());
        request.ip = Some("203.0.113.9".parse().unwrap());
        request.after = Some(EventKey {
            at: Timestamp::from_micros(5),
            id: EventId::new("a:b c"),
        });
        let link = event_log_link(&request);
        let query = link.strip_prefix("/events?").unwrap();
        let params: Params = serde_urlencoded::from_str(query).unwrap();
        assert_eq!(params.request(ws, &ReportZone::utc()).unwrap(), request);
    }

    #[test]
    fn bad_filters_say_what_is_wrong() {
        let ws = WorkspaceId::new("demo").unwrap();
        for (field, params) in [
            (
                "customer",
                Params {
                    customer: Some("abc".into()),
                    ..Params::default()
                },
            ),
            (
                "ip",
                Params {
                    ip: Some("300.1.1.1".into()),
                    ..Params::default()
                },
            ),
            (
                "after",
                Params {
                    after: Some("nope".into()),
                    ..Params::default()
                },
            ),
            (
                "actor",
                Params {
                    actor: Some("robot".into()),
                    ..Params::default()
                },
            ),
        ] {
            let err = params.request(ws.clone(), &ReportZone::utc()).unwrap_err();
            assert!(
                matches!(err, Error::InvalidQuery { field: f, .. } if f == field),
                "{err}"
            );
        }
    }
}
