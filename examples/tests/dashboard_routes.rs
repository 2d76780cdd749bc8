//! Handler tests for every dashboard route, over a MemoryStore with demo data and a fixed clock.

mod common;

use common::{Reply, get, send};

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use engagement_core::csv::ENGAGEMENT_COLUMNS;
use engagement_core::report::{ActivityRequest, Reports};
use engagement_core::{
    CustomerId, Event, EventStore, FixedClock, Role, Timestamp, Viewer, WorkspaceId,
};
use engagement_examples::dashboard::router;

const NOW: &str = "2026-11-20T12:00:00Z";

async fn app() -> (Router, Reports) {
    common::demo_app(NOW.parse().unwrap()).await
}

fn header(reply: &Reply, name: header::HeaderName) -> &str {
    reply.headers.get(name).unwrap().to_str().unwrap()
}

/// The `href` of the first link with `class="{class}"`, HTML-unescaped.
fn link_with_class(body: &str, class: &str) -> String {
    let at = body
        .find(&format!("class=\"{class}\""))
        .unwrap_or_else(|| panic!("no .{class} in page"));
    let start = body[at..].find("href=\"").unwrap() + at + 6;
    let end = body[start..].find('"').unwrap() + start;
    body[start..end].replace("&amp;", "&")
}

/// The window a page says it shows: its "From … to …" line's two local times.
fn shown_window(body: &str) -> [String; 2] {
    ["class=\"from\">", "class=\"to\">"].map(|mark| {
        let at = body.find(mark).unwrap() + mark.len();
        body[at..at + body[at..].find('<').unwrap()].to_owned()
    })
}

/// The window a link carries as `range=between&from=…&to=…`, as the page's window line shows
/// times (in UTC, to the second); `None` for a link without an exact window.
fn linked_window(link: &str) -> Option<[String; 2]> {
    let (_, query) = link.split_once('?')?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if value("range") != Some("between") {
        return None;
    }
    let local = |name: &str| -> Option<String> {
        let at: Timestamp = value(name)?.parse().unwrap();
        Some(at.to_datetime().format("%Y-%m-%d %H:%M:%S UTC").to_string())
    };
    Some([local("from")?, local("to")?])
}

fn csv_lines(body: &str) -> Vec<&str> {
    body.split("\r\n").filter(|l| !l.is_empty()).collect()
}

#[tokio::test]
async fn without_a_session_pages_send_you_to_the_login() {
    let (app, _) = app().await;
    let reply = send(
        &app,
        Request::get("/activity?q=x").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(
        header(&reply, header::LOCATION),
        "/login?next=%2Factivity%3Fq%3Dx"
    );
    let form = send(&app, Request::get("/login").body(Body::empty()).unwrap()).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("name=\"role\"") && form.body.contains("Customer service"));
}

#[tokio::test]
async fn the_login_sets_the_session_cookies_and_goes_on() {
    let (app, _) = app().await;
    let request = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("role=manager&workspace=demo&next=%2Fevents"))
        .unwrap();
    let reply = send(&app, request).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(header(&reply, header::LOCATION), "/events");
    let cookies: Vec<&str> = reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(cookies.iter().any(|c| c.starts_with("role=manager;")));
    assert!(cookies.iter().any(|c| c.starts_with("workspace=demo;")));
    // An outside address is not followed.
    let request = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(
            "role=manager&workspace=demo&next=%2F%2Fevil.test",
        ))
        .unwrap();
    assert_eq!(
        header(&send(&app, request).await, header::LOCATION),
        "/engagement"
    );
}

#[tokio::test]
async fn the_engagement_report_shows_the_window_and_links_scores_to_exactly_their_events() {
    let (app, _) = app().await;
    let page = get(&app, "/engagement?range=60m", "manager").await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "Customer Engagement",
        "15 min",
        "48 hours",
        "Custom Range",
        "2026-11-20 11:00:00 UTC",
        "2026-11-20 12:00:00 UTC",
        "badge band-",
        "engagement_2026-11-20_to_2026-11-20.csv",
    ] {
        assert!(page.body.contains(text), "missing {text:?}");
    }
    // The launch spike's automated customer is flagged.
    assert!(page.body.contains("investigate"));
    // The top score links to the log of that customer's own events in that window.
    let score_at = page.body.find("class=\"score\"").unwrap();
    let score: u64 = page.body[score_at..]
        .split('>')
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let link = link_with_class(&page.body, "score");
    assert!(
        link.starts_with("/events?range=between&from=2026-11-20T11"),
        "{link}"
    );
    assert!(link.contains("actor=customer"), "{link}");
    let log = get(&app, &link, "manager").await;
    assert_eq!(log.status, StatusCode::OK);
    assert!(
        log.body
            .contains(&format!("<strong>{score}</strong> events")),
        "the log behind a score of {score} lists another number of events"
    );
}

#[tokio::test]
async fn the_engagement_table_searches_and_sorts() {
    let (app, reports) = app().await;
    let viewer = Viewer::new(WorkspaceId::new("demo").unwrap(), Role::Manager);
    let report = reports
        .engagement(
            &viewer,
            &engagement_core::report::EngagementRequest::new(viewer.workspace.clone()).with_range(
                engagement_core::RangeSpec::last(engagement_core::Lookback::Hours24),
            ),
        )
        .await
        .unwrap();
    let name = report.rows[0].customer.as_ref().unwrap().full_name();
    let page = get(
        &app,
        &format!("/engagement?range=24h&q={}", name.replace(' ', "+")),
        "manager",
    )
    .await;
    let rows = page.body.matches("<tr data-id=").count();
    let expected = report.rows.iter().filter(|r| r.matches(&name)).count();
    assert_eq!(rows, expected);
    // The live search reads what the server's search reads: the id and the folded name.
    let row = format!(
        "<tr data-id=\"{}\" data-name=\"{}\">",
        report.rows[0].customer_id,
        engagement_core::fold_for_search(&name)
    );
    assert!(page.body.contains(&row), "{row}");
    // Ascending score puts the smallest score first.
    let asc = get(&app, "/engagement?range=24h&sort=score&dir=asc", "manager").await;
    let first_rank = report.rows.last().unwrap().rank;
    assert!(
        asc.body
            .contains(&format!("\"><td class=\"num\">{first_rank}</td>")),
        "ascending order does not start with rank {first_rank}"
    );
}

/// A search that leaves no row of the ranking says so, instead of "no activity"; a search by
/// the id of a customer who is not ranked says that.
#[tokio::test]
async fn a_search_without_a_row_says_what_it_did_not_find() {
    let (app, _) = app().await;
    let page = get(&app, "/engagement?range=24h&q=Zebediah", "manager").await;
    assert!(
        page.body.contains("No customer among the top"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("No customer activity in this window"));
    let page = get(&app, "/engagement?range=24h&q=%23999", "manager").await;
    assert!(
        page.body
            .contains("is not ranked in this window: no events of their own"),
        "{}",
        page.body
    );
}

/// A search by the id of a customer outside the top 100 shows where they rank, and their
/// score links to exactly the events it counts.
#[tokio::test]
async fn a_search_by_id_shows_the_rank_of_a_customer_outside_the_top_100() {
    let now: Timestamp = NOW.parse().unwrap();
    let store = Arc::new(engagement_memory::MemoryStore::new());
    let ws = WorkspaceId::new("demo").unwrap();
    // 150 customers active in the last hour: customer c with 1 + (150 - c) / 10 events.
    let events: Vec<Event> = (1..=150_i64)
        .flat_map(|c| {
            (0..1 + (150 - c) / 10).map(move |i| {
                let at = Timestamp::from_micros(now.as_micros() - 60_000_000 * (1 + i));
                Event::new(format!("e{c}-{i}"), CustomerId(c), "Page Viewed", at)
            })
        })
        .collect();
    store.append(&ws, &events).await.unwrap();
    let reports = Reports::new(store).with_clock(Arc::new(FixedClock::new(now)));
    let app = router(reports.clone());

    // Customers 1..=130 score at least 3, and 131..=139 tie with customer 140 at 2 with
    // smaller ids: customer 140 ranks 140th.
    let page = get(&app, "/engagement?range=60m&q=%23140", "manager").await;
    let line = "is not in the top 100: rank 140 in this window, engagement score";
    assert!(page.body.contains(line), "{}", page.body);
    let link = link_with_class(&page.body, "score");
    assert!(link.contains("customer=140"), "{link}");
    let log = get(&app, &link, "manager").await;
    assert!(
        log.body.contains("<strong>2</strong> events"),
        "the log behind a score of 2 lists another number of events"
    );
}

/// A search naming a ranked customer's id otherwise than the table writes it (`012`, `+12`,
/// `#012`) shows that customer's row, not "not in the top" beside an empty table.
#[tokio::test]
async fn a_search_by_an_id_spelled_otherwise_shows_its_row() {
    let now: Timestamp = NOW.parse().unwrap();
    let store = Arc::new(engagement_memory::MemoryStore::new());
    let ws = WorkspaceId::new("demo").unwrap();
    let at = Timestamp::from_micros(now.as_micros() - 60_000_000);
    let mut events: Vec<Event> = (0..5)
        .map(|i| Event::new(format!("a{i}"), CustomerId(12), "Page Viewed", at))
        .collect();
    events.push(Event::new("b", CustomerId(7), "Page Viewed", at));
    store.append(&ws, &events).await.unwrap();
    let app = router(Reports::new(store).with_clock(Arc::new(FixedClock::new(now))));
    for term in ["012", "%2B12", "%23012"] {
        let page = get(&app, &format!("/engagement?range=60m&q={term}"), "manager").await;
        assert_eq!(
            page.body.matches("<tr data-id=").count(),
            1,
            "{term}: {}",
            page.body
        );
        assert!(page.body.contains("<tr data-id=\"12\""), "{term}");
        assert!(!page.body.contains("is not in the top"), "{term}");
    }
}

#[tokio::test]
async fn a_five_week_custom_range_shows_the_seed_message() {
    let (app, _) = app().await;
    let page = get(
        &app,
        "/engagement?range=custom&from=2026-10-01&to=2026-11-05",
        "manager",
    )
    .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("Date Range must be less than 4 weeks"));
    // The form stays, filled in, so the range can be fixed.
    assert!(page.body.contains("value=\"2026-10-01\""));
    assert!(page.body.contains("Update Date Range"));
}

#[tokio::test]
async fn the_custom_range_form_defaults_to_yesterday_through_today() {
    let (app, _) = app().await;
    let page = get(&app, "/engagement?range=custom", "manager").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("value=\"2026-11-19\""));
    assert!(page.body.contains("value=\"2026-11-20\""));
    assert!(page.body.contains("2026-11-19 00:00:00 UTC"));
}

#[tokio::test]
async fn the_engagement_csv_carries_the_seed_file_name() {
    let (app, _) = app().await;
    let reply = get(
        &app,
        "/engagement.csv?range=custom&from=2026-11-14&to=2026-11-20",
        "administrator",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        header(&reply, header::CONTENT_TYPE),
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        header(&reply, header::CONTENT_DISPOSITION),
        "attachment; filename=\"engagement_2026-11-14_to_2026-11-20.csv\""
    );
    let lines = csv_lines(&reply.body);
    assert!(lines[0].starts_with(&format!("\"{}\"", ENGAGEMENT_COLUMNS[0])));
    assert!(lines.len() > 2 && lines.len() <= 101);
    // "Export current filtered results": the table search narrows the CSV too.
    let last_name = lines[1]
        .split(',')
        .nth(3)
        .unwrap()
        .trim_matches('"')
        .to_owned();
    let searched = get(
        &app,
        &format!("/engagement.csv?range=custom&from=2026-11-14&to=2026-11-20&q={last_name}"),
        "administrator",
    )
    .await;
    let rows = &csv_lines(&searched.body)[1..];
    assert!(!rows.is_empty() && rows.len() < lines.len() - 1, "{rows:?}");
    assert!(rows.iter().all(|r| r.contains(&last_name)), "{rows:?}");
}

#[tokio::test]
async fn customer_service_gets_a_clear_403_everywhere() {
    let (app, _) = app().await;
    for uri in [
        "/engagement",
        "/engagement.csv",
        "/activity",
        "/activity.csv",
        "/customers/1",
        "/events",
        "/events.csv",
        "/events?event=x",
        "/funnel",
        "/funnel.csv",
    ] {
        let reply = get(&app, uri, "customer-service").await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{uri}");
        assert!(reply.body.contains("Access denied"), "{uri}");
        assert!(reply.body.contains("Sign in with another role"), "{uri}");
    }
    // The activity page is for workspace admins only (seed 001): a manager is refused too.
    let reply = get(&app, "/activity", "manager").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body.contains("customer activity"));
}

/// Every `href="/…"` of a page, HTML-unescaped.
fn local_links(body: &str) -> Vec<String> {
    body.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|link| link.starts_with('/'))
        .map(|link| link.replace("&amp;", "&"))
        .collect()
}

#[tokio::test]
async fn no_page_links_a_role_to_a_page_it_is_refused() {
    let (app, _) = app().await;
    for (role, pages) in [
        ("manager", ["/engagement?range=60m", "/events", "/funnel"]),
        (
            "administrator",
            ["/engagement?range=60m", "/events", "/activity"],
        ),
    ] {
        for page in pages {
            let reply = get(&app, page, role).await;
            assert_eq!(reply.status, StatusCode::OK, "{role} {page}");
            let links = local_links(&reply.body);
            // The customer detail is part of customer activity, which managers may not open.
            let links_customers = links.iter().any(|l| l.starts_with("/customers/"));
            if !page.starts_with("/funnel") && !page.starts_with("/activity") {
                assert_eq!(links_customers, role == "administrator", "{role} {page}");
            }
            assert_eq!(
                links.iter().any(|l| l.starts_with("/activity")),
                role == "administrator",
                "{role} {page}"
            );
            // One link of each shape (path and parameter names) is followed.
            let mut shapes = std::collections::HashSet::new();
            for link in &links {
                let (path, query) = link.split_once('?').unwrap_or((link, ""));
                let path = path.trim_end_matches(|c: char| c.is_ascii_digit());
                let names: Vec<&str> = query
                    .split('&')
                    .filter_map(|p| p.split('=').next())
                    .collect();
                if shapes.insert(format!("{path}?{names:?}")) {
                    let target = get(&app, link, role).await;
                    assert_ne!(
                        target.status,
                        StatusCode::FORBIDDEN,
                        "{role} {page} → {link}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn the_role_can_come_from_the_query() {
    let (app, _) = app().await;
    let reply = send(
        &app,
        Request::get("/funnel?role=admin&workspace=demo")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.contains("Administrator"));
}

#[tokio::test]
async fn the_activity_page_has_counters_sparklines_pages_and_a_detail_panel() {
    let (app, reports) = app().await;
    let admin = Viewer::new(WorkspaceId::new("demo").unwrap(), Role::Administrator);
    let report = reports
        .activity(&admin, &ActivityRequest::new(admin.workspace.clone()))
        .await
        .unwrap();
    let page = get(&app, "/activity", "administrator").await;
    assert_eq!(page.status, StatusCode::OK);
    for label in [
        "Customers with clicks",
        "Total views",
        "Verified",
        "Checkout started",
        "Orders submitted",
        "Export current page",
        "Export all results",
        "7-day trend",
    ] {
        assert!(page.body.contains(label), "missing {label:?}");
    }
    assert!(page.body.contains(&format!(
        "<div class=\"counter\"><b>{}</b><span>Total views</span>",
        report.summary.views
    )));
    assert_eq!(page.body.matches("<svg class=\"sparkline\"").count(), 25);
    assert!(page.body.contains(&format!(
        "Page 1 of {} · {} customers",
        report.page_count, report.total_rows
    )));
    // A row opens the detail panel.
    let first = &report.rows[0].customer;
    let panel = get(
        &app,
        &format!("/activity?customer={}", first.id),
        "administrator",
    )
    .await;
    assert_eq!(panel.status, StatusCode::OK);
    assert!(panel.body.contains("id=\"customer-detail\""));
    assert!(panel.body.contains(&first.full_name()));
    assert!(panel.body.contains("14-day trend"));
    assert!(panel.body.contains("<svg class=\"trend\""));
    assert!(panel.body.contains("Recent events"));
    // Filters: search, status, sort, page.
    let inactive = get(
        &app,
        "/activity?status=inactive&sort=name&dir=asc",
        "administrator",
    )
    .await;
    assert!(!inactive.body.contains("class=\"badge status-active\""));
    assert!(inactive.body.contains("class=\"badge status-inactive\""));
    let page2 = get(&app, "/activity?page=2", "administrator").await;
    assert!(page2.body.contains("Page 2 of"));
    assert!(page2.body.contains("« Previous"));
}

#[tokio::test]
async fn the_activity_exports_name_the_file_after_the_day() {
    let (app, _) = app().await;
    let page = get(&app, "/activity.csv?scope=page", "administrator").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        header(&page, header::CONTENT_TYPE),
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        header(&page, header::CONTENT_DISPOSITION),
        "attachment; filename=\"customer-activity-2026-11-20.csv\""
    );
    assert_eq!(csv_lines(&page.body).len(), 26);
    let all = get(&app, "/activity.csv?scope=all", "administrator").await;
    assert_eq!(
        header(&all, header::CONTENT_DISPOSITION),
        "attachment; filename=\"customer-activity-2026-11-20.csv\""
    );
    // 60 customers less the placeholder, all active in 30 days or not: every row is there.
    let html = get(&app, "/activity", "administrator").await;
    let total: usize = html
        .body
        .split(" customers</span>")
        .next()
        .unwrap()
        .rsplit("· ")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(csv_lines(&all.body).len(), total + 1);
    // The scope in any case, as the other words of the query are read.
    let all_upper = get(&app, "/activity.csv?scope=ALL", "administrator").await;
    assert_eq!(all_upper.body, all.body);
}

/// The range menu selects the range the page was computed over, also one given in another
/// spelling (`1H`, `Today`) or not in the menu (`30m`, `last-90-days`, which get an option of
/// their own): selecting nothing showed the first entry, which "Apply" then submitted.
#[tokio::test]
async fn the_range_menu_selects_the_range_the_page_shows() {
    let (app, _) = app().await;
    for (uri, value, label) in [
        ("/events?range=30m", "30m", "Last 30 min"),
        ("/events?range=1H", "60m", "Last 60 min"),
        ("/activity?range=Today", "today", "Today"),
        (
            "/activity?range=last-90-days",
            "last-90-days",
            "Last 90 days",
        ),
        ("/funnel?range=14D", "14d", "Last 14 days"),
    ] {
        let page = get(&app, uri, "administrator").await;
        assert_eq!(page.status, StatusCode::OK, "{uri}");
        let menu = page
            .body
            .split("<select name=\"range\">")
            .nth(1)
            .and_then(|rest| rest.split("</select>").next())
            .unwrap_or_else(|| panic!("{uri}: no range menu"));
        let selected: Vec<&str> = menu
            .split("<option ")
            .filter(|option| option.contains(" selected"))
            .collect();
        assert_eq!(selected.len(), 1, "{uri}: {menu}");
        assert!(
            selected[0].starts_with(&format!("value=\"{value}\" selected>{label}<")),
            "{uri}: {menu}"
        );
    }
}

#[tokio::test]
async fn customer_pages_show_the_detail_or_404() {
    let (app, _) = app().await;
    let page = get(&app, "/customers/3", "administrator").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Customer #3"));
    assert!(page.body.contains("14-day trend"));
    let missing = get(&app, "/customers/999999", "administrator").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("not found"));
}

#[tokio::test]
async fn the_event_log_filters_pages_and_opens_an_event() {
    let (app, _) = app().await;
    let page = get(&app, "/events", "manager").await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "Event name",
        "Customer ID",
        "IP address",
        "Page path",
        "Page domain",
        "Page referrer",
        "showing 1–50",
        "Next page",
    ] {
        assert!(page.body.contains(text), "missing {text:?}");
    }
    let next = link_with_class(&page.body, "btn next");
    let page2 = get(&app, &next, "manager").await;
    assert!(page2.body.contains("showing 51–100"));
    assert!(page2.body.contains("« First page"));
    // The next page keeps the first page's window (a range ending now would move), and its
    // filter bar keeps it too.
    assert_eq!(shown_window(&page2.body), shown_window(&page.body));
    assert!(next.contains("range=between"), "{next}");
    assert!(
        page2
            .body
            .contains("<option value=\"between\" selected>Exact window</option>")
    );
    assert!(page2.body.contains("<input type=\"hidden\" name=\"from\""));
    // "Custom range" chosen there reads the window's instants as its days.
    let custom = get(
        &app,
        &next.replace("range=between", "range=custom"),
        "manager",
    )
    .await;
    assert_eq!(custom.status, StatusCode::OK, "{}", custom.body);
    assert!(custom.body.contains("Custom Range"));
    // The launch path only has the launch spike's page views.
    let launch = get(&app, "/events?path=%2Flaunch&name=Page+Viewed", "manager").await;
    assert!(launch.body.contains("/launch"));
    assert!(!launch.body.contains("/pricing"));
    // A row opens the detail panel with its four sections.
    let row_at = page.body.find("<tr data-href=\"").unwrap() + 15;
    let open =
        page.body[row_at..row_at + page.body[row_at..].find('"').unwrap()].replace("&amp;", "&");
    let panel = get(&app, &open, "manager").await;
    assert_eq!(panel.status, StatusCode::OK);
    for section in [
        "<h3>Customer</h3>",
        "<h3>Geo</h3>",
        "<h3>Page</h3>",
        "<h3>Metadata</h3>",
    ] {
        assert!(panel.body.contains(section), "missing {section}");
    }
    let bad = get(&app, "/events?ip=not-an-ip", "manager").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("is not an IP address"));
    let unknown = get(&app, "/events?event=no-such-event", "manager").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_event_log_export_is_the_complete_filtered_log() {
    let (app, _) = app().await;
    let page = get(&app, "/events?name=Page+Viewed&range=48h", "manager").await;
    let total: usize = page
        .body
        .split("<strong>")
        .nth(3)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(total > 50, "the filter should span several pages");
    let export = get(&app, "/events.csv?name=Page+Viewed&range=48h", "manager").await;
    assert_eq!(export.status, StatusCode::OK);
    assert_eq!(
        header(&export, header::CONTENT_TYPE),
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        header(&export, header::CONTENT_DISPOSITION),
        "attachment; filename=\"event-log_2026-11-18_to_2026-11-20.csv\""
    );
    let lines = csv_lines(&export.body);
    assert_eq!(lines.len(), total + 1, "header plus every matching event");
    assert!(lines[1..].iter().all(|l| l.contains("\"Page Viewed\"")));
}

#[tokio::test]
async fn the_funnel_page_draws_its_steps() {
    let (app, _) = app().await;
    let page = get(&app, "/funnel", "manager").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<svg class=\"funnel\""));
    for step in ["1. Page Viewed", "2. Registered", "3. Subscribed"] {
        assert!(page.body.contains(step), "missing {step}");
    }
    let custom = get(
        &app,
        "/funnel?steps=Page+Viewed%2C+Modal+Displayed&window_days=1",
        "manager",
    )
    .await;
    assert!(custom.body.contains("2. Modal Displayed"));
    let bad = get(&app, "/funnel?steps=Page+Viewed", "manager").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("2 to 8 steps"));
    let csv = get(&app, "/funnel.csv", "manager").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(
        header(&csv, header::CONTENT_DISPOSITION),
        "attachment; filename=\"funnel_2026-10-22_to_2026-11-20.csv\""
    );
    assert_eq!(csv_lines(&csv.body).len(), 4);
}

#[tokio::test]
async fn unknown_addresses_are_404_and_the_root_goes_to_the_report() {
    let (app, _) = app().await;
    let missing = get(&app, "/nope", "manager").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let root = get(&app, "/", "manager").await;
    assert_eq!(header(&root, header::LOCATION), "/engagement");
}

#[tokio::test]
async fn csv_links_carry_the_exact_window_of_a_relative_range_page() {
    let (app, reports) = app().await;
    // The same store a day and an hour on: every relative range then covers other events.
    let later = router(reports.with_clock(Arc::new(FixedClock::new(
        "2026-11-21T13:00:00Z".parse().unwrap(),
    ))));
    // (page, its CSV link's class, role). A funnel counts the customers "in progress" at the
    // time it is asked: its link carries the instant its page was computed too.
    for (page, csv_class, role) in [
        ("/engagement?range=60m", "btn primary csv", "manager"),
        (
            "/events?range=14d&name=Page+Viewed",
            "btn export",
            "manager",
        ),
        ("/activity?status=active", "export-page", "administrator"),
        ("/activity", "export-all", "administrator"),
        ("/funnel", "btn primary csv", "manager"),
    ] {
        let shown = get(&app, page, role).await;
        assert_eq!(shown.status, StatusCode::OK, "{page}");
        let link = link_with_class(&shown.body, csv_class);
        assert_eq!(
            linked_window(&link),
            Some(shown_window(&shown.body)),
            "{page}: {link}"
        );
        let now = get(&app, &link, role).await;
        assert_eq!(now.status, StatusCode::OK, "{link}: {}", now.body);
        assert!(csv_lines(&now.body).len() > 1, "{link}: {}", now.body);
        let after = get(&later, &link, role).await;
        assert_eq!(after.body, now.body, "{link} downloaded later");
    }
}

/// Per step, (dropped, in progress) as the funnel page's table shows them.
fn funnel_page_counts(body: &str) -> Vec<(u64, u64)> {
    let table = &body[body.find("<table id=\"funnel\"").unwrap()..];
    let tbody = &table[table.find("<tbody>").unwrap()..table.find("</tbody>").unwrap()];
    tbody
        .split("<tr>")
        .skip(1)
        .map(|row| {
            let nums: Vec<u64> = row
                .split("<td class=\"num\">")
                .skip(1)
                .filter_map(|c| c[..c.find('<').unwrap()].parse().ok())
                .collect();
            (nums[1], nums[2])
        })
        .collect()
}

/// Per step, (dropped, in progress) as the funnel CSV has them.
fn funnel_csv_counts(body: &str) -> Vec<(u64, u64)> {
    csv_lines(body)
        .iter()
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[5].parse().unwrap(), cells[6].parse().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn the_funnel_csv_a_second_later_has_the_pages_in_progress_customers() {
    let (app, reports) = app().await;
    let page = get(&app, "/funnel?range=24h", "manager").await;
    assert_eq!(page.status, StatusCode::OK);
    let shown = funnel_page_counts(&page.body);
    assert!(
        shown[0].1 > 0,
        "the case needs customers in progress: {shown:?}"
    );
    let link = link_with_class(&page.body, "btn primary csv");
    let same = get(&app, &link, "manager").await;
    assert_eq!(funnel_csv_counts(&same.body), shown, "{link}");
    let a_second_later: Timestamp = "2026-11-20T12:00:01Z".parse().unwrap();
    let later = router(reports.with_clock(Arc::new(FixedClock::new(a_second_later))));
    let clicked = get(&later, &link, "manager").await;
    assert_eq!(clicked.status, StatusCode::OK, "{link}: {}", clicked.body);
    assert_eq!(
        funnel_csv_counts(&clicked.body),
        shown,
        "{link}: the CSV downloaded a second after the page"
    );
}

#[tokio::test]
async fn a_funnel_csv_as_of_an_instant_no_page_showed_is_refused() {
    let (app, _) = app().await;
    let window = "range=between&from=2026-11-19T12%3A00%3A00Z&to=2026-11-20T12%3A00%3A00Z";
    let at = |as_of: &str| format!("/funnel.csv?{window}&as_of={as_of}");
    // The page's instant and any before it are read, before the window's start too (a page
    // over a window ahead of its now).
    for as_of in [
        "2026-11-20T12%3A00%3A00Z",
        "2026-11-19T12%3A00%3A00Z",
        "2026-11-19T11%3A59%3A59.999999Z",
    ] {
        let csv = get(&app, &at(as_of), "manager").await;
        assert_eq!(csv.status, StatusCode::OK, "as of {as_of}: {}", csv.body);
    }
    // A microsecond after now, or not an instant: the 400 page.
    for (as_of, why) in [
        ("2026-11-20T12%3A00%3A00.000001Z", "later than now"),
        ("yesterday", "not an RFC 3339 instant"),
    ] {
        let csv = get(&app, &at(as_of), "manager").await;
        assert_eq!(csv.status, StatusCode::BAD_REQUEST, "as of {as_of}");
        assert!(csv.body.contains(why), "as of {as_of}: {}", csv.body);
        assert!(
            !csv.body.starts_with("step,"),
            "as of {as_of}: {}",
            csv.body
        );
    }
}

/// A funnel page over a window ahead of now downloads its CSV (its `as_of`, the page's now, is
/// before the window's start: refused as "before the window" at first).
#[tokio::test]
async fn the_csv_link_of_a_funnel_page_over_a_window_ahead_of_now_downloads() {
    let (app, _) = app().await;
    for page in [
        "/funnel?range=custom&from=2026-11-25&to=2026-11-26",
        "/funnel?range=between&from=2026-11-21T00%3A00%3A00Z&to=2026-11-22T00%3A00%3A00Z",
    ] {
        let shown = get(&app, page, "manager").await;
        assert_eq!(shown.status, StatusCode::OK, "{page}: {}", shown.body);
        let link = link_with_class(&shown.body, "btn primary csv");
        let csv = get(&app, &link, "manager").await;
        assert_eq!(csv.status, StatusCode::OK, "{page}: {link}: {}", csv.body);
    }
}

/// The app over a memory store holding `events` of workspace "demo".
async fn app_with(events: &[Event]) -> Router {
    let store = Arc::new(engagement_memory::MemoryStore::new());
    let ws = WorkspaceId::new("demo").unwrap();
    store.append(&ws, events).await.unwrap();
    let now: Timestamp = NOW.parse().unwrap();
    router(Reports::new(store).with_clock(Arc::new(FixedClock::new(now))))
}

/// An event id may end in a blank (only blank ids and control characters are refused): its
/// row opens its own detail panel (the link's id was trimmed, so it opened none, or another
/// event's).
#[tokio::test]
async fn a_row_whose_id_ends_in_a_blank_opens_its_own_event() {
    let at: Timestamp = "2026-11-20T11:00:00Z".parse().unwrap();
    let mut event = Event::new("order-7 ", CustomerId(7), "Order Submitted", at);
    event.page.path = "/checkout".into();
    let other = Event::new("order-7", CustomerId(8), "Order Submitted", at);
    let app = app_with(&[event, other]).await;
    let page = get(&app, "/events", "manager").await;
    assert_eq!(page.status, StatusCode::OK);
    let row_at = page.body.find("<tr data-href=\"").unwrap() + 15;
    let open =
        page.body[row_at..row_at + page.body[row_at..].find('"').unwrap()].replace("&amp;", "&");
    let panel = get(&app, &open, "manager").await;
    assert_eq!(panel.status, StatusCode::OK, "{open}: {}", panel.body);
    let detail = panel
        .body
        .split_once("id=\"event-detail\"")
        .unwrap_or_else(|| panic!("{open}: no detail panel"))
        .1;
    assert!(detail.contains("/checkout"), "{open} opened another event");
}

/// The next page after a page ending with an id that ends in a blank resumes right after it:
/// the event of the same instant whose id lacks the blank is on it (a trimmed cursor skipped
/// it), and an empty page says nothing of what it shows.
#[tokio::test]
async fn the_next_page_after_an_id_ending_in_a_blank_skips_nothing() {
    let at: Timestamp = "2026-11-20T11:00:00Z".parse().unwrap();
    // Newest first within one instant is ids descending: 49 above "e ", then "e ", then "e".
    let mut events: Vec<Event> = (0..49)
        .map(|i| Event::new(format!("f{i:02}"), CustomerId(1), "Page Viewed", at))
        .collect();
    events.push(Event::new("e ", CustomerId(1), "Page Viewed", at));
    events.push(Event::new("e", CustomerId(2), "Page Viewed", at));
    let app = app_with(&events).await;
    let page = get(&app, "/events", "manager").await;
    assert!(page.body.contains("<strong>51</strong>"), "the total is 51");
    assert!(page.body.contains("showing 1–50"));
    let next = link_with_class(&page.body, "btn next");
    let second = get(&app, &next, "manager").await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert!(second.body.contains("showing 51–51"), "{next}");
    let past = next.replace("pos=50", "pos=60").replace("%3Ae+", "%3Ae");
    let empty = get(&app, &past, "manager").await;
    assert!(!empty.body.contains("showing"), "{past}");
}
