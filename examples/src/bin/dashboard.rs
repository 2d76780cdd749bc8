//! The web dashboard: the engagement report, the customer activity page, the event log and a
//! funnel, server-rendered over any store, on 127.0.0.1 only.
//!
//! Run with: cargo run -p engagement-examples --bin dashboard
//!
//! Then open <http://127.0.0.1:3000/> and sign in with a role (a demo login: customer service
//! sees the 403 page). Options: `--store URL` (default `sqlite://engagement-demo.db`; also
//! `memory`, `postgres://…`, `mysql://…`), `--zone Europe/Berlin`, `--port 3000` (0 picks a free
//! port). Demo data is generated when the workspace has nothing from the last hour: the demo
//! events after its newest one.

use std::process::ExitCode;

use clap::Parser;
use engagement_core::report::Reports;
use engagement_core::{Clock, ReportZone, SystemClock, WorkspaceId};
use engagement_examples::dashboard::{self, DEMO_WORKSPACE};
use engagement_examples::demo_data::{self, DemoSize};
use engagement_examples::store_url::{self, DEFAULT_STORE};
use engagement_examples::terminal::{Failure, exit_code};

/// Serves the engagement dashboard on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(name = "dashboard", version)]
struct Args {
    /// The store: sqlite://FILE, memory, postgres://…, mysql://…
    #[arg(long, default_value = DEFAULT_STORE)]
    store: String,
    /// The IANA zone calendar ranges and times are shown in.
    #[arg(long, default_value = "UTC")]
    zone: String,
    /// The port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 3000)]
    port: u16,
}

#[tokio::main]
async fn main() -> ExitCode {
    exit_code(run(Args::parse()).await)
}

async fn run(args: Args) -> Result<(), Failure> {
    let zone = ReportZone::parse(&args.zone)?;
    let store = store_url::open(&args.store).await?;
    let workspace = WorkspaceId::new(DEMO_WORKSPACE)?;
    let now = SystemClock.now();
    if !demo_data::is_fresh(store.as_ref(), &workspace, now).await? {
        let n = demo_data::load(store.as_ref(), &workspace, DemoSize::default(), now).await?;
        eprintln!("Loaded {n} demo events into {}.", args.store);
    }
    let app = dashboard::router(Reports::new(store).with_zone(zone));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    eprintln!(
        "Dashboard on http://{}/ (store {}, zone {zone}); Ctrl-C stops it.",
        listener.local_addr()?,
        args.store
    );
    axum::serve(listener, app).await?;
    Ok(())
}
