//! Criterion benches of MemoryStore's hot paths at a small synthetic size (built in memory).
//!
//! `cargo bench -p engagement-benches --bench memory` measures; `-- --test` runs each once
//! (the CI smoke run). The size is `ENGAGEMENT_BENCH_EVENTS` events (default 200,000).
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use chrono::TimeDelta;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use engagement_benches::synthetic::Synthetic;
use engagement_benches::workloads::{NOW_MICROS, activity_request, page_views};
use engagement_core::csv::{CsvOptions, EventLogCsv};
use engagement_core::report::Reports;
use engagement_core::{
    ActivityQuery, BucketCountsQuery, CustomerFilter, EventFilter, EventPageQuery, EventStore,
    FixedClock, FunnelQuery, Milestones, Role, TimeWindow, Timestamp, TopCustomersQuery, Viewer,
    WorkspaceId,
};
use engagement_memory::MemoryStore;
use futures::StreamExt;
use futures::executor::block_on;

const DAY: i64 = 86_400_000_000;

fn days(n: i64) -> TimeWindow {
    TimeWindow::new(
        Timestamp::from_micros(NOW_MICROS - n * DAY),
        Timestamp::from_micros(NOW_MICROS),
    )
    .expect("a valid window")
}

struct Fixture {
    data: Synthetic,
    store: MemoryStore,
    ws: WorkspaceId,
}

fn fixture() -> Fixture {
    let events = std::env::var("ENGAGEMENT_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let data = Synthetic::new(events, (events / 10).max(100));
    let store = MemoryStore::new();
    let ws = WorkspaceId::new("bench").expect("a valid workspace");
    block_on(async {
        store.upsert_customers(&ws, &data.customers).await?;
        for batch in data.events.chunks(10_000) {
            store.append(&ws, batch).await?;
        }
        Ok::<_, engagement_core::Error>(())
    })
    .expect("the fixture loads");
    Fixture { data, store, ws }
}

fn queries(c: &mut Criterion) {
    let f = fixture();
    let (store, ws) = (&f.store, &f.ws);
    let n = f.data.events.len() as u64;

    let mut g = c.benchmark_group("memory");
    g.throughput(Throughput::Elements(n));
    g.bench_function("ranking_28d", |b| {
        let q = TopCustomersQuery {
            window: days(28),
            limit: 100,
        };
        b.iter(|| block_on(store.top_customers(ws, black_box(&q))))
    });
    g.bench_function("activity_page_30d", |b| {
        let q = ActivityQuery {
            window: days(30),
            customers: CustomerFilter {
                search: Some("an".into()),
                ..CustomerFilter::default()
            },
            milestones: Milestones::default(),
            sort: activity_request(&Viewer::new(ws.clone(), Role::Administrator)).sort,
            offset: 0,
            limit: 50,
            row_buckets: None,
            latest: None,
        };
        b.iter(|| block_on(store.activity_page(ws, black_box(&q))))
    });
    g.bench_function("bucket_counts_7d", |b| {
        let q = BucketCountsQuery {
            customers: f.data.customers.iter().take(50).map(|c| c.id).collect(),
            names: Milestones::default().views,
            edges: (0..=7)
                .map(|d| Timestamp::from_micros(NOW_MICROS - (7 - d) * DAY))
                .collect(),
        };
        b.iter(|| block_on(store.bucket_counts(ws, black_box(&q))))
    });
    g.bench_function("event_page_14d_domain", |b| {
        let mut filter = EventFilter::new(days(14));
        filter.names = Some(vec!["Page Viewed".into()]);
        filter.domain = Some("shop.acme.test".into());
        let q = EventPageQuery {
            filter,
            after: None,
            limit: 50,
        };
        b.iter(|| block_on(store.event_page(ws, black_box(&q))))
    });
    g.bench_function("funnel_input_30d", |b| {
        let q = FunnelQuery {
            window: days(30),
            steps: vec![
                "Page Viewed".into(),
                "Registered".into(),
                "Subscribed".into(),
            ],
            conversion_window: TimeDelta::days(7),
            open_since: Some(Timestamp::from_micros(NOW_MICROS - 7 * DAY)),
        };
        b.iter(|| block_on(store.funnel_input(ws, black_box(&q))))
    });
    g.bench_function("export_events_14d", |b| {
        let mut filter = EventFilter::new(days(14));
        filter.names = Some(vec!["Page Viewed".into()]);
        b.iter(|| {
            block_on(
                store
                    .export(ws.clone(), filter.clone())
                    .fold(0usize, |n, b| async move { n + b.map_or(0, |b| b.len()) }),
            )
        })
    });
    g.bench_function("export_csv_14d", |b| {
        let reports = Reports::new(Arc::new(store.clone())).with_clock(Arc::new(FixedClock::new(
            Timestamp::from_micros(NOW_MICROS),
        )));
        let viewer = Viewer::new(ws.clone(), Role::Administrator);
        b.iter(|| {
            let (_, mut batches) = reports
                .export_event_log(&viewer, &page_views(&viewer, None))
                .expect("export starts");
            block_on(async {
                let mut csv = EventLogCsv::new(std::io::sink(), CsvOptions::default())?;
                while let Some(batch) = batches.next().await {
                    csv.write_batch(&batch?)?;
                }
                Ok::<_, engagement_core::Error>(csv.rows())
            })
        })
    });
    g.finish();
}

fn append(c: &mut Criterion) {
    let data = Synthetic::new(100_000, 10_000);
    let ws = WorkspaceId::new("bench").expect("a valid workspace");
    let mut g = c.benchmark_group("memory");
    g.throughput(Throughput::Elements(data.events.len() as u64));
    g.sample_size(10);
    g.bench_function("append_10k_batches", |b| {
        b.iter_batched(
            MemoryStore::new,
            |store| {
                block_on(async {
                    for batch in data.events.chunks(10_000) {
                        store.append(&ws, batch).await?;
                    }
                    Ok::<_, engagement_core::Error>(store)
                })
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, queries, append);
criterion_main!(benches);
