//! The command line of `report`.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use engagement_examples::store_url::DEFAULT_STORE;

/// The engagement reports in the terminal: ranking, customer activity, event log, funnel.
#[derive(Debug, Parser)]
// Without a report named, an `error:` line saying so, not the help's first line.
#[command(name = "report", version, arg_required_else_help = false)]
pub(crate) struct Cli {
    /// The store: sqlite://FILE, postgres://…, mysql://…, or `memory` (filled with demo data).
    #[arg(long, global = true, default_value = DEFAULT_STORE)]
    pub(crate) store: String,
    /// The IANA zone calendar ranges and times use ("Europe/Berlin").
    #[arg(long, global = true, default_value = "UTC")]
    pub(crate) zone: String,
    /// The viewer's role: manager, administrator, platform-admin, customer-service.
    #[arg(long, global = true, default_value = "administrator")]
    pub(crate) role: String,
    /// The workspace (tenant) to read.
    #[arg(long, global = true, default_value = "demo")]
    pub(crate) workspace: String,
    /// Also write the report as CSV to FILE (the event log: the complete filtered log).
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) csv: Option<PathBuf>,
    /// No colours, even on a terminal (also when NO_COLOR is set).
    #[arg(long, global = true)]
    pub(crate) no_color: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

impl Cli {
    /// Parses the command line, refusing options that would be ignored: `--csv` beside a
    /// detail view (`activity --customer`, `events --event`), which has no rows to write, and
    /// `activity --all` without `--csv`, which only chooses what the CSV holds.
    ///
    /// # Errors
    /// clap's error for a command line it cannot parse, or one of those combinations.
    pub(crate) fn parse_checked() -> Result<Self, clap::Error> {
        let cli = Self::try_parse()?;
        let ignored = match &cli.command {
            Command::Activity {
                customer: Some(_), ..
            }
            | Command::Events { event: Some(_), .. }
                if cli.csv.is_some() =>
            {
                Some(
                    "--csv writes a report's rows, and a detail view (--customer, --event) \
                     has none: leave out --csv, or the detail option for the report's CSV",
                )
            }
            Command::Activity { all: true, .. } if cli.csv.is_none() => {
                Some("--all chooses the rows --csv writes: give --csv FILE too")
            }
            _ => None,
        };
        match ignored {
            Some(message) => Err(Self::command().error(ErrorKind::ArgumentConflict, message)),
            None => Ok(cli),
        }
    }
}

/// The time range of a report.
#[derive(Debug, Clone, Args)]
pub(crate) struct RangeArgs {
    /// 15m, 30m, 60m, 24h, 48h, Nd (7d, 14d), today, yesterday, this-week, this-month,
    /// last-7-days, last-14-days, last-30-days, custom (with --from/--to) or between.
    #[arg(long)]
    pub(crate) range: Option<String>,
    /// First day of a custom range, YYYY-MM-DD (blank: yesterday), or an RFC 3339 instant.
    #[arg(long)]
    pub(crate) from: Option<String>,
    /// Last day of a custom range, YYYY-MM-DD (blank: today), or an RFC 3339 instant.
    #[arg(long)]
    pub(crate) to: Option<String>,
}

/// Whose events the log shows.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ActorArg {
    /// The customer's own actions.
    Customer,
    /// Staff acting on the customer's account.
    Staff,
    /// The system.
    System,
}

/// Which customers the activity page lists.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum StatusArg {
    /// Every customer.
    All,
    /// Active customers only.
    Active,
    /// Inactive customers only.
    Inactive,
}

/// The reports.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// The engagement ranking: the top customers by their own events (default: last 15 min).
    Engagement {
        #[command(flatten)]
        range: RangeArgs,
        /// Only rows whose ID or name contains every word of this text; a customer ID (`12` or
        /// `#12`) that no row has prints where that customer ranks.
        #[arg(long, allow_hyphen_values = true)]
        search: Option<String>,
        /// Rows, 1 to 100.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Customer activity: milestone counters and 7-day sparklines (default: last 30 days).
    Activity {
        #[command(flatten)]
        range: RangeArgs,
        /// Search name, code or email (every word of the text).
        #[arg(long, allow_hyphen_values = true)]
        search: Option<String>,
        /// All, active or inactive customers.
        #[arg(long, value_enum, default_value_t = StatusArg::All)]
        status: StatusArg,
        /// Order by: name, last_click, views, confirmed, verified, checkout, orders, recent, id.
        #[arg(long, default_value = "views")]
        sort: String,
        /// Ascending order (descending by default).
        #[arg(long)]
        asc: bool,
        /// 1-based page.
        #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
        page: u64,
        /// Rows per page, 1 to 500.
        #[arg(long, default_value_t = 25)]
        page_size: u64,
        /// With --csv, export every matching row instead of this page.
        #[arg(long)]
        all: bool,
        /// Show this customer's detail (cards, 14-day trend, recent milestones) instead; it
        /// takes none of the options above.
        #[arg(
            long,
            allow_negative_numbers = true,
            conflicts_with_all = ["range", "from", "to", "search", "status", "sort", "asc", "page", "page_size", "all"]
        )]
        customer: Option<i64>,
    },
    /// The event log, newest first (default: last 14 days).
    Events {
        #[command(flatten)]
        range: RangeArgs,
        /// Event name ("Page Viewed").
        #[arg(long, allow_hyphen_values = true)]
        name: Option<String>,
        /// Customer ID.
        #[arg(long, allow_negative_numbers = true)]
        customer: Option<i64>,
        /// Who acted.
        #[arg(long, value_enum)]
        actor: Option<ActorArg>,
        /// Originating IP address.
        #[arg(long)]
        ip: Option<IpAddr>,
        /// Page path.
        #[arg(long, allow_hyphen_values = true)]
        path: Option<String>,
        /// Page domain.
        #[arg(long, allow_hyphen_values = true)]
        domain: Option<String>,
        /// Page referrer ("" for direct traffic).
        #[arg(long, allow_hyphen_values = true)]
        referrer: Option<String>,
        /// Resume after this cursor (printed under the previous page).
        #[arg(long)]
        after: Option<String>,
        /// Events per page, 1 to 1000.
        #[arg(long, default_value_t = 50)]
        page_size: usize,
        /// Show this event's detail instead; it takes none of the options above.
        #[arg(
            long,
            conflicts_with_all = ["range", "from", "to", "name", "customer", "actor", "ip", "path", "domain", "referrer", "after", "page_size"]
        )]
        event: Option<String>,
    },
    /// A funnel (default: Page Viewed → Registered → Subscribed, last 30 days, 7 days to convert).
    Funnel {
        #[command(flatten)]
        range: RangeArgs,
        /// Steps in order, comma-separated.
        #[arg(long)]
        steps: Option<String>,
        /// Days after step 1 that later steps still count.
        #[arg(long, default_value_t = 7, allow_negative_numbers = true)]
        window_days: i64,
    },
}
