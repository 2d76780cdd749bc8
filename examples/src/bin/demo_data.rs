//! Generates a realistic demo workspace into any store, with a progress bar: customers (a few
//! admin placeholders among them), thirty days of events with a daily rhythm, order-portal
//! milestones, Page Viewed → Registered → Subscribed journeys, staff actions, and a launch spike
//! in the last hour.
//!
//! Run with: cargo run -p engagement-examples --bin demo-data
//!
//! Options: `--store URL` (default `sqlite://engagement-demo.db`; also `postgres://…`,
//! `mysql://…`), `--workspace NAME` (default `demo`), `--customers N`, `--daily-events N`.
//! Events are stamped relative to now; into a workspace that has events already, a load adds
//! only those after its newest one, so a rerun carries the demo on without doubling it.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use engagement_core::{Clock, EventStore, SystemClock, WorkspaceId};
use engagement_examples::demo_data::{self, DemoSize};
use engagement_examples::store_url::{self, DEFAULT_STORE};
use engagement_examples::terminal::{Failure, command_line, exit_code};
use indicatif::{ProgressBar, ProgressStyle};

/// Generates a realistic demo workspace into any store.
#[derive(Debug, Parser)]
#[command(name = "demo-data", version)]
struct Args {
    /// The store: sqlite://FILE, postgres://…, mysql://… (or `memory`, which is discarded).
    #[arg(long, default_value = DEFAULT_STORE)]
    store: String,
    /// The workspace (tenant) to fill; one with events gets only the demo events after its
    /// newest one.
    #[arg(long, default_value = "demo")]
    workspace: String,
    /// Customers in the directory, 1 to 100,000 (every 97th is an admin placeholder).
    #[arg(long, default_value_t = DemoSize::default().customers,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    customers: u32,
    /// Browsing events per customer per day, on average, 1 to 100.
    #[arg(long, default_value_t = DemoSize::default().daily_events,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    daily_events: u32,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match command_line(Args::try_parse(), "demo-data") {
        Ok(args) => args,
        Err(code) => return code,
    };
    exit_code(run(args).await)
}

async fn run(args: Args) -> Result<(), Failure> {
    let workspace = WorkspaceId::new(args.workspace.as_str())?;
    store_url::with_store(&args.store, async |store| {
        fill(store.as_ref(), &workspace, &args).await
    })
    .await
}

/// Loads the demo data `args` ask for into `workspace` of `store`, showing a progress bar.
async fn fill(store: &dyn EventStore, workspace: &WorkspaceId, args: &Args) -> Result<(), Failure> {
    let size = DemoSize {
        customers: args.customers,
        daily_events: args.daily_events,
    };
    let bar = ProgressBar::new(0).with_style(ProgressStyle::with_template(
        "{spinner} {msg} [{bar:40}] {pos}/{len} events ({eta} left)",
    )?);
    bar.set_message(format!("Writing to {}", args.store));
    bar.enable_steady_tick(Duration::from_millis(120));
    let now = SystemClock.now();
    let mut customers = 0;
    let inserted = demo_data::load_with_progress(store, workspace, size, now, |p| {
        bar.set_length(p.total);
        bar.set_position(p.done);
        customers = p.customers;
    })
    .await?;
    bar.finish_and_clear();
    eprintln!(
        "Loaded {inserted} new events and {customers} new customers into workspace {:?} of {}.",
        workspace.as_str(),
        args.store
    );
    if let Some(note) = store_url::discarded_note(&args.store) {
        eprintln!("{note}");
    }
    Ok(())
}
