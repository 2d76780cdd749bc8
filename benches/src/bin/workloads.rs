//! Runs the shared benchmark workloads (Q1–Q8 of `../shared/bench/README.md`) against one
//! backend and writes `results/engagement-NAME_LABEL.json` for `compare.py`.
//!
//! Run with: cargo run --release -p engagement-benches --bin workloads -- --data DIR --backend memory --size 1m
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use engagement_benches::dataset::{PipelinedReader, read_customers};
use engagement_benches::timing::{Timing, measure, peak_rss_mib, reset_peak_rss, rss_mib};
use engagement_benches::workloads::{self, now};
use engagement_core::report::Reports;
use engagement_core::{EventStore, FixedClock, Limits, Role, Viewer, WorkspaceId};
use engagement_memory::MemoryStore;
use engagement_sqlx::PostgresStore;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value, json};

type BoxResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// Command line of the workload runner.
#[derive(Debug, Parser)]
#[command(about = "Run the shared benchmark workloads against one engagement backend")]
struct Args {
    /// Folder holding customers.csv and events.csv (written by gen.py).
    #[arg(long)]
    data: PathBuf,
    /// Backend: memory, sqlite, postgres or mysql.
    #[arg(long)]
    backend: String,
    /// Database URL of a SQL backend (sqlite defaults to the file db/engagement-sqlite_SIZE.db,
    /// created afresh).
    #[arg(long)]
    db_url: Option<String>,
    /// Size label used in the results file name (e.g. 1m, 10m).
    #[arg(long)]
    size: String,
    /// Timed runs per workload after one warm-up.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Events per append batch while loading. The default is the most one append takes
    /// (`Limits::max_batch_events`): a SQL store's cost per event falls with the size of its
    /// transactions, as each commit writes the index pages it touched once (docs/scaling.md).
    #[arg(long, default_value_t = 100_000)]
    batch: usize,
    /// Appends in flight at once while loading: on a server database they use its cores
    /// together (PostgreSQL, 1M events: 1.67× with 2); on SQLite, whose writes take turns,
    /// the rate is the same.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..))]
    appends: u16,
    /// Run only these workloads (comma-separated, e.g. Q3,Q7) and write no results file:
    /// for profiling one path. Q8 (the load) runs unless `--skip-load`.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Reuse the SQL database an earlier run loaded (its `--db-url`, or the SQLite file of this
    /// size) instead of loading it again: for profiling, so it needs `--only` and writes no
    /// results file.
    #[arg(long, requires = "only")]
    skip_load: bool,
}

impl Args {
    /// Whether workload `q` is to run.
    fn wants(&self, q: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o.eq_ignore_ascii_case(q))
    }
}

#[tokio::main]
async fn main() -> BoxResult<()> {
    let args = Args::parse();
    let Backend {
        store,
        memory,
        postgres,
    } = open_backend(&args).await?;
    let workspace = WorkspaceId::new("bench")?;
    let mut timings = Map::new();
    let mut answers = Map::new();
    let mut extra = Map::new();

    let mut loaded_rows = 0;
    if !args.skip_load {
        let loaded = load(store.as_ref(), &workspace, &args.data, &args).await?;
        loaded_rows = loaded["rows"].as_u64().unwrap_or(0);
        timings.insert("Q8".into(), loaded);
        if let Some(postgres) = &postgres {
            // As the peer's `VACUUM ANALYZE` after its load, outside Q8: the store would do it
            // by itself a second after the load, beside the first queries timed.
            let start = Instant::now();
            postgres.refresh_statistics().await?;
            let secs = start.elapsed().as_secs_f64();
            println!("statistics refreshed (VACUUM ANALYZE) in {secs:.2} s");
            extra.insert("refresh_statistics_s".into(), json!(secs));
        }
    }
    let resident_bytes = memory.as_ref().map(MemoryStore::resident_bytes);
    extra.insert("rss_after_load_mib".into(), json!(rss_mib()));

    let clock = Arc::new(FixedClock::new(now()));
    let reports = Reports::new(store.clone()).with_clock(clock);
    let viewer = Viewer::new(workspace.clone(), Role::Administrator);
    let (reports, viewer) = (&reports, &viewer);
    let mut record = |q: &str, answer: Value, t: Timing| {
        println!(
            "  {q:4} median {:10.2} ms (min {:.2}, max {:.2}, n={})",
            t.median_ms, t.min_ms, t.max_ms, t.runs
        );
        timings.insert(q.into(), t.to_json());
        answers.insert(q.into(), answer);
    };

    if args.wants("Q1") {
        let (a, t) = measure(args.runs, || workloads::ranking(reports, viewer, 1)).await;
        record("Q1", a?, t);
    }
    if args.wants("Q2") {
        let (a, t) = measure(args.runs, || workloads::ranking(reports, viewer, 28)).await;
        record("Q2", a?, t);
    }
    if args.wants("Q3") || args.wants("Q4") {
        let (a, t) = measure(args.runs, || workloads::activity(reports, viewer)).await;
        let (q3, ids) = a?;
        record("Q3", q3, t);
        let (a, t) = measure(args.runs, || workloads::sparklines(reports, viewer, &ids)).await;
        record("Q4", a?, t);
    }
    if args.wants("Q5") {
        let (a, t) = measure(args.runs, || workloads::log_page(reports, viewer)).await;
        record("Q5", a?, t);
    }
    if args.wants("Q7") {
        let (a, t) = measure(args.runs, || workloads::funnel(reports, viewer)).await;
        record("Q7", a?, t);
        let (a, t) = measure(args.runs, || workloads::funnel_input(reports, viewer)).await;
        println!(
            "       funnel_input alone {:.2} ms (min {:.2})",
            t.median_ms, t.min_ms
        );
        extra.insert("Q7_funnel_input".into(), t.to_json());
        extra.insert("Q7_journeys".into(), a?);
    }
    if let Some(bytes) = resident_bytes {
        let per_event = bytes as f64 / loaded_rows.max(1) as f64;
        println!(
            "  resident {:.0} MiB = {per_event:.1} bytes/event",
            bytes as f64 / 1048576.0
        );
        extra.insert(
            "bytes_per_event".into(),
            json!((per_event * 10.0).round() / 10.0),
        );
        extra.insert("resident_mib".into(), json!(bytes as f64 / 1048576.0));
    }
    if !args.wants("Q6") {
        return Ok(());
    }
    std::fs::create_dir_all("out")?;
    let csv_path = PathBuf::from(format!(
        "out/engagement-{}_q6_{}.csv",
        args.backend, args.size
    ));
    let rss_before = rss_mib();
    // The export's own peak, not the load's: it must not grow with the number of rows.
    let peak_reset = reset_peak_rss();
    let (rows, t) = measure(args.runs.min(3), || {
        workloads::export(reports, viewer, &csv_path)
    })
    .await;
    let rows = rows?;
    let mut q6 = t.to_json();
    q6["rows"] = json!(rows);
    q6["rows_per_s"] = json!((rows as f64 / (t.median_ms / 1e3)).round());
    q6["file_bytes"] = json!(std::fs::metadata(&csv_path)?.len());
    q6["rss_before_mib"] = json!(rss_before);
    q6["peak_rss_mib"] = json!(peak_rss_mib());
    q6["peak_rss_is_the_exports"] = json!(peak_reset);
    println!(
        "  Q6 {rows} rows, {:.0} rows/s; resident before {:.0} MiB, peak during the export {:.0} MiB{}",
        rows as f64 / (t.median_ms / 1e3),
        rss_before.unwrap_or(f64::NAN),
        peak_rss_mib().unwrap_or(f64::NAN),
        if peak_reset {
            ""
        } else {
            " (process peak: could not reset it)"
        }
    );
    record("Q6", json!({ "rows": rows }), t);
    timings.insert("Q6".into(), q6);

    if !args.only.is_empty() {
        return Ok(());
    }
    let out = write_results(&args, timings, answers, extra)?;
    println!("wrote {}", out.display());
    Ok(())
}

/// The store to run on, and the same store by its type where the runner uses more of it.
struct Backend {
    store: Arc<dyn EventStore>,
    /// For its size.
    memory: Option<MemoryStore>,
    /// For its statistics after the load.
    postgres: Option<PostgresStore>,
}

async fn open_backend(args: &Args) -> BoxResult<Backend> {
    let url = match (args.backend.as_str(), &args.db_url) {
        ("memory", _) if args.skip_load => {
            return Err("--skip-load needs a SQL backend: a memory store starts empty".into());
        }
        ("memory", _) => {
            let store = MemoryStore::new();
            return Ok(Backend {
                store: Arc::new(store.clone()),
                memory: Some(store),
                postgres: None,
            });
        }
        ("sqlite", None) => {
            std::fs::create_dir_all("db")?;
            let file = format!("db/engagement-sqlite_{}.db", args.size);
            if !args.skip_load {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{file}{suffix}"));
                }
            }
            format!("sqlite://{file}")
        }
        ("sqlite" | "postgres" | "mysql", Some(url)) => url.clone(),
        (other, None) if other == "postgres" || other == "mysql" => {
            return Err(format!("--backend {other} needs --db-url").into());
        }
        (other, _) => {
            return Err(format!(
                "unknown backend {other:?}: use memory, sqlite, postgres or mysql"
            )
            .into());
        }
    };
    let postgres = if args.backend == "postgres" {
        let store = PostgresStore::connect(&url).await?;
        store.migrate().await?;
        Some(store)
    } else {
        None
    };
    let store = match &postgres {
        Some(store) => Arc::new(store.clone()),
        None => engagement_sqlx::connect(&url).await?,
    };
    Ok(Backend {
        store,
        memory: None,
        postgres,
    })
}

/// Q8: customers.csv, then events.csv into the store through validation and `append`; timed, as
/// every peer times its load, from the first byte of events.csv read to the last batch stored
/// (the customers, stored before, are timed apart).
async fn load(
    store: &dyn EventStore,
    workspace: &WorkspaceId,
    data: &Path,
    args: &Args,
) -> BoxResult<Value> {
    let customers_start = Instant::now();
    let customers = read_customers(&data.join("customers.csv")).map_err(|e| e.to_string())?;
    for chunk in customers.chunks(10_000) {
        store.upsert_customers(workspace, chunk).await?;
    }
    let customers_secs = customers_start.elapsed().as_secs_f64();
    let start = Instant::now();
    let events_path = data.join("events.csv");
    let bytes = std::fs::metadata(&events_path)?.len();
    let bar = ProgressBar::new(bytes).with_style(
        ProgressStyle::with_template("loading {bar:40} {percent:>3}% {msg} ({elapsed})")
            .map_err(|e| e.to_string())?,
    );
    // Parsing and validation (on the reader's thread) overlap with appending (here).
    let mut reader = PipelinedReader::open(&events_path, args.batch, Limits::default(), now())
        .map_err(|e| e.to_string())?;
    let (mut rows, mut inserted) = (0_u64, 0_u64);
    let mut appends = FuturesUnordered::new();
    let mut done = false;
    while !done || !appends.is_empty() {
        if !done && appends.len() < usize::from(args.appends) {
            let (events, position) = reader.next_batch().map_err(|e| e.to_string())?;
            if events.is_empty() {
                done = true;
            } else {
                appends.push(async move {
                    let outcome = store.append(workspace, &events).await;
                    (outcome, events, position)
                });
            }
            continue;
        }
        let Some((outcome, events, position)) = appends.next().await else {
            break;
        };
        rows += events.len() as u64;
        inserted += outcome?.inserted;
        reader.recycle(events);
        // Batches may end out of order.
        bar.set_position(bar.position().max(position));
        bar.set_message(format!("{rows} events"));
    }
    bar.finish();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "Q8 loaded {rows} events ({inserted} new) in {secs:.2} s = {:.0} events/s (and {} customers before, in {customers_secs:.2} s); peak RSS {:.0} MiB",
        rows as f64 / secs,
        customers.len(),
        peak_rss_mib().unwrap_or(f64::NAN)
    );
    Ok(json!({
        "median_ms": (secs * 1e3).round(),
        "runs": 1,
        "rows": rows,
        "rows_per_s": (rows as f64 / secs).round(),
        "customers_ms": (customers_secs * 1e3).round(),
    }))
}

fn write_results(
    args: &Args,
    timings: Map<String, Value>,
    answers: Map<String, Value>,
    extra: Map<String, Value>,
) -> BoxResult<PathBuf> {
    std::fs::create_dir_all("results")?;
    let path = PathBuf::from(format!(
        "results/engagement-{}_{}.json",
        args.backend, args.size
    ));
    let body = json!({ "timings": timings, "answers": answers, "extra": extra });
    std::fs::write(&path, serde_json::to_string_pretty(&body)?)?;
    Ok(path)
}
