//! Q1–Q7 of the shared benchmark, through the public report API.

use std::error::Error;
use std::path::Path;

use chrono::{NaiveDate, TimeDelta};
use engagement_core::csv::{CsvOptions, export_to_path};
use engagement_core::report::{
    ActivityRequest, EngagementRequest, EventLogRequest, FunnelRequest, Reports,
};
use engagement_core::{
    BucketCountsQuery, CustomerStatus, FunnelQuery, Lookback, Milestones, RangeSpec, TimeWindow,
    Timestamp, Viewer, names,
};
use serde_json::{Value, json};

use crate::dataset::numeric_id;

/// The benchmark's "now": 2026-11-20T00:00:00Z.
pub const NOW_MICROS: i64 = 1_795_132_800_000_000;

/// Microseconds in a day.
const DAY_MICROS: i64 = 86_400_000_000;

/// The benchmark's fixed instant.
pub fn now() -> Timestamp {
    Timestamp::from_micros(NOW_MICROS)
}

fn date(month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, month, day).unwrap_or_default()
}

/// Inclusive UTC dates ending 2026-11-19 (the day before "now").
fn days_before_now(first: NaiveDate) -> RangeSpec {
    RangeSpec::Custom {
        from: Some(first),
        to: Some(date(11, 19)),
    }
}

/// Result of a workload run: its answer in the peers' JSON shape.
pub type Answer = Result<Value, Box<dyn Error + Send + Sync>>;

/// Q1 (24 h) and Q2 (28 days): the engagement ranking as `[[customer_id, score], …]`.
///
/// # Errors
/// The report's error: the viewer refused or the store failed.
pub async fn ranking(reports: &Reports, viewer: &Viewer, days: u16) -> Answer {
    let range = if days == 1 {
        RangeSpec::last(Lookback::Hours24)
    } else {
        days_before_now(date(11, 20) - chrono::Days::new(u64::from(days)))
    };
    let request = EngagementRequest::new(viewer.workspace.clone()).with_range(range);
    let report = reports.engagement(viewer, &request).await?;
    Ok(json!(
        report
            .rows
            .iter()
            .map(|r| json!([r.customer_id.0, r.score]))
            .collect::<Vec<_>>()
    ))
}

/// Q3's request: active customers matching "an", 30 days, most views first, page 1 of 50.
pub fn activity_request(viewer: &Viewer) -> ActivityRequest {
    let mut request = ActivityRequest::new(viewer.workspace.clone());
    request.range = days_before_now(date(10, 21));
    request.search = Some("an".into());
    request.status = Some(CustomerStatus::Active);
    request.page_size = 50;
    request
}

/// Q3: the activity page (with its sparklines) as `{"page": …, "totals": …}`, and the page's ids.
///
/// # Errors
/// The report's error: the viewer refused or the store failed.
pub async fn activity(
    reports: &Reports,
    viewer: &Viewer,
) -> Result<(Value, Vec<i64>), Box<dyn Error + Send + Sync>> {
    let report = reports.activity(viewer, &activity_request(viewer)).await?;
    let iso = |t: Option<Timestamp>| t.map(|t| t.to_string());
    let page: Vec<Value> = report
        .rows
        .iter()
        .map(|r| {
            let c = &r.counters;
            json!([
                r.customer.id.0,
                c.views,
                c.confirmed,
                c.verified,
                c.checkout,
                c.orders,
                iso(c.last_click),
                iso(c.last_activity)
            ])
        })
        .collect();
    let s = report.summary;
    let totals = json!([
        report.total_rows,
        s.customers_with_views,
        s.views,
        s.verified,
        s.checkout,
        s.orders
    ]);
    let ids = report.rows.iter().map(|r| r.customer.id.0).collect();
    Ok((json!({ "page": page, "totals": totals }), ids))
}

/// Q4: daily Link Opened counts for 2026-11-13 … 2026-11-19 for Q3's customers, sparse, as
/// `[[customer_id, "YYYY-MM-DD", n], …]`.
///
/// # Errors
/// The report's error: the viewer refused or the store failed.
pub async fn sparklines(reports: &Reports, viewer: &Viewer, ids: &[i64]) -> Answer {
    let first = date(11, 13);
    let query = BucketCountsQuery {
        customers: ids
            .iter()
            .copied()
            .map(engagement_core::CustomerId)
            .collect(),
        names: Milestones::default().views,
        edges: reports.zone().day_edges(first, date(11, 19)),
    };
    let mut cells = reports
        .store()
        .bucket_counts(&viewer.workspace, &query)
        .await?;
    cells.sort_by_key(|c| (c.customer, c.bucket));
    Ok(json!(
        cells
            .iter()
            .map(|c| {
                let day = first + chrono::Days::new(c.bucket as u64);
                json!([c.customer.0, day.format("%Y-%m-%d").to_string(), c.count])
            })
            .collect::<Vec<_>>()
    ))
}

/// The store's share of Q7: only [`EventStore::funnel_input`](engagement_core::EventStore::funnel_input)
/// for Q7's window and steps (the report evaluates the journeys afterwards); the number of
/// journeys.
///
/// # Errors
/// The report's error: the viewer refused or the store failed.
pub async fn funnel_input(reports: &Reports, viewer: &Viewer) -> Answer {
    let request = funnel_request(viewer);
    let window = TimeWindow::new(
        Timestamp::from_micros(NOW_MICROS - 30 * DAY_MICROS),
        Timestamp::from_micros(NOW_MICROS),
    )?;
    let query = FunnelQuery {
        window,
        steps: request.steps,
        conversion_window: request.conversion_window,
        open_since: None,
    };
    let input = reports
        .store()
        .funnel_input(&viewer.workspace, &query)
        .await?;
    Ok(json!(input.journeys.len()))
}

/// Q5/Q6's request: Page Viewed (on `domain` when given) over the last 14 days.
pub fn page_views(viewer: &Viewer, domain: Option<&str>) -> EventLogRequest {
    let mut request =
        EventLogRequest::new(viewer.workspace.clone()).with_names([names::PAGE_VIEWED]);
    request.range = RangeSpec::last(Lookback::Days(14));
    request.domain = domain.map(str::to_owned);
    request
}

/// Q5: the first event-log page of 50 and the exact total as `{"page": [ids], "count": n}`.
///
/// # Errors
/// The report's error: the viewer refused or the store failed.
pub async fn log_page(reports: &Reports, viewer: &Viewer) -> Answer {
    let page = reports
        .event_log(viewer, &page_views(viewer, Some("shop.acme.test")))
        .await?;
    let ids: Vec<Option<u64>> = page
        .entries
        .iter()
        .map(|e| numeric_id(&e.event.id))
        .collect();
    Ok(json!({ "page": ids, "count": page.total }))
}

/// Q6: every Page Viewed of the last 14 days written as CSV to `path` through the library's
/// streamed export; the number of rows.
///
/// # Errors
/// The report's error: the viewer refused, the store failed, or (Q6) writing the file.
pub async fn export(
    reports: &Reports,
    viewer: &Viewer,
    path: &Path,
) -> Result<u64, Box<dyn Error + Send + Sync>> {
    let (_, events) = reports.export_event_log(viewer, &page_views(viewer, None))?;
    let no_metadata_columns: [&str; 0] = [];
    Ok(export_to_path(events, path, no_metadata_columns, CsvOptions::default()).await?)
}

/// Q7's request: Page Viewed → Registered → Subscribed over 30 days, 7 days to convert.
pub fn funnel_request(viewer: &Viewer) -> FunnelRequest {
    let mut request = FunnelRequest::new(viewer.workspace.clone());
    request.range = days_before_now(date(10, 21));
    request.conversion_window = TimeDelta::days(7);
    request
}

/// Q7: the funnel report as `[step1, step2, step3]`.
///
/// # Errors
/// The report's error: the viewer refused or the store failed.
pub async fn funnel(reports: &Reports, viewer: &Viewer) -> Answer {
    let report = reports.funnel(viewer, &funnel_request(viewer)).await?;
    Ok(json!(
        report.steps.iter().map(|s| s.reached).collect::<Vec<_>>()
    ))
}
