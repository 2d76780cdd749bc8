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
//!
//! It exits with status 1 when a line was refused or kept out as a conflict, or the import
//! stopped early (after the summary, whether or not anyone reads it; the good lines are
//! stored), and on an error (`error: …`, as the other binaries).

use std::fmt::Display;
use std::fs::File;
use std::io::{BufReader, Read, Write, stdout};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, ValueEnum};
use engagement_core::enrich::{Enricher, MmdbResolver, RequestContext};
use engagement_core::import::{
    self, CsvLines, ImportLine, ImportOptions, ImportReport, LineError, NdjsonLines,
};
use engagement_core::{Clock, EventStore, SystemClock, WorkspaceId};
use engagement_examples::store_url::{self, DEFAULT_STORE};
use engagement_examples::terminal::{Failure, command_line, failure, is_broken_pipe};
use indicatif::{ProgressBar, ProgressStyle};

/// The formats the importer reads.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Ndjson,
}

impl Format {
    /// The format a file's extension names, in any case: `.ndjson` or `.jsonl` NDJSON,
    /// anything else CSV.
    fn of(file: &std::path::Path) -> Self {
        let extension = file.extension().and_then(|e| e.to_str());
        match extension.map(str::to_ascii_lowercase).as_deref() {
            Some("ndjson" | "jsonl") => Self::Ndjson,
            _ => Self::Csv,
        }
    }
}

/// Imports an event log (CSV or NDJSON) into an engagement store.
///
/// The input is a CSV file with a header row, or NDJSON (one JSON object per line); the file's
/// extension chooses (.ndjson or .jsonl: NDJSON, anything else: CSV) unless --format does.
/// Its columns (CSV) or keys (NDJSON) are those of the event-log CSV export:
///
///   required  event_id (or id), customer_id (or customer: a whole number), name,
///             occurred_at (RFC 3339, such as 2026-11-19T10:00:00Z)
///   optional  actor (customer, staff or system), url, path, domain, referrer, country,
///             region, city, zone, device (Desktop, Mobile or Tablet), ip,
///             metadata (a JSON object)
///   extra     user_agent: the device is derived from it where `device` is empty
///
/// The export's metadata.KEY columns must agree with its `metadata` column, which holds the
/// whole object and is what is stored (a row where one was edited is refused; without the
/// `metadata` column they are unknown columns). A column or key no event field takes
/// refuses the file (CSV) or its line (NDJSON), unless --ignore-unknown-keys. Events already
/// stored count as duplicates, so a rerun is safe.
///
/// Exit status: 0 when every line was stored or was already there; 1 when a line was refused,
/// or kept out as a conflict (its id is stored with other content, which is kept), or the
/// import stopped early (the good lines are stored all the same), or on an error.
#[derive(Debug, Parser)]
#[command(name = "import", version, verbatim_doc_comment)]
struct Args {
    /// The file to import.
    file: PathBuf,
    /// The store: sqlite://FILE, memory (discarded at exit), postgres://…, mysql://…
    #[arg(long, default_value = DEFAULT_STORE)]
    store: String,
    /// The workspace the events belong to (`demo` and `dashboard` add demo events after the
    /// newest one of the `demo` workspace when it has nothing from the last hour).
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

/// The refused lines, and the conflicts, the summary lists one by one.
const ERRORS_LISTED: usize = 20;

#[tokio::main]
async fn main() -> ExitCode {
    let args = match command_line(Args::try_parse(), "import") {
        Ok(args) => args,
        Err(code) => return code,
    };
    match run(args).await {
        Ok(report) => exit_code(&report),
        Err(e) => failure(&*e),
    }
}

/// Status 1 when the import did not take the whole file: a line was refused or kept out as a
/// conflict, or it stopped early.
fn exit_code(report: &ImportReport) -> ExitCode {
    if report.stopped || report.rejected > 0 || report.conflicts > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Imports the file as `args` say, prints the summary and hands back the report.
async fn run(args: Args) -> Result<ImportReport, Failure> {
    store_url::with_store(&args.store, async |store| {
        import_file(store.as_ref(), &args).await
    })
    .await
}

/// Imports the file into `store` as `args` say, prints the summary and hands back the report.
async fn import_file(store: &dyn EventStore, args: &Args) -> Result<ImportReport, Failure> {
    let workspace = WorkspaceId::new(args.workspace.as_str())?;
    let mut enricher = Enricher::new();
    if let Some(path) = &args.mmdb {
        enricher = enricher.with_geo(Arc::new(MmdbResolver::open(path)?));
    }
    let format = args.format.unwrap_or_else(|| Format::of(&args.file));

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
    let mut progress = |r: &ImportReport| {
        bar.set_message(format!("{} stored, {} refused", r.inserted, r.rejected));
    };
    let report = match format {
        Format::Csv => {
            let lines = CsvLines::new(source)
                .with_formula_guard(!args.no_formula_guard)
                .ignore_unknown_columns(args.ignore_unknown_keys)
                .map(enrich);
            import::import(store, &workspace, lines, &options, now, &mut progress).await?
        }
        Format::Ndjson => {
            let lines = NdjsonLines::new(source)
                .ignore_unknown_keys(args.ignore_unknown_keys)
                .map(enrich);
            import::import(store, &workspace, lines, &options, now, &mut progress).await?
        }
    };
    bar.finish();
    // The status says how the import went even when no one reads the summary (`| head -1`).
    if let Err(e) = print_summary(&report)
        && !is_broken_pipe(&e)
    {
        return Err(e.into());
    }
    if let Some(note) = store_url::discarded_note(&args.store) {
        eprintln!("{note}");
    }
    Ok(report)
}

/// The counts, the first refused lines, the error that ended the reading if the import
/// stopped after more than those (the report lists it last), and the first conflicts.
fn print_summary(report: &ImportReport) -> std::io::Result<()> {
    let mut out = stdout().lock();
    writeln!(
        out,
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
    )?;
    let listed = list(&mut out, &report.errors, report.rejected)?;
    if report.stopped
        && let Some(last) = report.errors[listed..].last()
    {
        writeln!(out, "  stopped at {last}")?;
    }
    list(&mut out, &report.conflicting, report.conflicts)?;
    Ok(())
}

/// Lists the first of `items` (at most [`ERRORS_LISTED`]) and how many of the `count` there
/// were are not listed; hands back how many it listed.
fn list(out: &mut impl Write, items: &[impl Display], count: u64) -> std::io::Result<usize> {
    let listed = items.len().min(ERRORS_LISTED);
    for item in &items[..listed] {
        writeln!(out, "  {item}")?;
    }
    let unlisted = count.saturating_sub(listed as u64);
    if unlisted > 0 {
        writeln!(out, "  … and {unlisted} more")?;
    }
    Ok(listed)
}
