//! The ingestion pipeline's throughput and freshness: events per second sustained through the
//! `Ingestor` at its default settings (batches of 1,000 or 250 ms), and the time from `send` to
//! the event being counted by an event-log page (p50, p99, max), on any store.
//!
//! Run with: cargo run --release -p engagement-examples --bin pipeline_bench -- --store memory
//!
//! `--store` takes `memory`, `sqlite://FILE` (a fresh file is best: `sqlite:///tmp/pipe.db`) or
//! `postgres://…`; `--events N` (all senders together), `--senders N`, `--rate EVENTS_PER_S`
//! (offered load; without it the senders go as fast as the bounded queue lets them, and the
//! latency measured is that of a full queue). While the senders run, a
//! probe sends one event at a time for a customer of its own into the same workspace, waits for
//! the ingestor's freshness watermark to pass it, and then queries the event log, filtered to
//! that customer, until the exact total counts it: that wait is one send-to-visible sample
//! (`--probe query` skips the watermark and polls the query every millisecond, as earlier
//! versions did). The figures are printed as one JSON line at the end.
//!
//! `--batch N` makes the senders hand over `N` events per `send_many` call instead of one
//! `send` per event; `--appends N` sets `IngestConfig::max_concurrent_appends` and `--joined N`
//! `IngestConfig::max_joined_batch`. `--raw` skips the `Ingestor`: the senders call the store's
//! `append` directly with batches of 1,000, which measures the store's own append rate (the
//! ceiling of any pipeline in front of it).
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use engagement_core::ingest::{IngestConfig, Ingestor};
use engagement_core::{
    Clock, CustomerId, Device, Event, EventFilter, EventPageQuery, EventStore, SystemClock,
    TimeWindow, WorkspaceId, names,
};

/// Measure the ingestion pipeline.
#[derive(Debug, Parser)]
struct Args {
    /// The store: `memory`, `sqlite://FILE` or `postgres://…`.
    #[arg(long, default_value = "memory")]
    store: String,
    /// Events to send, all senders together.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Concurrent sending tasks.
    #[arg(long, default_value_t = 4)]
    senders: u64,
    /// Offered load in events per second, all senders together (default: as fast as the
    /// queue takes them, which measures a saturated pipeline whose latency is the queue's).
    #[arg(long)]
    rate: Option<f64>,
    /// The workspace written to (a fresh name per run avoids counting old events).
    #[arg(long)]
    workspace: Option<String>,
    /// Events per `send_many` call (1: one `send` per event).
    #[arg(long, default_value_t = 1)]
    batch: u64,
    /// Batches appended at once (default: `IngestConfig`'s).
    #[arg(long)]
    appends: Option<usize>,
    /// Events one append takes at most when waiting batches join (default: `IngestConfig`'s).
    #[arg(long)]
    joined: Option<usize>,
    /// Append batches of 1,000 straight to the store, without the `Ingestor`.
    #[arg(long)]
    raw: bool,
    /// How the probe waits for its event to be visible.
    #[arg(long, value_enum, default_value_t = ProbeBy::Watermark)]
    probe: ProbeBy,
}

const PROBE: CustomerId = CustomerId(-1);

fn event(id: String, customer: i64, clock: &SystemClock) -> Event {
    let mut e = Event::new(id, CustomerId(customer), names::PAGE_VIEWED, clock.now());
    e.page.path = "/articles/rust".into();
    e.page.domain = "shop.acme.test".into();
    e.page.url = "https://shop.acme.test/articles/rust".into();
    e.device = Some(Device::Mobile);
    e.geo.country = "SE".into();
    e
}

/// How the probe learns that its event is visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ProbeBy {
    /// Wait (cheaply) for the ingestor's freshness watermark to pass the send, then confirm
    /// with the event-log query (normally once).
    Watermark,
    /// Repeat the event-log query every millisecond until it counts the event. On a saturated
    /// pipeline this polls hundreds of times per sample and takes CPU from the pipeline.
    Query,
}

/// Sends probes one at a time until `stop`, returning each one's send-to-visible time.
async fn probe(
    ingestor: Arc<Ingestor>,
    store: Arc<dyn EventStore>,
    workspace: WorkspaceId,
    stop: Arc<AtomicBool>,
    by: ProbeBy,
) -> Vec<Duration> {
    let freshness = ingestor.freshness();
    let mut filter = EventFilter::new(TimeWindow::ALL);
    filter.customers = Some(vec![PROBE]);
    let query = EventPageQuery {
        filter,
        after: None,
        limit: 1,
    };
    let mut samples = Vec::new();
    let mut sent = 0;
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let probe = event(format!("probe-{sent}"), PROBE.0, &SystemClock);
        if ingestor.send(&workspace, probe).await.is_err() {
            break;
        }
        sent += 1;
        let sent_at = SystemClock.now();
        while by == ProbeBy::Watermark && freshness.complete_up_to() <= sent_at {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        loop {
            match store.event_page(&workspace, &query).await {
                Ok(page) if page.total >= sent => break,
                Ok(_) => tokio::time::sleep(Duration::from_millis(1)).await,
                Err(e) => {
                    eprintln!("probe query failed: {e}");
                    return samples;
                }
            }
        }
        samples.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    samples
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e3
}

/// Events per `append` call in `--raw` mode: the ingestor's default batch size.
const RAW_BATCH: u64 = 1_000;

/// Where the senders deliver their events.
#[derive(Clone)]
enum Sink {
    /// Through the ingestor, `send` per event (batch 1) or `send_many` per batch.
    Ingestor(Arc<Ingestor>, u64),
    /// Straight to the store's `append`.
    Store(Arc<dyn EventStore>),
}

impl Sink {
    fn chunk(&self) -> u64 {
        match self {
            Self::Ingestor(_, batch) => (*batch).max(1),
            Self::Store(_) => RAW_BATCH,
        }
    }

    async fn deliver(
        &self,
        workspace: &WorkspaceId,
        events: Vec<Event>,
    ) -> engagement_core::Result<()> {
        match self {
            Self::Ingestor(ingestor, 1) => {
                for event in events {
                    ingestor.send(workspace, event).await?;
                }
                Ok(())
            }
            Self::Ingestor(ingestor, _) => ingestor.send_many(workspace, events).await,
            Self::Store(store) => store.append(workspace, &events).await.map(drop),
        }
    }
}

/// One sender: `count` events, in chunks of the sink's size, paced to `interval` per event
/// when given.
async fn sender(
    sink: Sink,
    workspace: WorkspaceId,
    sender: u64,
    count: u64,
    interval: Option<Duration>,
    started: Instant,
) -> engagement_core::Result<()> {
    let chunk = sink.chunk();
    let mut next_pause = 0;
    let mut i = 0;
    while i < count {
        if let Some(interval) = interval
            && i >= next_pause
        {
            tokio::time::sleep_until((started + interval.mul_f64(i as f64)).into()).await;
            next_pause = i + 100;
        }
        let n = chunk.min(count - i);
        if chunk == 1
            && let Sink::Ingestor(ingestor, _) = &sink
        {
            let e = event(format!("{sender}-{i}"), (i % 50_000) as i64, &SystemClock);
            ingestor.send(&workspace, e).await?;
        } else {
            let events = (i..i + n)
                .map(|i| event(format!("{sender}-{i}"), (i % 50_000) as i64, &SystemClock))
                .collect();
            sink.deliver(&workspace, events).await?;
        }
        i += n;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let store: Arc<dyn EventStore> = if args.store == "memory" {
        Arc::new(engagement_memory::MemoryStore::new())
    } else {
        engagement_sqlx::connect(&args.store).await?
    };
    let clock = Arc::new(SystemClock);
    let workspace = WorkspaceId::new(
        args.workspace
            .clone()
            .unwrap_or_else(|| format!("pipe-{}", clock.now().as_micros())),
    )?;
    let mut config = IngestConfig::default();
    if let Some(appends) = args.appends {
        config.max_concurrent_appends = appends;
    }
    if let Some(joined) = args.joined {
        config.max_joined_batch = joined;
    }
    let ingestor = Arc::new(Ingestor::start(
        store.clone(),
        clock.clone(),
        config.clone(),
    )?);
    let stop = Arc::new(AtomicBool::new(false));
    let prober = (!args.raw).then(|| {
        tokio::spawn(probe(
            ingestor.clone(),
            store.clone(),
            workspace.clone(),
            stop.clone(),
            args.probe,
        ))
    });
    let sink = if args.raw {
        Sink::Store(store.clone())
    } else {
        Sink::Ingestor(ingestor.clone(), args.batch)
    };

    let started = Instant::now();
    let senders_n = args.senders.max(1);
    let per_sender = args.events / senders_n;
    let interval = args
        .rate
        .map(|rate| Duration::from_secs_f64(senders_n as f64 / rate));
    let senders: Vec<_> = (0..senders_n)
        .map(|s| {
            tokio::spawn(sender(
                sink.clone(),
                workspace.clone(),
                s,
                per_sender,
                interval,
                started,
            ))
        })
        .collect();
    for sender in senders {
        sender.await??;
    }
    let sent_in = started.elapsed();
    ingestor.flush().await?;
    let stored_in = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut samples = match prober {
        Some(prober) => prober.await?,
        None => Vec::new(),
    };
    drop(sink);
    let stats = ingestor.shutdown().await;
    store.close().await;
    samples.sort();

    let total = per_sender * senders_n;
    let line = serde_json::json!({
        "store": args.store.split("://").next(),
        "mode": if args.raw { "raw append" } else { "ingestor" },
        "events": total,
        "senders": args.senders,
        "batch": if args.raw { RAW_BATCH } else { args.batch },
        "max_concurrent_appends": config.max_concurrent_appends,
        "max_joined_batch": config.max_joined_batch,
        "offered_rate": args.rate,
        "probe": if args.raw { None } else { Some(format!("{:?}", args.probe)) },
        "events_per_s_sent": (total as f64 / sent_in.as_secs_f64()).round(),
        "events_per_s_stored": (total as f64 / stored_in.as_secs_f64()).round(),
        "seconds": stored_in.as_secs_f64(),
        "batches": stats.batches,
        "max_appends_in_flight": stats.max_appends_in_flight,
        "mean_flush_ms": stats.total_flush_latency_us as f64 / stats.batches.max(1) as f64 / 1e3,
        "max_flush_ms": stats.max_flush_latency_us as f64 / 1e3,
        "failed": stats.failed,
        "probes": samples.len(),
        "send_to_visible_ms": {
            "p50": percentile(&samples, 50.0),
            "p99": percentile(&samples, 99.0),
            "max": samples.last().map(|d| d.as_secs_f64() * 1e3),
        },
    });
    println!("{line}");
    Ok(())
}
