//! The three reports and a funnel over a demo workspace, printed in the terminal.
//!
//! Run with: cargo run -p engagement-examples --bin demo
//!
//! The store is the embedded default, a SQLite file `engagement-demo.db` in the current folder;
//! `--store URL` names another (`memory`, `sqlite://FILE`, `postgres://…`, `mysql://…`):
//! `cargo run -p engagement-examples --bin demo -- --store postgres://postgres@127.0.0.1/postgres`.
//!
//! It loads demo data when the workspace has nothing from the last hour (customers, thirty days
//! of events, a launch spike in the last hour; into a workspace with events, only the demo
//! events after its newest one),
//! then prints the engagement ranking of the last 60 minutes, the customer activity page, the
//! newest events of the log and the Page Viewed → Registered → Subscribed funnel.

use std::io::{Write, stdout};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use engagement_core::report::{
    ActivityRequest, EngagementRequest, EventLogRequest, FunnelRequest, Reports,
};
use engagement_core::{
    Clock, EventStore, FixedClock, Lookback, RangeSpec, Role, SystemClock, Viewer, WorkspaceId,
};
use engagement_examples::demo_data::{self, DemoSize};
use engagement_examples::store_url::{self, DEFAULT_STORE};
use engagement_examples::terminal::{Failure, command_line, exit_code, sparkline};

/// Prints the engagement reports and a funnel over a demo workspace (loading demo data when it
/// has nothing from the last hour).
#[derive(Debug, Parser)]
#[command(name = "demo", version)]
struct Args {
    /// The store: sqlite://FILE, memory, postgres://…, mysql://…
    #[arg(long, default_value = DEFAULT_STORE)]
    store: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match command_line(Args::try_parse(), "demo") {
        Ok(args) => args,
        Err(code) => return code,
    };
    // `demo | head` closing the pipe ends it quietly: the reader has what it wanted.
    exit_code(run(args).await)
}

async fn run(args: Args) -> Result<(), Failure> {
    store_url::with_store(&args.store, async |store| show(store, &args.store).await).await
}

/// Fills the demo workspace of the store at `url` unless it holds recent demo data, and prints
/// the reports.
async fn show(store: Arc<dyn EventStore>, url: &str) -> Result<(), Failure> {
    let workspace = WorkspaceId::new("demo")?;
    let now = SystemClock.now();
    if demo_data::is_fresh(store.as_ref(), &workspace, now).await? {
        writeln!(stdout(), "Using the demo data already in {url}.\n")?;
    } else {
        let loaded = demo_data::load(store.as_ref(), &workspace, DemoSize::default(), now).await?;
        writeln!(stdout(), "Loaded {loaded} demo events into {url}.\n")?;
    }

    let reports = Reports::new(store).with_clock(Arc::new(FixedClock::new(now)));
    let admin = Viewer::new(workspace.clone(), Role::Administrator);

    let ranking = reports
        .engagement(
            &admin,
            &EngagementRequest::new(workspace.clone())
                .with_range(RangeSpec::last(Lookback::Minutes60)),
        )
        .await?;
    writeln!(
        stdout(),
        "Customer Engagement — last 60 min ({} to {})",
        ranking.period.window.from,
        ranking.period.window.to
    )?;
    writeln!(
        stdout(),
        "{:>4}  {:<28} {:>6}  band",
        "rank",
        "customer",
        "score"
    )?;
    for row in ranking.rows.iter().take(10) {
        let name = row
            .customer
            .as_ref()
            .map(|c| c.full_name())
            .unwrap_or_default();
        let flag = if row.investigate {
            "  ⚠ investigate"
        } else {
            ""
        };
        writeln!(
            stdout(),
            "{:>4}  #{:<6} {:<20} {:>6}  {}{flag}",
            row.rank,
            row.customer_id,
            name,
            row.score,
            row.band.label()
        )?;
    }

    let activity = reports
        .activity(&admin, &ActivityRequest::new(workspace.clone()))
        .await?;
    let s = activity.summary;
    writeln!(
        stdout(),
        "\nCustomer Activity — last 30 days: {} customers with clicks, {} views, {} verified, {} checkouts, {} orders",
        s.customers_with_views,
        s.views,
        s.verified,
        s.checkout,
        s.orders
    )?;
    for row in activity.rows.iter().take(5) {
        let c = &row.counters;
        let spark = sparkline(&row.sparkline.counts);
        writeln!(
            stdout(),
            "  {:<24} views {:>3} {spark} confirmed {:>2} verified {:>2} checkout {:>2} orders {:>2}",
            row.customer.full_name(),
            c.views,
            c.confirmed,
            c.verified,
            c.checkout,
            c.orders
        )?;
    }

    let log = reports
        .event_log(&admin, &EventLogRequest::new(workspace.clone()))
        .await?;
    writeln!(
        stdout(),
        "\nEvent log — last 14 days: {} events; newest:",
        log.total
    )?;
    for entry in log.entries.iter().take(5) {
        let e = &entry.event;
        writeln!(
            stdout(),
            "  {}  {:<16} #{:<5} {}{}",
            e.occurred_at,
            e.name,
            e.customer,
            e.page.domain,
            e.page.path
        )?;
    }

    let funnel = reports
        .funnel(&admin, &FunnelRequest::new(workspace))
        .await?;
    writeln!(stdout(), "\nFunnel — last 30 days, 7 days to convert:")?;
    for step in &funnel.steps {
        writeln!(
            stdout(),
            "  {:<12} {:>5} customers ({:>5.1}% of step 1)",
            step.name,
            step.reached,
            step.conversion_from_first * 100.0
        )?;
    }
    Ok(())
}
