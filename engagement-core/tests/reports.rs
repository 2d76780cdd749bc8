//! The reports facade end to end over the reference store: rules on top of the primitives.

mod report_fixture;
mod support;

use std::sync::Arc;

use chrono::{NaiveDate, TimeDelta};
use engagement_core::csv::{CsvOptions, CsvReport, export_to_path};
use engagement_core::report::{
    ActivityRequest, EngagementRequest, EventLogRequest, FunnelReport, FunnelRequest, Reports,
    ScoreBand,
};
use engagement_core::{
    Actor, CalendarPreset, Customer, CustomerId, CustomerStatus, Error, Event, EventId, EventKey,
    EventStore, FixedClock, Lookback, Milestone, Milestones, RangeSpec, ReferenceStore, ReportZone,
    Role, Timestamp, Viewer, names,
};
use report_fixture::{customers_every_third_inactive, event, fixture_at, ts, ws};

/// `n` events of `customer`, one second apart, ending just before `end`.
fn burst(customer: i64, n: i64, end: Timestamp) -> Vec<Event> {
    (1..=n)
        .map(|i| {
            let at = Timestamp::from_micros(end.as_micros() - i * 1_000_000);
            event(
                &format!("c{customer}-{i:05}"),
                customer,
                names::PAGE_VIEWED,
                at,
            )
        })
        .collect()
}

#[tokio::test]
async fn ranking_bands_placeholders_and_drill_downs() {
    let f = fixture_at("2026-11-20T12:00:00Z", ReportZone::utc());
    let now = ts("2026-11-20T12:00:00Z");
    let mut placeholder = Customer::new(CustomerId(3), "adminplaceholder", "");
    placeholder.is_admin_placeholder = true;
    f.store
        .upsert_customers(
            &ws(),
            &[Customer::new(CustomerId(1), "John", "Smith"), placeholder],
        )
        .await
        .unwrap();
    let mut events = burst(1, 1_000, now);
    events.extend(burst(2, 50, now));
    events.extend(burst(3, 400, now));
    events.extend(burst(4, 9, now));
    let mut staff = event(
        "staff-1",
        4,
        "Account Updated",
        Timestamp::from_micros(now.as_micros() - 5),
    );
    staff.actor = Actor::Staff;
    events.push(staff);
    f.append(&events).await;

    let request = EngagementRequest::new(ws()).with_range(RangeSpec::last(Lookback::Minutes60));
    let report = f.reports.engagement(&f.admin, &request).await.unwrap();
    let rows: Vec<(u64, i64, u64, ScoreBand, bool)> = report
        .rows
        .iter()
        .map(|r| (r.rank, r.customer_id.0, r.score, r.band, r.investigate))
        .collect();
    assert_eq!(
        rows,
        vec![
            (1, 1, 1_000, ScoreBand::VeryHigh, true),
            (2, 2, 50, ScoreBand::High, false),
            (3, 4, 9, ScoreBand::Low, false),
        ]
    );
    assert_eq!(
        report.rows[0].customer.as_ref().unwrap().full_name(),
        "John Smith"
    );
    assert_eq!(report.period.window.to, now);

    // Each score links to a log listing exactly the events counted.
    for row in &report.rows {
        let mut drill = row.drill_down.clone();
        drill.page_size = 1_000;
        let log = f.reports.event_log(&f.admin, &drill).await.unwrap();
        assert_eq!(log.total, row.score, "drill-down of #{}", row.customer_id);
        assert!(
            log.entries
                .iter()
                .all(|e| e.event.customer == row.customer_id)
        );
    }

    let standing = f
        .reports
        .customer_standing(
            &f.admin,
            &ws(),
            RangeSpec::last(Lookback::Minutes60),
            CustomerId(4),
        )
        .await
        .unwrap();
    assert_eq!(standing.standing.map(|s| (s.rank, s.score)), Some((3, 9)));
    // The standing links to the same events as the customer's row.
    assert_eq!(standing.drill_down, report.rows[2].drill_down);
    let placeholder = f
        .reports
        .customer_standing(
            &f.admin,
            &ws(),
            RangeSpec::last(Lookback::Minutes60),
            CustomerId(3),
        )
        .await
        .unwrap();
    assert_eq!(placeholder.standing, None);

    let csv =
        String::from_utf8(report.write_csv(Vec::new(), CsvOptions::default()).unwrap()).unwrap();
    assert_eq!(csv.lines().count(), 4);
    assert_eq!(
        report.csv_file_name(),
        "engagement_2026-11-20_to_2026-11-20.csv"
    );
}

#[tokio::test]
async fn ranking_keeps_100_rows_of_150_ties_in_id_order() {
    let f = fixture_at("2026-11-20T12:00:00Z", ReportZone::utc());
    let at = ts("2026-11-20T11:59:00Z");
    let events: Vec<Event> = (0..150)
        .map(|i| event(&format!("e{i}"), 1_000 - i, "X", at))
        .collect();
    f.append(&events).await;
    let report = f
        .reports
        .engagement(&f.admin, &EngagementRequest::new(ws()))
        .await
        .unwrap();
    let ids: Vec<i64> = report.rows.iter().map(|r| r.customer_id.0).collect();
    assert_eq!(ids, (851..=950).collect::<Vec<_>>());
}

#[tokio::test]
async fn activity_summary_agrees_with_every_row_and_sparklines_are_local_days() {
    // New York, the day after the November DST change (the 3rd has 25 hours).
    let zone = ReportZone::parse("America/New_York").unwrap();
    let f = fixture_at("2024-11-04T15:00:00Z", zone);
    let customers = customers_every_third_inactive(30, "Tester");
    f.customers(&customers).await;
    let mut events = Vec::new();
    for i in 1..=20_i64 {
        for k in 0..i {
            // Link opens spread over the last days, in local time.
            let at = Timestamp::from_micros(
                ts("2024-11-04T14:00:00Z").as_micros() - k * 7 * 3_600_000_000,
            );
            events.push(event(&format!("v{i}-{k}"), i, names::LINK_OPENED, at));
        }
        events.push(event(
            &format!("o{i}"),
            i,
            names::ORDER_SUBMITTED,
            ts("2024-11-01T12:00:00Z"),
        ));
    }
    // 23:59:59.999999 local on the 25-hour day stays on the 3rd.
    events.push(event(
        "edge",
        1,
        names::LINK_OPENED,
        ts("2024-11-04T04:59:59.999999Z"),
    ));
    f.append(&events).await;

    let mut request = ActivityRequest::new(ws());
    request.range = RangeSpec::preset(CalendarPreset::LastDays(7));
    request.page_size = 7;
    let mut rows = Vec::new();
    let first = f.reports.activity(&f.admin, &request).await.unwrap();
    assert_eq!(first.total_rows, 30);
    assert_eq!(first.page_count, 5);
    for page in 1..=first.page_count {
        request.page = page;
        rows.extend(f.reports.activity(&f.admin, &request).await.unwrap().rows);
    }
    assert_eq!(rows.len(), 30);
    let views: u64 = rows.iter().map(|r| r.counters.views).sum();
    assert_eq!(first.summary.views, views);
    assert_eq!(
        first.summary.customers_with_views,
        rows.iter().filter(|r| r.counters.views > 0).count() as u64
    );
    assert!(
        rows.windows(2)
            .all(|w| w[0].counters.views >= w[1].counters.views)
    );

    let all = f.reports.activity_all(&f.admin, &request).await.unwrap();
    assert_eq!(all.rows.len(), 30);
    let one = all
        .rows
        .iter()
        .find(|r| r.customer.id == CustomerId(1))
        .unwrap();
    assert_eq!(
        one.sparkline.first_day,
        NaiveDate::from_ymd_opt(2024, 10, 29).unwrap()
    );
    assert_eq!(one.sparkline.counts.len(), 7);
    let day_3 = one
        .sparkline
        .days()
        .find(|(d, _)| d.to_string() == "2024-11-03")
        .unwrap();
    assert_eq!(day_3.1, 1, "the 23:59:59.999999 open stays on the 3rd");
    for row in &all.rows {
        assert_eq!(
            row.sparkline.counts.iter().sum::<u64>(),
            row.counters.views,
            "#{}",
            row.customer.id
        );
    }

    request.status = Some(CustomerStatus::Inactive);
    request.search = Some("NAME1".into());
    let inactive = f.reports.activity_all(&f.admin, &request).await.unwrap();
    let ids: Vec<i64> = inactive.rows.iter().map(|r| r.customer.id.0).collect();
    let mut expected: Vec<i64> = vec![12, 15, 18];
    expected.sort_by_key(|id| std::cmp::Reverse(*id));
    assert_eq!(
        ids, expected,
        "inactive customers named Name1…, most views first"
    );
}

#[tokio::test]
async fn customer_detail_cards_trend_and_milestones() {
    let f = fixture_at("2026-11-20T12:00:00Z", ReportZone::utc());
    f.store
        .upsert_customers(&ws(), &[Customer::new(CustomerId(5), "Ada", "Lovelace")])
        .await
        .unwrap();
    let day = |d: u32| ts(&format!("2026-11-{d:02}T10:00:00Z"));
    let events = vec![
        event("1", 5, names::LINK_OPENED, day(19)),
        event("2", 5, names::LINK_OPENED, day(20)),
        event("3", 5, names::VERIFIED, day(18)),
        event("4", 5, names::CHECKOUT_STARTED, day(19)),
        event("5", 5, names::ORDER_SUBMITTED, day(20)),
        event("6", 5, names::LINK_OPENED, ts("2026-10-01T10:00:00Z")), // outside 30 days
    ];
    f.append(&events).await;
    let detail = f
        .reports
        .customer_detail(&f.admin, &ws(), CustomerId(5))
        .await
        .unwrap();
    assert_eq!(
        (
            detail.cards.views,
            detail.cards.verified,
            detail.cards.checkout,
            detail.cards.orders
        ),
        (2, 1, 1, 1)
    );
    assert_eq!(detail.trend.counts.len(), 14);
    assert_eq!(detail.trend.latest(), 1);
    let names: Vec<&str> = detail
        .recent_milestones
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(
        names,
        vec![
            names::ORDER_SUBMITTED,
            names::CHECKOUT_STARTED,
            names::VERIFIED
        ]
    );
    assert!(matches!(
        f.reports
            .customer_detail(&f.admin, &ws(), CustomerId(6))
            .await,
        Err(Error::NotFound {
            what: "customer",
            ..
        })
    ));
}

#[tokio::test]
async fn event_log_pages_join_customers_and_export_everything() {
    let f = fixture_at("2026-11-20T12:00:00Z", ReportZone::utc());
    f.store
        .upsert_customers(&ws(), &[Customer::new(CustomerId(1), "Old", "Name")])
        .await
        .unwrap();
    let at = ts("2026-11-20T11:00:00Z");
    let events: Vec<Event> = (0..23)
        .map(|i| event(&format!("e{i:02}"), 1 + i % 2, names::PAGE_VIEWED, at))
        .collect();
    f.append(&events).await;
    // A renamed customer shows the new name.
    f.store
        .upsert_customers(&ws(), &[Customer::new(CustomerId(1), "New", "Name")])
        .await
        .unwrap();

    let mut request = EventLogRequest::new(ws());
    request.page_size = 5;
    let mut seen = Vec::new();
    loop {
        let page = f.reports.event_log(&f.admin, &request).await.unwrap();
        assert_eq!(page.total, 23);
        for entry in &page.entries {
            let expected = (entry.event.customer == CustomerId(1)).then(|| "New Name".to_owned());
            assert_eq!(entry.customer.as_ref().map(Customer::full_name), expected);
        }
        seen.extend(page.entries.into_iter().map(|e| e.event.id));
        match page.next {
            Some(next) => request.after = Some(next),
            None => break,
        }
    }
    let mut expected: Vec<_> = events.iter().map(|e| e.id.clone()).collect();
    expected.reverse();
    assert_eq!(
        seen, expected,
        "newest first, ties by id descending, no gap or duplicate"
    );

    let detail = f
        .reports
        .event_detail(&f.admin, &ws(), &"e03".into())
        .await
        .unwrap();
    assert_eq!(detail.event.customer, CustomerId(2));
    assert!(matches!(
        f.reports
            .event_detail(&f.admin, &ws(), &"missing".into())
            .await,
        Err(Error::NotFound { what: "event", .. })
    ));

    let (period, stream) = f
        .reports
        .export_event_log(&f.admin, &EventLogRequest::new(ws()))
        .unwrap();
    let path = std::env::temp_dir().join(format!("engagement-export-{}.csv", std::process::id()));
    let no_metadata: [&str; 0] = [];
    let rows = export_to_path(stream, &path, no_metadata, CsvOptions::default())
        .await
        .unwrap();
    assert_eq!(rows, 23);
    assert_eq!(period.window.to, ts("2026-11-20T12:00:00Z"));
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(text.lines().count(), 24);
}

#[tokio::test]
async fn funnel_counts_conversion_and_in_progress() {
    let f = fixture_at("2026-11-20T12:00:00Z", ReportZone::utc());
    let t = |s: &str| ts(s);
    let events = vec![
        // 1 converts fully within 7 days.
        event("1a", 1, names::PAGE_VIEWED, t("2026-11-01T10:00:00Z")),
        event("1b", 1, names::REGISTERED, t("2026-11-02T10:00:00Z")),
        event("1c", 1, names::SUBSCRIBED, t("2026-11-03T10:00:00Z")),
        // 2 registers too late: dropped at step 1.
        event("2a", 2, names::PAGE_VIEWED, t("2026-11-01T10:00:00Z")),
        event("2b", 2, names::REGISTERED, t("2026-11-09T10:00:01Z")),
        // 3 started yesterday: still in progress at step 1.
        event("3a", 3, names::PAGE_VIEWED, t("2026-11-19T10:00:00Z")),
        // 4 registered yesterday: in progress at step 2.
        event("4a", 4, names::PAGE_VIEWED, t("2026-11-18T10:00:00Z")),
        event("4b", 4, names::REGISTERED, t("2026-11-19T10:00:00Z")),
    ];
    f.append(&events).await;
    let report = f
        .reports
        .funnel(&f.admin, &FunnelRequest::new(ws()))
        .await
        .unwrap();
    let steps = reached_dropped_in_progress(&report);
    assert_eq!(steps, vec![(4, 1, 1), (2, 0, 1), (1, 0, 0)]);
    assert_eq!(
        report.steps[2].median_time_to_convert,
        Some(TimeDelta::days(2))
    );
    assert!((report.steps[1].conversion_from_first - 0.5).abs() < 1e-12);

    // A lookback ends exactly now: the same customers are still in progress, not dropped.
    let mut lookback = FunnelRequest::new(ws());
    lookback.range = RangeSpec::last(Lookback::Days(30));
    let report = f.reports.funnel(&f.admin, &lookback).await.unwrap();
    let steps = reached_dropped_in_progress(&report);
    assert_eq!(steps, vec![(4, 1, 1), (2, 0, 1), (1, 0, 0)]);
}

/// Each step's (reached, dropped, in progress).
fn reached_dropped_in_progress(report: &FunnelReport) -> Vec<(u64, u64, u64)> {
    report
        .steps
        .iter()
        .map(|s| (s.reached, s.dropped, s.in_progress))
        .collect()
}

/// A period that reaches past today ("This month" on the 20th) has its 7-day sparkline end
/// today, in the report and in its CSV, not on days still to come.
#[tokio::test]
async fn a_sparkline_of_a_period_reaching_past_today_ends_today() {
    let f = fixture_at("2026-11-20T12:00:00Z", ReportZone::utc());
    f.store
        .upsert_customers(&ws(), &[Customer::new(CustomerId(1), "Ada", "Lovelace")])
        .await
        .unwrap();
    let opens: Vec<Event> = (0..5)
        .map(|day| {
            let at = Timestamp::from_micros(
                ts("2026-11-20T09:00:00Z").as_micros() - day * 86_400_000_000,
            );
            event(&format!("o{day}"), 1, names::LINK_OPENED, at)
        })
        .collect();
    f.append(&opens).await;
    let mut request = ActivityRequest::new(ws());
    request.range = RangeSpec::preset(CalendarPreset::ThisMonth);
    let report = f.reports.activity(&f.admin, &request).await.unwrap();
    let sparkline = &report.rows[0].sparkline;
    assert_eq!(
        sparkline.first_day,
        NaiveDate::from_ymd_opt(2026, 11, 14).unwrap()
    );
    assert_eq!(sparkline.counts, [0, 0, 1, 1, 1, 1, 1]);
    assert_eq!(sparkline.latest(), 1, "today's link open");
    let csv = report.write_csv(Vec::new(), CsvOptions::default()).unwrap();
    let header = String::from_utf8(csv).unwrap();
    let header = header.lines().next().unwrap().to_owned();
    assert!(
        header.contains("\"2026-11-14\"") && header.contains("\"2026-11-20\",\"latest_day\""),
        "{header}"
    );
}

/// Where the clocks fell back across midnight (St John's, 2006-10-29: 00:01 NDT became 23:01
/// NST), the hour lived again after the new date's midnight is that date's: "Today" holds
/// the present and an open ten minutes ago is in today's views and sparkline day (both
/// missed it while the date was read off the wall clock, which still showed the 28th).
#[tokio::test]
async fn today_holds_the_hour_lived_again_after_midnight() {
    let zone = ReportZone::parse("America/St_Johns").unwrap();
    let f = fixture_at("2006-10-29T03:00:00Z", zone); // 23:30 NST, the wall clock's 28th
    f.store
        .upsert_customers(&ws(), &[Customer::new(CustomerId(1), "Ada", "Lovelace")])
        .await
        .unwrap();
    let open = event("o1", 1, names::LINK_OPENED, ts("2006-10-29T02:50:00Z"));
    f.append(&[open]).await;
    let mut request = ActivityRequest::new(ws());
    request.range = RangeSpec::preset(CalendarPreset::Today);
    let report = f.reports.activity(&f.admin, &request).await.unwrap();
    let window = report.period.window;
    assert_eq!(
        (window.from, window.to),
        (ts("2006-10-29T02:30:00Z"), ts("2006-10-30T03:30:00Z")),
        "today is the 29th, 25 hours long"
    );
    let row = &report.rows[0];
    assert_eq!(row.counters.views, 1, "today's views");
    assert_eq!(
        row.sparkline.first_day,
        NaiveDate::from_ymd_opt(2006, 10, 23).unwrap()
    );
    assert_eq!(row.sparkline.latest(), 1, "the sparkline's latest day");
}

/// A text to match that holds a control character (none stored has one) is refused with an
/// error naming its field, before the store is asked: PostgreSQL refused a NUL as an encoding
/// error of an unnamed parameter where the other stores matched nothing.
#[tokio::test]
async fn texts_to_match_with_control_characters_are_refused_by_field() {
    let f = fixture_at("2026-11-20T12:00:00Z", ReportZone::utc());
    let refused = |result: Result<(), Error>, field: &str| match result {
        Err(Error::InvalidQuery { field: f, .. }) => assert_eq!(f, field),
        other => panic!("{field}: {other:?}"),
    };
    let log = EventLogRequest::new(ws());
    for (request, field) in [
        (log.clone().with_names(["Page\0Viewed"]), "name"),
        (log.clone().with_path("/p\0"), "path"),
        (log.clone().with_domain("shop\t.test"), "domain"),
        (log.clone().with_referrer("\u{7f}"), "referrer"),
    ] {
        refused(
            f.reports.event_log(&f.admin, &request).await.map(drop),
            field,
        );
        refused(
            f.reports.export_event_log(&f.admin, &request).map(drop),
            field,
        );
    }
    let funnel = FunnelRequest::new(ws()).with_steps(["Page Viewed", "a\0b"]);
    refused(f.reports.funnel(&f.admin, &funnel).await.map(drop), "steps");
    let search = ActivityRequest::new(ws()).with_search("smith\0");
    refused(
        f.reports.activity(&f.admin, &search).await.map(drop),
        "search",
    );
    // A cursor no event can have: refused on every store alike (PostgreSQL refused the NUL
    // itself, with an encoding error).
    let cursor = log.clone().with_after(EventKey {
        at: ts("2026-11-20T11:00:00Z"),
        id: EventId::from("e\0"),
    });
    refused(
        f.reports.event_log(&f.admin, &cursor).await.map(drop),
        "after",
    );
    assert!(matches!(
        f.reports
            .event_detail(&f.admin, &ws(), &EventId::from("e\0"))
            .await,
        Err(Error::NotFound { what: "event", .. })
    ));
}

/// A name a host maps to views and to another milestone counts as a view (the first in
/// declaration order), so its events stay out of the detail's recent milestones: 20 link
/// opens mapped to orders as well pushed the one real order out of the list.
#[tokio::test]
async fn recent_milestones_hold_no_event_that_counts_as_a_view() {
    let f = fixture_at("2026-11-20T12:00:00Z", ReportZone::utc());
    f.customers(&[Customer::new(CustomerId(1), "Ada", "Lovelace")])
        .await;
    let now = ts("2026-11-20T12:00:00Z");
    let at = |s: i64| Timestamp::from_micros(now.as_micros() - s * 1_000_000);
    let mut events = vec![event("o1", 1, names::ORDER_SUBMITTED, at(3600))];
    events.extend((0..25).map(|i| event(&format!("v{i}"), 1, names::LINK_OPENED, at(i + 1))));
    f.append(&events).await;
    let milestones = Milestones {
        orders: vec![names::ORDER_SUBMITTED.into(), names::LINK_OPENED.into()],
        ..Milestones::default()
    };
    let reports = Reports::new(f.store.clone())
        .with_clock(Arc::new(FixedClock::new(now)))
        .with_milestones(milestones);
    let detail = reports
        .customer_detail(&f.admin, &ws(), CustomerId(1))
        .await
        .unwrap();
    assert_eq!((detail.cards.views, detail.cards.orders), (25, 1));
    let listed: Vec<(Milestone, &str)> = detail
        .recent_milestones
        .iter()
        .map(|m| (m.milestone, m.name.as_str()))
        .collect();
    assert_eq!(listed, [(Milestone::Orders, names::ORDER_SUBMITTED)]);
}

/// Pages of the event log end with the last event: a full last page has no next cursor.
#[tokio::test]
async fn a_full_last_page_of_the_event_log_has_no_next_page() {
    let f = fixture_at("2026-11-20T12:00:00Z", ReportZone::utc());
    f.store
        .append(&ws(), &burst(1, 4, ts("2026-11-20T11:00:00Z")))
        .await
        .unwrap();
    let mut request = EventLogRequest::new(ws());
    request.page_size = 2;
    let first = f.reports.event_log(&f.admin, &request).await.unwrap();
    assert_eq!((first.entries.len(), first.total), (2, 4));
    assert!(first.next.is_some(), "two more events follow");
    request.after = first.next;
    let last = f.reports.event_log(&f.admin, &request).await.unwrap();
    assert_eq!(last.entries.len(), 2);
    assert_eq!(last.next, None, "nothing follows the fourth event");
}

/// Paging through the default range (ending "now") while events keep arriving: each page's
/// `next_request` keeps the first page's window, so every page reports the first page's total
/// and the pages hold exactly its events, the arrivals after it on none.
#[tokio::test]
async fn the_pages_of_a_range_ending_now_keep_the_first_pages_window() {
    let start = ts("2026-11-20T12:00:00Z");
    let clock = Arc::new(FixedClock::new(start));
    let store = Arc::new(ReferenceStore::default());
    let reports = Reports::new(store.clone()).with_clock(clock.clone());
    let manager = Viewer::new(ws(), Role::Manager);
    store.append(&ws(), &burst(1, 100, start)).await.unwrap();
    let mut request = EventLogRequest::new(ws()).with_page_size(30);
    let (mut seen, mut totals) = (Vec::new(), Vec::new());
    for second in 1.. {
        let page = reports.event_log(&manager, &request).await.unwrap();
        seen.extend(page.entries.iter().map(|e| e.event.id.to_string()));
        totals.push(page.total);
        // Time moves on, and an event arrives.
        let now = start.checked_add(TimeDelta::seconds(second)).unwrap();
        clock.set(now);
        let arrival = event(&format!("new-{second}"), 2, names::PAGE_VIEWED, now);
        store.append(&ws(), &[arrival]).await.unwrap();
        match page.next_request() {
            Some(next) => request = next,
            None => break,
        }
    }
    assert_eq!(totals, [100, 100, 100, 100]);
    assert_eq!(seen.len(), 100);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 100, "no event twice");
    assert!(seen.iter().all(|id| !id.starts_with("new-")));
}

/// A ranking and its records are one snapshot: an account flagged an admin placeholder right
/// after a report read the ranking is ranked in that report, with its record as it was, and
/// left out of the next one; no report shows a placeholder's record.
#[tokio::test]
async fn an_account_flagged_while_a_report_runs_shows_in_all_of_it_or_in_none() {
    let now = ts("2026-11-20T12:00:00Z");
    let store = Arc::new(support::Faulty {
        flagging_rankings: std::sync::atomic::AtomicU32::new(3),
        ..support::Faulty::default()
    });
    let events: Vec<Event> = [(1, 3), (2, 2), (3, 1), (4, 1)]
        .into_iter()
        .flat_map(|(customer, n)| burst(customer, n, now))
        .collect();
    store.append(&ws(), &events).await.unwrap();
    let records: Vec<Customer> = (1..=4)
        .map(|c| Customer::new(CustomerId(c), "Customer", c.to_string()))
        .collect();
    store.upsert_customers(&ws(), &records).await.unwrap();
    let reports = Reports::new(store).with_clock(Arc::new(FixedClock::new(now)));
    // Each report flags its first customer after reading: 1, then 2, then 3.
    for (report, ranked) in [vec![1, 2, 3, 4], vec![2, 3, 4], vec![3, 4]]
        .into_iter()
        .enumerate()
    {
        let shown = reports
            .engagement(
                &Viewer::new(ws(), Role::Manager),
                &EngagementRequest::new(ws()),
            )
            .await
            .unwrap();
        let rows: Vec<(u64, i64, String)> = shown
            .rows
            .iter()
            .map(|r| {
                let name = r.customer.as_ref().map(Customer::full_name);
                (r.rank, r.customer_id.0, name.unwrap_or_default())
            })
            .collect();
        let want: Vec<(u64, i64, String)> = ranked
            .iter()
            .zip(1..)
            .map(|(&c, rank)| (rank, c, format!("Customer {c}")))
            .collect();
        assert_eq!(rows, want, "report {}", report + 1);
    }
}

/// On the last representable date the 7-day sparkline and the 14-day trend keep their length
/// (chrono's `iter_days` never yields that date, which cost them their last day).
#[tokio::test]
async fn series_keep_their_length_on_the_last_representable_date() {
    let now = ts("+262142-12-31T12:00:00Z");
    let f = fixture_at("+262142-12-31T12:00:00Z", ReportZone::utc());
    f.customers(&[Customer::new(CustomerId(1), "Ada", "Lovelace")])
        .await;
    f.append(&[event("e", 1, names::LINK_OPENED, now)]).await;
    let admin = Viewer::new(ws(), Role::Administrator);
    let request = ActivityRequest::new(ws()).with_range(RangeSpec::preset(CalendarPreset::Today));
    let page = f.reports.activity(&admin, &request).await.unwrap();
    let sparkline = &page.rows[0].sparkline;
    assert_eq!(sparkline.counts, vec![0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(sparkline.days().last(), Some((chrono::NaiveDate::MAX, 1)));
    let detail = f
        .reports
        .customer_detail(&admin, &ws(), CustomerId(1))
        .await
        .unwrap();
    assert_eq!(detail.trend.counts.len(), 14);
    assert_eq!(detail.trend.counts.last(), Some(&1));
}

/// The detail panel's record, cards, trend and milestones, and an activity row's counters and
/// sparkline, come from one state: a writer landing before every read (a link open and an order
/// each time) shows in all of them or in none. (Read one by one, the cards counted 2 opens, the
/// trend 3 and the milestones 4; a row counted 2 opens beside a sparkline of 3.)
#[tokio::test]
async fn the_activity_reports_agree_with_themselves_beside_a_busy_writer() {
    let now = ts("2026-11-20T12:00:00Z");
    let store = Arc::new(support::Faulty {
        busy_customer: Some((ws(), CustomerId(5), ts("2026-11-20T11:00:00Z"))),
        ..support::Faulty::default()
    });
    store
        .upsert_customers(&ws(), &[Customer::new(CustomerId(5), "Ada", "Lovelace")])
        .await
        .unwrap();
    let reports = Reports::new(store).with_clock(Arc::new(FixedClock::new(now)));
    let admin = Viewer::new(ws(), Role::Administrator);
    for reads in [1, 3, 5] {
        let detail = reports
            .customer_detail(&admin, &ws(), CustomerId(5))
            .await
            .unwrap();
        let parts = (
            detail.cards.views,
            detail.cards.orders,
            detail.trend.latest(),
            detail.recent_milestones.len() as u64,
        );
        assert_eq!(
            parts,
            (reads, reads, reads, reads),
            "detail after {reads} writes"
        );
        let page = reports
            .activity(&admin, &ActivityRequest::new(ws()))
            .await
            .unwrap();
        let row = &page.rows[0];
        let parts = (
            row.counters.views,
            row.sparkline.latest(),
            page.summary.views,
        );
        assert_eq!(
            parts,
            (reads + 1, reads + 1, reads + 1),
            "activity row after {} writes",
            reads + 1
        );
    }
}
