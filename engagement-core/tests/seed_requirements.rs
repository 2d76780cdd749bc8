//! Seed requirements that had an implementation but no test pinning them, end to end through
//! the `Reports` facade over the `ReferenceStore` with a `FixedClock`.
//!
//! Each test names the seed (000 engagement ranking, 001 customer activity, 002 event log) and
//! quotes the line it pins; where `ARCHITECTURE.md` resolved an ambiguity, the test pins the
//! resolution (half-open windows, 28 days accepted, only the customer's own events scored).

mod report_fixture;

use std::sync::Arc;

use chrono::{NaiveDate, TimeDelta};
use engagement_core::csv::{CsvOptions, CsvReport, ENGAGEMENT_COLUMNS};
use engagement_core::ingest::{IngestConfig, Ingestor};
use engagement_core::report::{
    ActivityRequest, EngagementRequest, EventLogPage, EventLogRequest, FunnelRequest,
    MilestoneEvent, ScoreBand,
};
use engagement_core::store::export_events;
use engagement_core::{
    Actor, CalendarPreset, Customer, CustomerId, CustomerStatus, Error, Event, FixedClock,
    Lookback, Milestone, RangeSpec, ReportZone, Role, Timestamp, Viewer, names,
};
use futures::TryStreamExt;
use report_fixture::{
    Fixture, customers_every_third_inactive, event, fixture_at, parse_csv, ts, ws,
};

const NOW: &str = "2026-11-20T12:00:00Z";

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// `at` moved back by `delta`.
fn before(at: Timestamp, delta: TimeDelta) -> Timestamp {
    at.checked_sub(delta).unwrap()
}

fn by(actor: Actor, mut e: Event) -> Event {
    e.actor = actor;
    e
}

fn fixture() -> Fixture {
    fixture_at(NOW, ReportZone::utc())
}

/// (customer id, score) of every row of the ranking over `range`.
async fn scores(f: &Fixture, range: RangeSpec) -> Vec<(i64, u64)> {
    let request = EngagementRequest::new(ws()).with_range(range);
    let report = f.reports.engagement(&f.manager, &request).await.unwrap();
    report
        .rows
        .iter()
        .map(|r| (r.customer_id.0, r.score))
        .collect()
}

/// Seed 000: "Last 15 min: Show customer activity from past 15 minutes (default view)" and
/// "Shows top 100". The default request scores exactly `[now − 15 min, now)`.
#[tokio::test]
async fn the_default_engagement_view_is_the_last_15_minutes_top_100() {
    let f = fixture();
    let now = ts(NOW);
    f.append(&[
        event(
            "in-first",
            1,
            names::PAGE_VIEWED,
            before(now, TimeDelta::minutes(15)),
        ),
        event(
            "in-last",
            1,
            names::PAGE_VIEWED,
            before(now, TimeDelta::microseconds(1)),
        ),
        event(
            "too-old",
            1,
            names::PAGE_VIEWED,
            before(now, TimeDelta::minutes(15) + TimeDelta::microseconds(1)),
        ),
        event("at-now", 1, names::PAGE_VIEWED, now),
        event(
            "older-only",
            2,
            names::PAGE_VIEWED,
            before(now, TimeDelta::minutes(16)),
        ),
    ])
    .await;
    let request = EngagementRequest::new(ws());
    assert_eq!(request.range, RangeSpec::last(Lookback::Minutes15));
    assert_eq!(request.limit, 100);
    let report = f.reports.engagement(&f.manager, &request).await.unwrap();
    assert_eq!(
        (report.period.window.from, report.period.window.to),
        (before(now, TimeDelta::minutes(15)), now),
        "the date display shows the exact window"
    );
    let rows: Vec<(i64, u64)> = report
        .rows
        .iter()
        .map(|r| (r.customer_id.0, r.score))
        .collect();
    assert_eq!(rows, vec![(1, 2)], "[now - 15 min, now), half-open");
}

/// Seed 000: the quick buttons "15 min, 30 min, 60 min, 24 hours, 48 hours" each score their
/// own span ending now.
#[tokio::test]
async fn every_quick_range_scores_exactly_its_span() {
    let f = fixture();
    let now = ts(NOW);
    let offsets = [
        TimeDelta::minutes(14),
        TimeDelta::minutes(29),
        TimeDelta::minutes(31),
        TimeDelta::minutes(59),
        TimeDelta::minutes(61),
        TimeDelta::hours(24) - TimeDelta::seconds(1),
        TimeDelta::hours(24) + TimeDelta::seconds(1),
        TimeDelta::hours(48) - TimeDelta::seconds(1),
        TimeDelta::hours(48) + TimeDelta::seconds(1),
    ];
    let events: Vec<Event> = offsets
        .iter()
        .enumerate()
        .map(|(i, d)| event(&format!("e{i}"), 1, names::PAGE_VIEWED, before(now, *d)))
        .collect();
    f.append(&events).await;
    for (lookback, score) in [
        (Lookback::Minutes15, 1),
        (Lookback::Minutes30, 2),
        (Lookback::Minutes60, 4),
        (Lookback::Hours24, 6),
        (Lookback::Hours48, 8),
    ] {
        assert_eq!(
            scores(&f, RangeSpec::last(lookback)).await,
            vec![(1, score)],
            "{lookback:?}"
        );
    }
}

/// Seed 000: "Maximum Range: 4 weeks (system enforced - you'll see error if exceeded)",
/// "From Date: Starting date (defaults to yesterday if blank)", "To Date: Ending date (defaults
/// to today if blank)". ARCHITECTURE: inclusive local dates, 28 days accepted, 29 refused with
/// the seed's message, from > to an error.
#[tokio::test]
async fn custom_ranges_default_their_dates_and_are_capped_at_28_days() {
    let f = fixture();
    let custom = |from: Option<NaiveDate>, to: Option<NaiveDate>| RangeSpec::Custom { from, to };
    let request = |range| EngagementRequest::new(ws()).with_range(range);

    let blank = f
        .reports
        .engagement(&f.manager, &request(custom(None, None)))
        .await
        .unwrap();
    assert_eq!(
        (blank.period.window.from, blank.period.window.to),
        (ts("2026-11-19T00:00:00Z"), ts("2026-11-21T00:00:00Z")),
        "blank dates: yesterday through today"
    );
    // Use case 2: "Set From date to 7 days ago, Set To date to today" (To left blank).
    let week = f
        .reports
        .engagement(&f.manager, &request(custom(Some(date(2026, 11, 13)), None)))
        .await
        .unwrap();
    assert_eq!(
        (week.period.window.from, week.period.window.to),
        (ts("2026-11-13T00:00:00Z"), ts("2026-11-21T00:00:00Z"))
    );

    let four_weeks = custom(Some(date(2026, 10, 24)), Some(date(2026, 11, 20)));
    assert!(
        f.reports
            .engagement(&f.manager, &request(four_weeks))
            .await
            .is_ok(),
        "28 local days are accepted"
    );
    let too_long = custom(Some(date(2026, 10, 23)), Some(date(2026, 11, 20)));
    let err = f
        .reports
        .engagement(&f.manager, &request(too_long))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::RangeTooLong {
                days: 29,
                max_days: 28
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("Date Range must be less than 4 weeks"),
        "{err}"
    );
    // "If you need to see a specific customer's engagement" the standing obeys the same cap.
    assert!(matches!(
        f.reports
            .customer_standing(&f.manager, &ws(), too_long, CustomerId(1))
            .await,
        Err(Error::RangeTooLong { .. })
    ));
    let backwards = custom(Some(date(2026, 11, 20)), Some(date(2026, 11, 19)));
    assert!(matches!(
        f.reports.engagement(&f.manager, &request(backwards)).await,
        Err(Error::InvalidRange { .. })
    ));
}

/// Seed 000: "Only includes customers with at least 1 log entry", "Excludes admin placeholder
/// accounts", "Verify they actually created log entries (not just admin actions on their
/// account)", "COUNT of syslog entries for customer in time period" (every kind of entry).
#[tokio::test]
async fn the_ranking_counts_every_own_entry_and_lists_no_one_else() {
    let f = fixture();
    let now = ts(NOW);
    let mut placeholder = Customer::new(CustomerId(5), "Admin", "Placeholder");
    placeholder.is_admin_placeholder = true;
    f.customers(&[
        Customer::new(CustomerId(1), "John", "Smith"),
        Customer::new(CustomerId(2), "No", "Events"),
        Customer::new(CustomerId(3), "Last", "Week"),
        Customer::new(CustomerId(4), "Only", "Staff"),
        placeholder,
    ])
    .await;
    let at = |m: i64| before(now, TimeDelta::minutes(m));
    f.append(&[
        // Customer 1: page views, an account update, a cart change: every entry counts.
        event("1a", 1, names::PAGE_VIEWED, at(1)),
        event("1b", 1, "Account Updated", at(2)),
        event("1c", 1, "Cart Modified", at(3)),
        by(Actor::Staff, event("1s", 1, "Account Updated", at(4))),
        by(Actor::System, event("1y", 1, "Invoice Sent", at(5))),
        // Customer 3: active last week only.
        event("3a", 3, names::PAGE_VIEWED, at(7 * 24 * 60)),
        // Customer 4: only staff and system entries on the account.
        by(Actor::Staff, event("4s", 4, "Account Updated", at(1))),
        by(Actor::System, event("4y", 4, "Invoice Sent", at(1))),
        // Customer 5: an admin placeholder, very busy.
        event("5a", 5, names::PAGE_VIEWED, at(1)),
        event("5b", 5, names::PAGE_VIEWED, at(2)),
        event("5c", 5, names::PAGE_VIEWED, at(3)),
        event("5d", 5, names::PAGE_VIEWED, at(4)),
    ])
    .await;
    assert_eq!(
        scores(&f, RangeSpec::last(Lookback::Minutes60)).await,
        vec![(1, 3)]
    );
    unranked_in_the_last_hour(&f, [2, 3, 4, 5]).await;
}

/// Asserts that none of `customers` has a place or a band in the last hour's ranking.
async fn unranked_in_the_last_hour(f: &Fixture, customers: impl IntoIterator<Item = i64>) {
    for customer in customers {
        let standing = f
            .reports
            .customer_standing(
                &f.manager,
                &ws(),
                RangeSpec::last(Lookback::Minutes60),
                CustomerId(customer),
            )
            .await
            .unwrap();
        assert_eq!(standing.standing, None, "customer {customer}");
        assert_eq!(standing.band, None, "customer {customer}");
    }
}

/// Seed 000: "Check if customer account has adminplaceholder names (these are excluded)": an
/// account whose first and last names both read `adminplaceholder` is excluded like "Admin
/// Placeholder", unflagged (before, only the two names read together as one word were
/// recognised, and such an account was ranked by every store).
#[tokio::test]
async fn accounts_with_adminplaceholder_names_are_not_ranked() {
    let f = fixture();
    let now = ts(NOW);
    f.customers(&[
        Customer::new(CustomerId(1), "adminplaceholder", "adminplaceholder"),
        Customer::new(CustomerId(2), "AdminPlaceholder", "Admin-Placeholder"),
        Customer::new(CustomerId(3), "Ada", "Lovelace"),
    ])
    .await;
    let events: Vec<_> = (1..=3)
        .flat_map(|c| {
            (1..=3).map(move |k| {
                event(
                    &format!("{c}-{k}"),
                    c,
                    names::PAGE_VIEWED,
                    before(now, TimeDelta::minutes(k)),
                )
            })
        })
        .collect();
    f.append(&events).await;
    assert_eq!(
        scores(&f, RangeSpec::last(Lookback::Minutes60)).await,
        vec![(3, 3)]
    );
    unranked_in_the_last_hour(&f, [1, 2]).await;
}

/// Seed 002: "IP Address — filter by the originating IP", "Page Domain — events on a specific
/// domain". One client's address has two spellings (a dual-stack listener reports an IPv4
/// client as `::ffff:a.b.c.d`) and one site's domain any case; ingestion stores one spelling
/// and the filters look for it, so each filter finds every event of the client or the site,
/// however the sender or the viewer wrote it. Before, the filters compared what was written.
#[tokio::test]
async fn the_ip_and_domain_filters_find_every_spelling_of_one_client_and_site() {
    let f = fixture();
    let ingestor = ingestor_at_now(&f);
    let sent = |id: &str, ip: &str, domain: &str| {
        let mut e = event(
            id,
            1,
            names::PAGE_VIEWED,
            before(ts(NOW), TimeDelta::hours(1)),
        );
        e.ip = Some(ip.parse().unwrap());
        e.page.domain = domain.into();
        e
    };
    ingestor
        .send(
            &ws(),
            sent("mapped", "::ffff:81.2.69.142", "Shop.Example.com"),
        )
        .await
        .unwrap();
    ingestor
        .send_many(
            &ws(),
            vec![sent("plain", "81.2.69.142", "shop.example.com")],
        )
        .await
        .unwrap();
    ingestor.shutdown().await;
    for ip in ["81.2.69.142", "::ffff:81.2.69.142"] {
        let request = EventLogRequest::new(ws()).with_ip(ip.parse().unwrap());
        let page = f.reports.event_log(&f.manager, &request).await.unwrap();
        assert_eq!(page.total, 2, "ip {ip}");
    }
    for domain in ["shop.example.com", "Shop.Example.COM"] {
        let page = two_of_one_site(&f, domain, "shop.example.com").await;
        assert!(
            page.entries
                .iter()
                .all(|e| e.event.ip == Some("81.2.69.142".parse().unwrap())),
            "stored in one spelling"
        );
    }
}

/// An ingestor over the fixture's store, its clock at `NOW`.
fn ingestor_at_now(f: &Fixture) -> Ingestor {
    let clock = Arc::new(FixedClock::new(ts(NOW)));
    Ingestor::start(f.store.clone(), clock, IngestConfig::default()).unwrap()
}

/// The event log filtered by `domain`, asserted to hold the two events of the site, each
/// stored as `stored`.
async fn two_of_one_site(f: &Fixture, domain: &str, stored: &str) -> EventLogPage {
    let request = EventLogRequest::new(ws()).with_domain(domain);
    let page = f.reports.event_log(&f.manager, &request).await.unwrap();
    assert_eq!(page.total, 2, "domain {domain}");
    assert!(
        page.entries.iter().all(|e| e.event.page.domain == stored),
        "stored in one spelling"
    );
    page
}

/// An internationalised site has two spellings, Unicode (`bücher.example`, as a person writes
/// it) and its A-label (`xn--bcher-kva.example`, as a URL parser and the enricher write the
/// host): ingestion stores the A-label and the domain filter looks for it, so either finds
/// every event of the site. Before, a filter written in Unicode found none of the enriched
/// events.
#[tokio::test]
async fn the_domain_filter_finds_an_internationalised_site_however_it_is_written() {
    let f = fixture();
    let ingestor = ingestor_at_now(&f);
    let at = before(ts(NOW), TimeDelta::hours(1));
    let sent = |id: &str, domain: &str| {
        let mut e = event(id, 1, names::PAGE_VIEWED, at);
        e.page.domain = domain.into();
        e
    };
    let events = vec![
        sent("unicode", "Bücher.Example"),
        sent("a-label", "xn--bcher-kva.example"),
        sent("other", "buecher.example"),
    ];
    ingestor.send_many(&ws(), events).await.unwrap();
    ingestor.shutdown().await;
    for domain in ["bücher.example", "BÜCHER.example", "xn--bcher-kva.example"] {
        two_of_one_site(&f, domain, "xn--bcher-kva.example").await;
    }
}

/// Seed 000: "Search for customer name in table search box", "Find specific customer: Use
/// search box in table" — the row matches its id or any part of the name, any case.
#[tokio::test]
async fn the_table_search_matches_the_customer_id_or_name_in_any_case() {
    let f = fixture();
    let now = ts(NOW);
    f.customers(&[
        Customer::new(CustomerId(12345), "John", "Smith"),
        Customer::new(CustomerId(678), "Ada", "Lovelace"),
        Customer::new(CustomerId(42), "ΟΔΥΣΣΕΑΣ", "ΠΑΠΑΣ"),
    ])
    .await;
    f.append(&[
        event(
            "o",
            42,
            names::PAGE_VIEWED,
            before(now, TimeDelta::minutes(1)),
        ),
        event(
            "a",
            12345,
            names::PAGE_VIEWED,
            before(now, TimeDelta::minutes(1)),
        ),
        event(
            "b",
            678,
            names::PAGE_VIEWED,
            before(now, TimeDelta::minutes(1)),
        ),
        event(
            "c",
            999,
            names::PAGE_VIEWED,
            before(now, TimeDelta::minutes(1)),
        ),
    ])
    .await;
    let report = f
        .reports
        .engagement(&f.manager, &EngagementRequest::new(ws()))
        .await
        .unwrap();
    let hits = |term: &str| -> Vec<i64> {
        report
            .rows
            .iter()
            .filter(|r| r.matches(term))
            .map(|r| r.customer_id.0)
            .collect()
    };
    assert_eq!(hits("john smith"), vec![12345]);
    assert_eq!(hits("  SMITH "), vec![12345]);
    assert_eq!(hits("2345"), vec![12345]);
    // The id as the table shows it, "#12345" (seed 000's "Customer #12345 John Smith").
    assert_eq!(hits("#12345"), vec![12345]);
    assert_eq!(hits("#123"), vec![12345]);
    assert!(hits("#2345").is_empty(), "# starts the id");
    assert_eq!(hits("love"), vec![678]);
    // Σ ends a word in the term, not in the name (a word-final σ is written ς).
    assert_eq!(hits("ΟΔΥΣ"), vec![42]);
    assert_eq!(hits("οδυς"), vec![42]);
    assert_eq!(hits("999"), vec![999], "a customer without a record, by id");
    assert!(hits("nobody").is_empty());
    // A searchable DataTable's search: every word, in any order, in the id or the name.
    assert_eq!(hits("Smith John"), vec![12345]);
    assert_eq!(hits("#12345 John Smith"), vec![12345]);
    assert_eq!(hits("12345 smith"), vec![12345]);
    assert!(hits("smith lovelace").is_empty(), "every word in one row");
    assert!(
        hits("999 smith").is_empty(),
        "no name to hold the second word"
    );
}

/// Seed 000, Permissions: "Customer Service: Cannot access", "Manager / Administrator / Kiva
/// Admin: Full access to view and export"; the host's role names map onto those levels.
#[tokio::test]
async fn the_seed_role_names_get_the_seed_access_levels() {
    let f = fixture();
    f.append(&[event(
        "a",
        1,
        names::PAGE_VIEWED,
        before(ts(NOW), TimeDelta::minutes(1)),
    )])
    .await;
    assert_eq!(Role::from_name("Kiva Admin"), Role::PlatformAdmin);
    assert_eq!(Role::from_name("Customer Service"), Role::CustomerService);
    assert_eq!(Role::from_name("Administrator"), Role::Administrator);
    for name in ["Manager", "Administrator", "Kiva Admin"] {
        let viewer = Viewer::new(ws(), Role::from_name(name));
        let report = f
            .reports
            .engagement(&viewer, &EngagementRequest::new(ws()))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let csv = report.write_csv(Vec::new(), CsvOptions::default()).unwrap();
        assert_eq!(parse_csv(&csv).len(), 2, "{name} exports the row");
    }
    let support = Viewer::new(ws(), Role::from_name("Customer Service"));
    assert!(matches!(
        f.reports
            .engagement(&support, &EngagementRequest::new(ws()))
            .await,
        Err(Error::Forbidden { .. })
    ));
}

/// Seed 000: "Name CSV files with date range: engagement_2026-03-01_to_2026-03-07.csv" and
/// "File downloads automatically with all visible columns" (rank, id, names, score, band).
#[tokio::test]
async fn the_weekly_engagement_csv_is_named_after_its_dates_with_every_column() {
    // Use case 5, on a Monday: the previous Monday to Sunday.
    let f = fixture_at("2026-03-09T08:00:00Z", ReportZone::utc());
    f.customers(&[Customer::new(CustomerId(7), "John", "Smith")])
        .await;
    let events: Vec<Event> = (0..12)
        .map(|i| {
            let at = ts("2026-03-02T09:00:00Z")
                .checked_add(TimeDelta::hours(i * 12))
                .unwrap();
            event(&format!("e{i}"), 7, names::PAGE_VIEWED, at)
        })
        .chain([
            event(
                "sunday-last",
                7,
                names::PAGE_VIEWED,
                ts("2026-03-08T23:59:59.999999Z"),
            ),
            event("late", 7, names::PAGE_VIEWED, ts("2026-03-09T00:00:00Z")),
        ])
        .collect();
    f.append(&events).await;
    let request = EngagementRequest::new(ws()).with_range(RangeSpec::Custom {
        from: Some(date(2026, 3, 2)),
        to: Some(date(2026, 3, 8)),
    });
    let report = f.reports.engagement(&f.manager, &request).await.unwrap();
    assert_eq!(
        report.csv_file_name(),
        "engagement_2026-03-02_to_2026-03-08.csv"
    );
    let rows = parse_csv(&report.write_csv(Vec::new(), CsvOptions::default()).unwrap());
    assert_eq!(rows[0], ENGAGEMENT_COLUMNS);
    assert_eq!(
        rows[1],
        ["1", "7", "John", "Smith", "13", "Medium", "false"],
        "Sunday's last instant is in, Monday's first is out"
    );
    assert_eq!(rows.len(), 2);
    assert_eq!(report.rows[0].band, ScoreBand::Medium);
}

/// Seed 001: "Counts in each row reflect the selected period", "Customers with clicks: Distinct
/// customers who opened their order link at least once in the selected period", "Confirmed:
/// Times the buyer clicked through the confirmation welcome screen", "Last click",
/// "Recent activity: Timestamp of the most recent event of any type".
#[tokio::test]
async fn activity_counters_and_summary_follow_the_selected_period() {
    let f = fixture();
    f.customers(&[
        Customer::new(CustomerId(1), "Ada", "Lovelace"),
        Customer::new(CustomerId(2), "Bob", "Builder"),
        Customer::new(CustomerId(3), "Cy", "Quiet"),
    ])
    .await;
    f.append(&[
        event(
            "1-today-a",
            1,
            names::LINK_OPENED,
            ts("2026-11-20T08:00:00Z"),
        ),
        event(
            "1-today-b",
            1,
            names::LINK_OPENED,
            ts("2026-11-20T09:00:00Z"),
        ),
        event(
            "1-today-c",
            1,
            names::LINK_OPENED,
            ts("2026-11-20T10:00:00Z"),
        ),
        event("1-confirm", 1, names::CONFIRMED, ts("2026-11-20T10:30:00Z")),
        event("1-page", 1, names::PAGE_VIEWED, ts("2026-11-20T11:00:00Z")),
        event("1-old-a", 1, names::LINK_OPENED, ts("2026-11-16T08:00:00Z")),
        event("1-old-b", 1, names::CONFIRMED, ts("2026-11-16T08:05:00Z")),
        event("2-old", 2, names::LINK_OPENED, ts("2026-11-15T08:00:00Z")),
        event(
            "2-order",
            2,
            names::ORDER_SUBMITTED,
            ts("2026-11-15T08:30:00Z"),
        ),
    ])
    .await;
    let report_over = |preset| {
        let mut request = ActivityRequest::new(ws());
        request.range = RangeSpec::preset(preset);
        request.sort.key = engagement_core::ActivitySortKey::CustomerId;
        request.sort.descending = false;
        let reports = f.reports.clone();
        let admin = f.admin.clone();
        async move { reports.activity(&admin, &request).await.unwrap() }
    };

    let today = report_over(CalendarPreset::Today).await;
    let one = &today.rows[0].counters;
    assert_eq!((one.views, one.confirmed), (3, 1));
    assert_eq!(one.last_click, Some(ts("2026-11-20T10:00:00Z")));
    assert_eq!(one.last_activity, Some(ts("2026-11-20T11:00:00Z")));
    assert_eq!(today.rows[1].counters.views, 0);
    assert_eq!(
        (today.summary.customers_with_views, today.summary.views),
        (1, 3)
    );
    assert_eq!(
        today.total_rows, 3,
        "every customer is a row, even without events"
    );

    let week = report_over(CalendarPreset::LastDays(7)).await;
    let one = &week.rows[0].counters;
    assert_eq!((one.views, one.confirmed), (4, 2));
    assert_eq!(
        (
            week.summary.customers_with_views,
            week.summary.views,
            week.summary.orders
        ),
        (2, 5, 1),
        "distinct customers with clicks, total views, orders"
    );
    assert_eq!(
        week.rows[1].counters.last_click,
        Some(ts("2026-11-15T08:00:00Z"))
    );
}

/// Seed 001: "Export current page: The rows currently visible (respects active filters and page
/// size)", "Export all results: Every row matching the current filters, regardless of page",
/// "Both options download a CSV file named customer-activity-YYYY-MM-DD.csv".
#[tokio::test]
async fn activity_exports_the_current_page_or_every_matching_row() {
    let f = fixture_at(
        "2026-11-20T23:30:00Z",
        ReportZone::parse("Europe/Berlin").unwrap(),
    );
    let customers = customers_every_third_inactive(9, "Smith");
    f.customers(&customers).await;
    // Customer i opened the link i times: most views first is id descending.
    let events: Vec<Event> = (1..=9_i64)
        .flat_map(|i| {
            (0..i).map(move |k| {
                let at = ts("2026-11-20T10:00:00Z")
                    .checked_add(TimeDelta::minutes(k))
                    .unwrap();
                event(&format!("{i}-{k}"), i, names::LINK_OPENED, at)
            })
        })
        .collect();
    f.append(&events).await;
    let request = ActivityRequest::new(ws())
        .with_status(CustomerStatus::Active)
        .with_search("smith")
        .with_page(2, 2);

    let page = f.reports.activity(&f.admin, &request).await.unwrap();
    let rows = parse_csv(&page.write_csv(Vec::new(), CsvOptions::default()).unwrap());
    let ids: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    // Active customers by views: 8, 7, 5, 4, 2, 1 — page 2 of 2 rows is 5 and 4.
    assert_eq!(ids, ["5", "4"]);
    assert_eq!(page.total_rows, 6);
    assert_eq!(page.page_count, 3);

    let all = f.reports.activity_all(&f.admin, &request).await.unwrap();
    let rows = parse_csv(&all.write_csv(Vec::new(), CsvOptions::default()).unwrap());
    let ids: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["8", "7", "5", "4", "2", "1"]);
    assert_eq!(
        all.summary, page.summary,
        "the summary covers every matching row"
    );
    // 23:30 UTC is already the 21st in Berlin.
    assert_eq!(page.csv_file_name(), "customer-activity-2026-11-21.csv");
    assert_eq!(all.csv_file_name(), page.csv_file_name());
}

/// Seed 001, Customer detail: "The Activity tab shows the last 30 days of engagement",
/// "14-day trend chart — Daily link-open counts", "Recent events — A timestamped list of the
/// latest confirmation, verification, checkout, and order milestones".
#[tokio::test]
async fn the_customer_detail_covers_30_days_a_14_day_trend_and_every_milestone() {
    let f = fixture();
    f.customers(&[Customer::new(CustomerId(5), "Ada", "Lovelace")])
        .await;
    f.append(&[
        // The 30 local days are 2026-10-22 ..= 2026-11-20.
        event(
            "first-day",
            5,
            names::LINK_OPENED,
            ts("2026-10-22T00:00:00Z"),
        ),
        event(
            "day-before",
            5,
            names::LINK_OPENED,
            ts("2026-10-21T23:59:59Z"),
        ),
        event(
            "trend-first",
            5,
            names::LINK_OPENED,
            ts("2026-11-07T06:00:00Z"),
        ),
        event(
            "trend-before",
            5,
            names::LINK_OPENED,
            ts("2026-11-06T23:00:00Z"),
        ),
        event("today", 5, names::LINK_OPENED, ts("2026-11-20T11:00:00Z")),
        event("confirm", 5, names::CONFIRMED, ts("2026-11-10T10:00:00Z")),
        event("verify", 5, names::VERIFIED, ts("2026-11-11T10:00:00Z")),
        event(
            "checkout",
            5,
            names::CHECKOUT_STARTED,
            ts("2026-11-12T10:00:00Z"),
        ),
        event(
            "order",
            5,
            names::ORDER_SUBMITTED,
            ts("2026-11-13T10:00:00Z"),
        ),
        by(
            Actor::Staff,
            event(
                "staff-order",
                5,
                names::ORDER_SUBMITTED,
                ts("2026-11-14T10:00:00Z"),
            ),
        ),
        event(
            "old-order",
            5,
            names::ORDER_SUBMITTED,
            ts("2026-10-01T10:00:00Z"),
        ),
    ])
    .await;
    let detail = f
        .reports
        .customer_detail(&f.admin, &ws(), CustomerId(5))
        .await
        .unwrap();
    assert_eq!(
        (detail.period.window.from, detail.period.window.to),
        (ts("2026-10-22T00:00:00Z"), ts("2026-11-21T00:00:00Z"))
    );
    assert_eq!(
        (
            detail.cards.views,
            detail.cards.verified,
            detail.cards.checkout,
            detail.cards.orders
        ),
        (4, 1, 1, 1)
    );
    assert_eq!(detail.trend.first_day, date(2026, 11, 7));
    let mut expected = vec![0; 14];
    expected[0] = 1;
    expected[13] = 1;
    assert_eq!(detail.trend.counts, expected);
    let recent: Vec<(Milestone, &str)> = detail
        .recent_milestones
        .iter()
        .map(|m: &MilestoneEvent| (m.milestone, m.id.as_str()))
        .collect();
    assert_eq!(
        recent,
        vec![
            (Milestone::Orders, "order"),
            (Milestone::Checkout, "checkout"),
            (Milestone::Verified, "verify"),
            (Milestone::Confirmed, "confirm"),
        ],
        "newest first, the buyer's own milestones in the last 30 days"
    );
}

/// Seed 002: "The 14D time-range selector at the top-left controls the default lookback
/// window", "a paginated list of recent events with the total count surfaced at the top".
#[tokio::test]
async fn the_event_log_defaults_to_a_14_day_lookback_with_an_exact_total() {
    let f = fixture();
    let now = ts(NOW);
    let fourteen_days = TimeDelta::days(14);
    f.append(&[
        event("edge", 1, names::PAGE_VIEWED, before(now, fourteen_days)),
        event(
            "too-old",
            1,
            names::PAGE_VIEWED,
            before(now, fourteen_days + TimeDelta::microseconds(1)),
        ),
        event(
            "newest",
            2,
            names::MODAL_DISPLAYED,
            before(now, TimeDelta::seconds(1)),
        ),
        by(
            Actor::Staff,
            event(
                "staff",
                2,
                "Account Updated",
                before(now, TimeDelta::hours(1)),
            ),
        ),
    ])
    .await;
    let request = EventLogRequest::new(ws());
    assert_eq!(request.range, RangeSpec::last(Lookback::Days(14)));
    let page = f.reports.event_log(&f.manager, &request).await.unwrap();
    assert_eq!(page.total, 3);
    let ids: Vec<&str> = page.entries.iter().map(|e| e.event.id.as_str()).collect();
    assert_eq!(
        ids,
        ["newest", "staff", "edge"],
        "newest first, every actor"
    );
}

/// Seed 002: "Exports include complete event logs — not just the rows currently visible in the
/// UI or the current pagination page. Filters applied on the page are respected in the export."
#[tokio::test]
async fn the_event_log_export_is_every_event_the_filters_match() {
    let f = fixture();
    let now = ts(NOW);
    let mut events = Vec::new();
    for i in 0..130_i64 {
        let at = before(now, TimeDelta::minutes(i + 1));
        events.push(event(&format!("a{i:03}"), 7, names::PAGE_VIEWED, at));
        events.push(event(&format!("b{i:03}"), 7, names::SUBSCRIBED, at));
        events.push(event(&format!("c{i:03}"), 8, names::PAGE_VIEWED, at));
    }
    events.push(by(
        Actor::Staff,
        event(
            "staff",
            7,
            names::PAGE_VIEWED,
            before(now, TimeDelta::hours(5)),
        ),
    ));
    f.append(&events).await;
    let request = EventLogRequest::new(ws())
        .for_customer(CustomerId(7))
        .with_names([names::PAGE_VIEWED]);
    let page = f.reports.event_log(&f.manager, &request).await.unwrap();
    assert_eq!(page.entries.len(), 50, "one page of the default size");
    assert_eq!(page.total, 131);
    let (_, stream) = f.reports.export_event_log(&f.manager, &request).unwrap();
    let exported: Vec<Event> = export_events(stream).try_collect().await.unwrap();
    assert_eq!(exported.len(), 131, "the export is the whole filtered log");
    assert!(
        exported
            .iter()
            .all(|e| e.customer == CustomerId(7) && e.name == names::PAGE_VIEWED)
    );
    assert!(exported.iter().any(|e| e.id.as_str() == "staff"));
    assert!(
        exported
            .windows(2)
            .all(|w| (w[0].occurred_at, &w[0].id) <= (w[1].occurred_at, &w[1].id)),
        "oldest first"
    );
}

/// Seed 002: "Date — filter by a specific date or date range" and "You can adjust it as you
/// wish with the needed time range": a custom date is a whole local day in the workspace's zone,
/// and the event log, unlike the ranking, takes ranges longer than 4 weeks.
#[tokio::test]
async fn the_event_log_date_filter_is_a_local_day_without_the_ranking_cap() {
    let f = fixture_at(NOW, ReportZone::parse("Europe/Berlin").unwrap());
    f.append(&[
        // 2026-11-10 in Berlin (UTC+1) is 2026-11-09T23:00Z ..= 2026-11-10T22:59:59.999999Z.
        event("start", 1, names::PAGE_VIEWED, ts("2026-11-09T23:00:00Z")),
        event(
            "end",
            1,
            names::PAGE_VIEWED,
            ts("2026-11-10T22:59:59.999999Z"),
        ),
        event(
            "before",
            1,
            names::PAGE_VIEWED,
            ts("2026-11-09T22:59:59.999999Z"),
        ),
        event("after", 1, names::PAGE_VIEWED, ts("2026-11-10T23:00:00Z")),
        event(
            "long-ago",
            1,
            names::PAGE_VIEWED,
            ts("2026-08-01T12:00:00Z"),
        ),
    ])
    .await;
    let day = EventLogRequest::new(ws()).with_range(RangeSpec::Custom {
        from: Some(date(2026, 11, 10)),
        to: Some(date(2026, 11, 10)),
    });
    let page = f.reports.event_log(&f.manager, &day).await.unwrap();
    let ids: Vec<&str> = page.entries.iter().map(|e| e.event.id.as_str()).collect();
    assert_eq!(ids, ["end", "start"]);
    let months = EventLogRequest::new(ws()).with_range(RangeSpec::Custom {
        from: Some(date(2026, 7, 1)),
        to: Some(date(2026, 11, 20)),
    });
    let page = f.reports.event_log(&f.manager, &months).await.unwrap();
    assert_eq!(page.total, 5);
}

/// Seed 002, Example 2: "how many visitors who view a paywalled article go on to register and
/// then subscribe" — each step counts customers, not events.
#[tokio::test]
async fn the_funnel_counts_each_customer_once_per_step() {
    let f = fixture();
    let t = |d: u32, h: u32| ts(&format!("2026-11-{d:02}T{h:02}:00:00Z"));
    let mut events = Vec::new();
    for k in 0..5 {
        events.push(event(
            &format!("1v{k}"),
            1,
            names::PAGE_VIEWED,
            t(10, k + 1),
        ));
    }
    events.push(event("1r", 1, names::REGISTERED, t(10, 8)));
    events.push(event("1r2", 1, names::REGISTERED, t(10, 9)));
    events.push(event("1s", 1, names::SUBSCRIBED, t(11, 8)));
    events.push(event("2v", 2, names::PAGE_VIEWED, t(10, 1)));
    events.push(event("2v2", 2, names::PAGE_VIEWED, t(10, 2)));
    f.append(&events).await;
    let report = f
        .reports
        .funnel(&f.manager, &FunnelRequest::new(ws()))
        .await
        .unwrap();
    let reached: Vec<(&str, u64)> = report
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.reached))
        .collect();
    assert_eq!(
        reached,
        vec![
            (names::PAGE_VIEWED, 2),
            (names::REGISTERED, 1),
            (names::SUBSCRIBED, 1)
        ]
    );
}
