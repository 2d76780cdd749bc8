//! The page shell every dashboard page shares: head, navigation, the signed-in user, and links
//! to the stylesheet and the small progressive script ([`super::assets`]).

use engagement_core::{CustomerId, ReportKind, ReportZone, Timestamp};
use maud::{DOCTYPE, Markup, html};

use super::assets;
use super::session::Session;
use crate::range_text::{named_range, range_label, range_parts};

/// Which navigation entry is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Engagement,
    Activity,
    EventLog,
    Funnel,
    None,
}

const NAV: [(Nav, ReportKind, &str, &str); 4] = [
    (
        Nav::Engagement,
        ReportKind::Engagement,
        "/engagement",
        "Customer Engagement",
    ),
    (
        Nav::Activity,
        ReportKind::Activity,
        "/activity",
        "Customer Activity",
    ),
    (Nav::EventLog, ReportKind::EventLog, "/events", "Event Log"),
    (Nav::Funnel, ReportKind::Funnel, "/funnel", "Funnel"),
];

/// A whole page: `title` in the head and as the heading, `body` below it.
pub(crate) fn page(title: &str, session: Option<&Session>, nav: Nav, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · engagement" }
                link rel="stylesheet" href=(assets::STYLESHEET);
            }
            body {
                header.top {
                    span.brand { "engagement" }
                    nav {
                        @for (entry, report, href, label) in NAV {
                            @if session.is_none_or(|s| s.may_read(report)) {
                                a href=(href) class=[(entry == nav).then_some("current")] { (label) }
                            }
                        }
                    }
                    span.who {
                        @if let Some(s) = session {
                            "Signed in as " strong { (s.role_label()) } " · workspace " strong { (s.workspace.as_str()) }
                            " · " a href="/login" { "Switch user" }
                        } @else {
                            a href="/login" { "Sign in" }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
                script src=(assets::SCRIPT) {}
            }
        }
    }
}

/// `content` as a link to `target` when `session` may open `report` there, else as text: no
/// page offers a link that answers 403.
pub(crate) fn link_if(
    session: &Session,
    report: ReportKind,
    target: &str,
    content: Markup,
) -> Markup {
    html! {
        @if session.may_read(report) { a href=(target) { (content) } } @else { (content) }
    }
}

/// `content` linked to the customer's detail page (part of the activity report) when `session`
/// may open it.
pub(crate) fn customer_link(session: &Session, customer: CustomerId, content: Markup) -> Markup {
    link_if(
        session,
        ReportKind::Activity,
        &format!("/customers/{customer}"),
        content,
    )
}

/// An error banner (the seed's own words where it has them).
pub(crate) fn error_banner(message: &str) -> Markup {
    html! { div.error role="alert" { (message) } }
}

/// An instant as a local time in the report's zone: `2026-11-20 11:45:03 CET`.
pub(crate) fn local_time(at: Timestamp, zone: &ReportZone) -> String {
    at.to_datetime()
        .with_timezone(&zone.tz)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// An optional instant as local time, or a dash.
pub(crate) fn local_time_or_dash(at: Option<Timestamp>, zone: &ReportZone) -> String {
    at.map_or_else(|| "—".to_owned(), |t| local_time(t, zone))
}

/// `path?query` with blank values left out.
pub(crate) fn href(path: &str, params: &[(&str, Option<String>)]) -> String {
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .filter_map(|(k, v)| {
            v.as_deref()
                .filter(|v| !v.trim().is_empty())
                .map(|v| (*k, v))
        })
        .collect();
    match serde_urlencoded::to_string(pairs) {
        Ok(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_owned(),
    }
}

/// The range picker of a filter form: a menu of named ranges plus From/To dates for "custom";
/// an exact window ("between") is shown by name and kept in hidden fields. `selected` is the
/// range as the query gave it: a name the menu does not list in that spelling (`30M`, `1h`,
/// `last-90-days`) is selected under its own spelling, with an option of its own when the menu
/// has none, so that applying the form keeps the range the page shows.
pub(crate) fn range_fields(
    options: &[(&str, &str)],
    selected: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> Markup {
    let named = named_range(selected);
    let selected = named
        .as_ref()
        .map_or_else(|| selected.to_ascii_lowercase(), |spec| range_parts(spec).0);
    let unlisted = named.filter(|_| !options.iter().any(|(value, _)| *value == selected));
    let selected = selected.as_str();
    html! {
        label { "Date range"
            select name="range" {
                @for (value, label) in options {
                    option value=(value) selected[*value == selected] { (label) }
                }
                @if let Some(spec) = &unlisted {
                    option value=(selected) selected { (range_label(spec)) }
                }
                option value="custom" selected[selected == "custom"] { "Custom range" }
                @if selected == "between" {
                    option value="between" selected { "Exact window" }
                }
            }
        }
        // An exact window (a drill-down, a page after the first) carries instants, which date
        // inputs would blank: they stay hidden; a quick range or preset chosen instead ignores
        // them, and "custom" reads them as their days (`range_text`).
        @if selected == "between" {
            input type="hidden" name="from" value=[from];
            input type="hidden" name="to" value=[to];
        } @else {
            label { "From" input type="date" name="from" value=[from]; }
            label { "To" input type="date" name="to" value=[to]; }
        }
    }
}

/// The date inputs' values for a custom range: the resolved first and last local day.
pub(crate) fn custom_dates(
    period: Option<&engagement_core::report::ReportPeriod>,
    range: &str,
) -> (Option<String>, Option<String>) {
    match period {
        Some(p) if range == "custom" => {
            let (first, last) = engagement_core::csv::period_dates(p);
            (Some(first.to_string()), Some(last.to_string()))
        }
        _ => (None, None),
    }
}

/// "From … to …": the exact window a report covers, in its zone.
pub(crate) fn window_line(period: &engagement_core::report::ReportPeriod) -> Markup {
    html! {
        p.dates {
            "From " strong.from { (local_time(period.window.from, &period.zone)) }
            " to " strong.to { (local_time(period.window.to, &period.zone)) }
            span.muted { " (" (crate::range_text::range_label(&period.spec)) ", zone " (period.zone) ")" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_leave_out_blank_values_and_escape_the_rest() {
        assert_eq!(href("/events", &[("q", None)]), "/events");
        assert_eq!(
            href(
                "/events",
                &[("path", Some("/a b&c".into())), ("name", Some(" ".into()))]
            ),
            "/events?path=%2Fa+b%26c"
        );
    }

    #[test]
    fn local_times_are_in_the_report_zone() {
        let at: Timestamp = "2026-07-01T10:00:00Z".parse().unwrap();
        let berlin = ReportZone::parse("Europe/Berlin").unwrap();
        assert_eq!(local_time(at, &berlin), "2026-07-01 12:00:00 CEST");
        assert_eq!(local_time_or_dash(None, &berlin), "—");
    }
}
