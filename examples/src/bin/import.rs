//! Bulk import of an existing event log (CSV with a header row, or NDJSON) into a store, with a
//! progress bar, enrichment (device from a `user_agent` column, page domain/path from the URL,
//! geo from an optional `.mmdb` file) and a list of the lines that were refused.
//!
//! Run with: cargo run -p engagement-examples --bin import -- events.csv
//!
//! Options: `--store URL` (`memory`, `sqlite://FILE` — the default `sqlite://engagement-demo.db`,
//! `postgres://…`, `mysql://…`), `--workspace NAME`, `--format csv|ndjson` (default: from the
//! file's extension), `--mmdb GeoLite2-City.mmdb`, `--stop-on-error`, `--batch N` (default
//! 50,000), `--no-formula-guard` (for a CSV exported with the formula guard off),
//! `--ignore-unknown-keys` (read past NDJSON keys and CSV columns no event field takes,
//! instead of refusing their lines or the file).
//! The columns are those of the event-log CSV export (`event_id`, `customer_id`, `name`,
//! `occurred_at` required); the shared benchmark's `events.csv` imports as it is. Re-running an
//! import is safe: events already stored are counted as duplicates, not stored twice.
#![allow(clippy::print_stdout)]

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, ValueEnum};
use engagement_core::enrich::{Enricher, MmdbResolver, RequestContext};
use engagement_core::import::{self, CsvLines, ImportLine, ImportOptions, LineError, NdjsonLines};
use engagement_core::{Clock, EventStore, SystemClock, WorkspaceId};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Csv,
    Ndjson,
}

/// Import an event log into an engagement store.
#[derive(Debug, Parser)]
struct Args {
    /// The file to import.
    file: PathBuf,
    /// The store: `memory`, `sqlite://FILE`, `postgres://…` or `mysql://…`.
    #[arg(long, default_value = "sqlite://engagement-demo.db")]
    store: String,
    /// The workspace the events belong to.
    #[arg(long, default_value = "demo")]
    workspace: String,
    /// The file's format; by default from its extension (.ndjson/.jsonl, else CSV).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// A MaxMind-format City database to resolve country, region, city and zone from IPs.
    #[arg(long)]
    mmdb: Option<PathBuf>,
    /// Stop at the first bad line instead of listing it and going on.
    #[arg(long)]
    stop_on_error: bool,
    /// Events per append (1 to 100,000; see `ImportOptions::batch_size`).
    #[arg(long, default_value_t = 50_000)]
    batch: usize,
    /// Read CSV cells exactly as they are, for a file exported with the formula guard off (by
    /// default a guarded cell's leading `'` is removed, as the export added it).
    #[arg(long)]
    no_formula_guard: bool,
    /// Read past NDJSON keys and CSV header columns no event field takes (by default such an
    /// NDJSON line, or such a CSV file at its header, is refused, so that a misspelt key does
    /// not lose its values unseen).
    #[arg(long)]
    ignore_unknown_keys: bool,
}

/// Counts the bytes the reader hands out, for the progress bar.
struct Counting<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let store: Arc<dyn EventStore> = if args.store == "memory" {
        Arc::new(engagement_memory::MemoryStore::new())
    } else {
        engagement_sqlx::connect(&args.store).await?
    };
    let workspace = WorkspaceId::new(args.workspace.as_str())?;
    let mut enricher = Enricher::new();
    if let Some(path) = &args.mmdb {
        enricher = enricher.with_geo(Arc::new(MmdbResolver::open(path)?));
    }
    let format =
        args.format
            .unwrap_or_else(|| match args.file.extension().and_then(|e| e.to_str()) {
                Some("ndjson" | "jsonl") => Format::Ndjson,
                _ => Format::Csv,
            });

    let file =
        File::open(&args.file).map_err(|e| format!("cannot open {}: {e}", args.file.display()))?;
    let bar = ProgressBar::new(file.metadata()?.len()).with_style(ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
    )?);
    let source = BufReader::with_capacity(
        1 << 20,
        Counting {
            inner: file,
            bar: bar.clone(),
        },
    );
    let enrich = move |item: Result<ImportLine, LineError>| {
        item.map(|mut line| {
            let context = RequestContext {
                user_agent: line.user_agent.as_deref(),
                ..RequestContext::default()
            };
            enricher.enrich(&mut line.event, &context);
            line
        })
    };
    let options = ImportOptions {
        batch_size: args.batch,
        stop_on_error: args.stop_on_error,
        ..ImportOptions::default()
    };
    let now = SystemClock.now();
    let mut progress = |r: &import::ImportReport| {
        bar.set_message(format!("{} stored, {} refused", r.inserted, r.rejected));
    };
    let report = match format {
        Format::Csv => {
            let lines = CsvLines::new(source)
                .with_formula_guard(!args.no_formula_guard)
                .ignore_unknown_columns(args.ignore_unknown_keys)
                .map(enrich);
            import::import(
                store.as_ref(),
                &workspace,
                lines,
                &options,
                now,
                &mut progress,
            )
            .await?
        }
        Format::Ndjson => {
            let lines = NdjsonLines::new(source)
                .ignore_unknown_keys(args.ignore_unknown_keys)
                .map(enrich);
            import::import(
                store.as_ref(),
                &workspace,
                lines,
                &options,
                now,
                &mut progress,
            )
            .await?
        }
    };
    bar.finish();

    println!(
        "{} lines read: {} stored, {} already there, {} conflicting ids kept as they were, {} refused{}",
        report.lines,
        report.inserted,
        report.duplicates,
        report.conflicts,
        report.rejected,
        if report.stopped {
            " (stopped early)"
        } else {
            ""
        },
    );
    for error in report.errors.iter().take(20) {
        println!("  {error}");
    }
    if report.rejected > 20 {
        println!("  … and {} more", report.rejected - 20);
    }
    Ok(())
}
