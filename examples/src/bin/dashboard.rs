//! The web dashboard: the engagement report, the customer activity page, the event log and a
//! funnel, server-rendered over any store, on 127.0.0.1 only.
//!
//! Run with: cargo run -p engagement-examples --bin dashboard
//!
//! Then open <http://127.0.0.1:3000/> and sign in with a role (a demo login: customer service
//! sees the 403 page). Options: `--store URL` (default `sqlite://engagement-demo.db`; also
//! `memory`, `postgres://…`, `mysql://…`), `--zone Europe/Berlin`, `--port 3000` (0 picks a free
//! port). Demo data is generated when the workspace has nothing from the last hour: the demo
//! events after its newest one. Ctrl-C (or SIGTERM) stops it: the requests in flight are
//! answered (for up to 10 seconds, or until a second Ctrl-C), then the store is closed (a
//! SQLite file is left without its write-ahead log).

use std::future::IntoFuture;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use engagement_core::report::Reports;
use engagement_core::{Clock, EventStore, ReportZone, SystemClock, WorkspaceId};
use engagement_examples::dashboard::{self, DEMO_WORKSPACE};
use engagement_examples::demo_data::{self, DemoSize};
use engagement_examples::store_url::{self, DEFAULT_STORE};
use engagement_examples::terminal::{Failure, exit_code};
use tokio::sync::Notify;

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
    store_url::with_store(&args.store, async |store| serve(&args, zone, store).await).await
}

/// Serves the dashboard over `store` until Ctrl-C (or SIGTERM), then lets the requests in
/// flight finish for up to [`GRACE`]; the caller closes the store after it.
async fn serve(args: &Args, zone: ReportZone, store: Arc<dyn EventStore>) -> Result<(), Failure> {
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
    let stopping = Arc::new(Notify::new());
    let server = axum::serve(listener, app).with_graceful_shutdown({
        let stopping = Arc::clone(&stopping);
        async move {
            stop_requested().await;
            eprintln!("Stopping: answering the requests in flight (Ctrl-C again cuts them off) …");
            stopping.notify_one();
        }
    });
    // A long download must not hold the stop up for good: a second signal, or the grace
    // period, ends the requests still running.
    let cut_off = async {
        stopping.notified().await;
        tokio::select! {
            () = tokio::time::sleep(GRACE) => {}
            () = stop_requested() => {}
        }
    };
    tokio::select! {
        served = server.into_future() => served?,
        () = cut_off => eprintln!("Requests still in flight were cut off."),
    }
    eprintln!("Stopped.");
    Ok(())
}

/// How long a stop waits for the requests in flight before it cuts them off.
const GRACE: Duration = Duration::from_secs(10);

/// Resolves at the first Ctrl-C, or SIGTERM on Unix; a signal that cannot be listened for
/// never resolves it, so the server then runs until it is killed.
async fn stop_requested() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => drop(terminate.recv().await),
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
