//! The page shell every dashboard page shares: head, navigation, the signed-in user, styles and
//! the small progressive script.

use engagement_core::{CustomerId, ReportKind, ReportZone, Timestamp};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::session::Session;

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
                style { (PreEscaped(CSS)) }
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
                script { (PreEscaped(SCRIPT)) }
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
/// an exact window ("between") is shown by name and kept in hidden fields.
pub(crate) fn range_fields(
    options: &[(&str, &str)],
    selected: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> Markup {
    html! {
        label { "Date range"
            select name="range" {
                @for (value, label) in options {
                    option value=(value) selected[*value == selected] { (label) }
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

const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;background:#f5f7fa}
a{color:#1d4ed8;text-decoration:none}a:hover{text-decoration:underline}
header.top{display:flex;gap:24px;align-items:center;padding:10px 24px;background:#1f2933;color:#e4e7eb}
header.top a{color:#cbd2d9}header.top nav a{margin-right:16px;padding:4px 0}
header.top nav a.current{color:#fff;border-bottom:2px solid #60a5fa}
.brand{font-weight:700;color:#fff}.who{margin-left:auto;font-size:13px}
main{padding:16px 24px;position:relative}
h1{font-size:22px;margin:4px 0 14px}h2{font-size:16px;margin:18px 0 8px}
.toolbar{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:8px 0}
.btn,button{display:inline-block;padding:5px 12px;border:1px solid #cbd2d9;border-radius:4px;background:#fff;color:#1f2933;font:inherit;cursor:pointer}
.btn.active{background:#1d4ed8;color:#fff;border-color:#1d4ed8}
.btn.primary,button.primary{background:#1d4ed8;color:#fff;border-color:#1d4ed8}
input,select{padding:5px 8px;border:1px solid #cbd2d9;border-radius:4px;font:inherit;background:#fff}
form.filters{display:flex;flex-wrap:wrap;gap:8px;align-items:end;margin:8px 0;padding:10px;background:#fff;border:1px solid #e4e7eb;border-radius:6px}
form.filters label{display:flex;flex-direction:column;font-size:12px;color:#52606d;gap:2px}
.dates{color:#52606d;margin:6px 0}
.error{background:#fde8e8;border:1px solid #f8b4b4;color:#9b1c1c;padding:10px 14px;border-radius:6px;margin:10px 0;font-weight:600}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #e4e7eb}
th,td{padding:6px 10px;border-bottom:1px solid #eef1f4;text-align:left;white-space:nowrap}
th{background:#f0f4f8;font-size:12px;text-transform:uppercase;letter-spacing:.03em;color:#52606d}
th a{color:inherit}td.num,th.num{text-align:right}
tr[data-href]{cursor:pointer}tr[data-href]:hover td{background:#f0f7ff}tr.selected td{background:#e0edff}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.band-low{background:#e3f9e5;color:#1f7a3a}.band-medium{background:#e0f2fe;color:#075985}
.band-high{background:#fef3c7;color:#92400e}.band-very_high{background:#fde8e8;color:#9b1c1c}
.status-active{background:#e3f9e5;color:#1f7a3a}.status-inactive{background:#e4e7eb;color:#52606d}
.flag{color:#9b1c1c;font-weight:700}
.summary{display:flex;gap:12px;flex-wrap:wrap;margin:8px 0}
.counter{background:#fff;border:1px solid #e4e7eb;border-radius:6px;padding:10px 16px;min-width:150px}
.counter b{display:block;font-size:22px}.counter span{color:#52606d;font-size:12px}
.pager{display:flex;gap:10px;align-items:center;margin:10px 0}
.muted{color:#7b8794}
details.export{position:relative}details.export summary{list-style:none}
details.export div{position:absolute;right:0;z-index:2;background:#fff;border:1px solid #cbd2d9;border-radius:4px;padding:4px;display:flex;flex-direction:column;min-width:180px}
details.export div a{padding:6px 10px}
aside.panel{position:fixed;top:0;right:0;bottom:0;width:420px;overflow:auto;background:#fff;border-left:1px solid #cbd2d9;box-shadow:-6px 0 18px rgba(0,0,0,.08);padding:16px 20px;z-index:5}
aside.panel h2{margin-top:0}aside.panel .close{position:absolute;top:12px;right:16px;font-size:18px}
aside.panel section{border-top:1px solid #eef1f4;padding-top:8px;margin-top:8px}
aside.panel dl{display:grid;grid-template-columns:110px 1fr;gap:4px 10px;margin:0}
aside.panel dt{color:#52606d}aside.panel dd{margin:0;word-break:break-all}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:8px}
.card{border:1px solid #e4e7eb;border-radius:6px;padding:8px;text-align:center}.card b{display:block;font-size:20px}
ul.milestones{list-style:none;padding:0;margin:0}ul.milestones li{padding:4px 0;border-bottom:1px solid #eef1f4}
svg text{font:10px system-ui,sans-serif;fill:#52606d}
.forbidden{max-width:640px;background:#fff;border:1px solid #f8b4b4;border-radius:8px;padding:20px 24px}
.login{max-width:420px;background:#fff;border:1px solid #e4e7eb;border-radius:8px;padding:20px 24px;display:flex;flex-direction:column;gap:10px}
"#;

const SCRIPT: &str = r#"
document.querySelectorAll('tr[data-href]').forEach(function(tr){
  tr.addEventListener('click',function(e){ if(e.target.closest('a,button')) return; location.href=tr.dataset.href; });
});
document.querySelectorAll('input[data-filter-table]').forEach(function(input){
  var table=document.getElementById(input.dataset.filterTable); if(!table) return;
  input.addEventListener('input',function(){
    var term=input.value.trim().toLowerCase();
    table.querySelectorAll('tbody tr').forEach(function(tr){
      tr.hidden = term!=='' && tr.textContent.toLowerCase().indexOf(term)<0;
    });
  });
});
document.querySelectorAll('button[data-copy]').forEach(function(b){
  b.addEventListener('click',function(){ if(navigator.clipboard) navigator.clipboard.writeText(b.dataset.copy); b.textContent='Copied'; });
});
"#;

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
