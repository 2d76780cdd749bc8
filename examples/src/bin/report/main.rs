//! The engagement reports in the terminal: the engagement ranking, the customer activity page,
//! the event log and a funnel, as tables with coloured score bands and Unicode sparklines, with
//! every option of the product documents and a `--csv FILE` export.
//!
//! Run with: cargo run -p engagement-examples --bin report -- engagement --range 60m
//!
//! More: `report engagement --range 24h --search '#12'` (the rows of customer 12, or where it
//! ranks outside them), `report activity --range this-week --status active --search smith`,
//! `report events --customer 12 --range custom --from 2026-03-01 --to 2026-03-07 --csv log.csv`,
//! `report funnel --steps "Page Viewed,Registered,Subscribed"`; `--store`, `--zone`, `--role`
//! and `--workspace` work everywhere. Errors print one line and exit with status 1 (2 for a
//! command line it cannot parse).

mod args;
mod print;

use std::process::ExitCode;
use std::sync::Arc;

use args::{ActorArg, Cli, Command, RangeArgs, StatusArg};
use chrono::TimeDelta;
use engagement_core::csv::{CsvOptions, CsvReport, export_to_path, write_report_to_path};
use engagement_core::report::{
    ActivityRequest, EngagementRequest, EventLogRequest, FunnelRequest, Reports,
};
use engagement_core::{
    Actor, CalendarPreset, Clock, CustomerId, CustomerStatus, Error, EventId, EventStore, Lookback,
    RangeSpec, ReportZone, Role, SystemClock, Viewer, WorkspaceId, names,
};
use engagement_examples::dashboard::activity_sort;
use engagement_examples::demo_data::{self, DemoSize};
use engagement_examples::range_text::parse_range;
use engagement_examples::ranking_search;
use engagement_examples::store_url;
use engagement_examples::terminal::{Failure, command_line, exit_code};
use print::Printer;

type AnyResult<T = ()> = Result<T, Failure>;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match command_line(Cli::parse_checked(), "report") {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    // `report … | head` closing the pipe ends it quietly: the reader has what it wanted.
    exit_code(run(cli).await)
}

fn range(
    args: &RangeArgs,
    default: RangeSpec,
    zone: &ReportZone,
) -> engagement_core::Result<RangeSpec> {
    parse_range(
        args.range.as_deref(),
        args.from.as_deref(),
        args.to.as_deref(),
        default,
        zone,
    )
}

async fn run(cli: Cli) -> AnyResult {
    let store = cli.store.clone();
    store_url::with_store(&store, async |store| report(store, cli).await).await
}

/// Prints the report `cli` asks for from `store` (and writes its CSV when asked).
async fn report(store: Arc<dyn EventStore>, cli: Cli) -> AnyResult {
    let zone = ReportZone::parse(&cli.zone)?;
    let workspace = WorkspaceId::new(cli.workspace.clone())?;
    let viewer = Viewer::new(workspace.clone(), Role::from_name(&cli.role));
    if store_url::is_ephemeral(&cli.store) {
        let n = demo_data::load(
            store.as_ref(),
            &workspace,
            DemoSize::default(),
            SystemClock.now(),
        )
        .await?;
        eprintln!("{} starts empty: loaded {n} demo events.", cli.store);
    }
    let reports = Reports::new(store).with_zone(zone);
    let out = Printer::new(cli.no_color);
    let csv = cli.csv.as_deref();
    match cli.command {
        Command::Engagement {
            range: r,
            search,
            limit,
        } => {
            let mut request = EngagementRequest::new(workspace).with_range(range(
                &r,
                RangeSpec::last(Lookback::Minutes15),
                &zone,
            )?);
            request.limit = limit;
            let term = search.as_deref();
            let found = ranking_search::search(&reports, &viewer, &request, term).await?;
            let report = &found.report;
            printed(out.engagement(report, found.ranked, term, found.standing.as_ref()))?;
            if let Some(path) = csv {
                write_report(report, path)?;
            }
        }
        Command::Activity {
            range: r,
            search,
            status,
            sort,
            asc,
            page,
            page_size,
            all,
            customer,
        } => {
            if let Some(id) = customer {
                let detail = reports
                    .customer_detail(&viewer, &workspace, CustomerId(id))
                    .await?;
                out.customer_detail(&detail)?;
                return Ok(());
            }
            let mut request = ActivityRequest::new(workspace);
            request.range = range(&r, RangeSpec::preset(CalendarPreset::LastDays(30)), &zone)?;
            request.search = search;
            request.status = match status {
                StatusArg::All => None,
                StatusArg::Active => Some(CustomerStatus::Active),
                StatusArg::Inactive => Some(CustomerStatus::Inactive),
            };
            request.sort = activity_sort(&sort, !asc)?;
            request.page = page;
            request.page_size = page_size;
            let report = reports.activity(&viewer, &request).await?;
            printed(out.activity(&report))?;
            if let Some(path) = csv {
                if all {
                    write_report(&reports.activity_all(&viewer, &request).await?, path)?;
                } else {
                    write_report(&report, path)?;
                }
            }
        }
        Command::Events {
            range: r,
            name,
            customer,
            actor,
            ip,
            path,
            domain,
            referrer,
            after,
            page_size,
            event,
        } => {
            if let Some(id) = event {
                let entry = reports
                    .event_detail(&viewer, &workspace, &EventId::new(id))
                    .await?;
                out.event_detail(&entry, reports.zone())?;
                return Ok(());
            }
            let mut request = EventLogRequest::new(workspace).with_range(range(
                &r,
                RangeSpec::last(Lookback::Days(14)),
                &zone,
            )?);
            if let Some(name) = name {
                request = request.with_names([name]);
            }
            if let Some(id) = customer {
                request = request.for_customer(CustomerId(id));
            }
            if let Some(actor) = actor {
                request = request.with_actors(vec![match actor {
                    ActorArg::Customer => Actor::Customer,
                    ActorArg::Staff => Actor::Staff,
                    ActorArg::System => Actor::System,
                }]);
            }
            request.ip = ip;
            request.path = path;
            request.domain = domain;
            request.referrer = referrer;
            request.after = after.as_deref().map(str::parse).transpose()?;
            request.page_size = page_size;
            let page = reports.event_log(&viewer, &request).await?;
            printed(out.event_log(&page))?;
            if let Some(file) = csv {
                // The file holds the log the page counted: its window to the microsecond, not
                // the range resolved again later (a range ending now would have moved on).
                let exact = request.clone().with_range(RangeSpec::Between {
                    from: page.period.window.from,
                    to: page.period.window.to,
                });
                let (_, events) = reports.export_event_log(&viewer, &exact)?;
                let rows =
                    export_to_path(events, file, [names::MODAL_NAME_KEY], CsvOptions::default())
                        .await?;
                eprintln!(
                    "Wrote the complete filtered log ({rows} events) to {}.",
                    file.display()
                );
            }
        }
        Command::Funnel {
            range: r,
            steps,
            window_days,
        } => {
            let mut request = FunnelRequest::new(workspace);
            request.range = range(&r, RangeSpec::preset(CalendarPreset::LastDays(30)), &zone)?;
            if let Some(steps) = steps {
                request.steps = steps.split(',').map(|s| s.trim().to_owned()).collect();
            }
            request.conversion_window = TimeDelta::try_days(window_days).ok_or_else(|| {
                Error::invalid_query("window_days", "the conversion window is too long")
            })?;
            let report = reports.funnel(&viewer, &request).await?;
            printed(out.funnel(&report))?;
            if let Some(path) = csv {
                write_report(&report, path)?;
            }
        }
    }
    Ok(())
}

/// What printing a report came to: a reader that has gone (`report … --csv FILE | head`) does
/// not stop the CSV export the command line asked for, which is written all the same.
fn printed(result: std::io::Result<()>) -> AnyResult {
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Writes a whole report as CSV to `path` and says so (with the seed's file name).
fn write_report(report: &impl CsvReport, path: &std::path::Path) -> AnyResult {
    write_report_to_path(report, path, CsvOptions::default())?;
    eprintln!(
        "Wrote {} (the dashboard names this download {}).",
        path.display(),
        report.csv_file_name()
    );
    Ok(())
}
