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
//! answered (for up to `--grace` seconds, 10 by default, or until a second Ctrl-C), then the
//! store is closed (a SQLite file is left without its write-ahead log).

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
use engagement_examples::terminal::{Failure, command_line, exit_code};
use tokio::sync::watch;

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
    /// Seconds a stop waits for the requests in flight (a download, most often) before it cuts
    /// them off; a second Ctrl-C cuts them off at once.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    grace: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match command_line(Args::try_parse(), "dashboard") {
        Ok(args) => args,
        Err(code) => return code,
    };
    exit_code(run(args).await)
}

async fn run(args: Args) -> Result<(), Failure> {
    let zone = ReportZone::parse(&args.zone)?;
    store_url::with_store(&args.store, async |store| serve(&args, zone, store).await).await
}

/// Serves the dashboard over `store` until Ctrl-C (or SIGTERM), then lets the requests in
/// flight finish for up to `--grace` seconds; the caller closes the store after it.
async fn serve(args: &Args, zone: ReportZone, store: Arc<dyn EventStore>) -> Result<(), Failure> {
    let workspace = WorkspaceId::new(DEMO_WORKSPACE)?;
    let now = SystemClock.now();
    if !demo_data::is_fresh(store.as_ref(), &workspace, now).await? {
        let n = demo_data::load(store.as_ref(), &workspace, DemoSize::default(), now).await?;
        eprintln!("Loaded {n} demo events into {}.", args.store);
    }
    let app = dashboard::router(Reports::new(store).with_zone(zone));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    // Listening before the address is printed: a signal sent as soon as it is (a script, a
    // supervisor) must stop the server, not kill the process where it stands.
    let signals = stop_signals();
    eprintln!(
        "Dashboard on http://{}/ (store {}, zone {zone}); Ctrl-C stops it.",
        listener.local_addr()?,
        args.store
    );
    let server = axum::serve(listener, app).with_graceful_shutdown({
        let signals = signals.clone();
        async move {
            signalled(signals, 1).await;
            eprintln!("Stopping: answering the requests in flight (Ctrl-C again cuts them off) …");
        }
    });
    // A long download must not hold the stop up for good: a second signal, or the grace
    // period, ends the requests still running.
    let cut_off = async {
        signalled(signals.clone(), 1).await;
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(args.grace)) => {}
            () = signalled(signals, 2) => {}
        }
    };
    tokio::select! {
        served = server.into_future() => served?,
        () = cut_off => eprintln!("Requests still in flight were cut off."),
    }
    eprintln!("Stopped.");
    Ok(())
}

/// The number of stop signals (Ctrl-C, or SIGTERM on Unix) received so far. The listeners are
/// registered before this returns (not when a spawned task first runs), so a signal sent right
/// after is counted, and a task counts them from then on, so that a second signal right after
/// the first is not missed. When the signals cannot be listened for, the count stays at 0 and
/// the server runs until it is killed.
#[cfg(unix)]
fn stop_signals() -> watch::Receiver<u32> {
    use tokio::signal::unix::{SignalKind, signal};
    let (count, signals) = watch::channel(0);
    if let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(()) = interrupt.recv() => {}
                    Some(()) = terminate.recv() => {}
                    else => return,
                }
                count.send_modify(|n| *n += 1);
            }
        });
    }
    signals
}

#[cfg(windows)]
fn stop_signals() -> watch::Receiver<u32> {
    let (count, signals) = watch::channel(0);
    if let Ok(mut interrupt) = tokio::signal::windows::ctrl_c() {
        tokio::spawn(async move {
            while interrupt.recv().await.is_some() {
                count.send_modify(|n| *n += 1);
            }
        });
    }
    signals
}

/// Resolves once `signals` has counted `n` stop signals; never, when they cannot be counted.
async fn signalled(mut signals: watch::Receiver<u32>, n: u32) {
    if signals.wait_for(|&count| count >= n).await.is_err() {
        std::future::pending::<()>().await;
    }
}
