//! Printing the reports as terminal tables.

use std::io::{self, IsTerminal, Write, stdout};

use engagement_core::report::{
    ActivityReport, CustomerDetail, CustomerStanding, EngagementReport, EventLogPage,
    EventLogRequest, FunnelReport, LogEntry, ReportPeriod, ScoreBand,
};
use engagement_core::{EventKey, ReportZone, Timestamp};
use engagement_examples::range_text::{range_label, range_parts};
use engagement_examples::terminal::{Align, Cell, Colour, Table, sparkline};

/// Prints reports, coloured when stdout is a terminal (and neither `--no-color` nor `NO_COLOR`).
pub(crate) struct Printer {
    colour: bool,
}

fn time(at: Timestamp, zone: &ReportZone) -> String {
    at.to_datetime()
        .with_timezone(&zone.tz)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// The `events` subcommand, as shell words, that asks for `request`: its exact window, its
/// filters (one name, customer and actor, as the command takes) and its cursor.
fn events_command(request: &EventLogRequest) -> String {
    let (range, from, to) = range_parts(&request.range);
    let mut words = vec!["events".to_owned(), "--range".into(), range];
    let mut option = |flag: &str, value: Option<String>| {
        // `--flag=value` in one word: a value starting with `-` (a negative customer id, a
        // path such as `-1+2`) would read as a flag of its own after a separate `--flag`.
        if let Some(value) = value {
            words.push(shell_word(&format!("{flag}={value}")));
        }
    };
    option("--from", from);
    option("--to", to);
    option(
        "--name",
        request.names.as_ref().and_then(|n| n.first().cloned()),
    );
    option(
        "--customer",
        request
            .customers
            .as_ref()
            .and_then(|c| c.first())
            .map(|c| c.0.to_string()),
    );
    option(
        "--actor",
        request
            .actors
            .as_ref()
            .and_then(|a| a.first())
            .map(|a| a.as_str().to_owned()),
    );
    option("--ip", request.ip.map(|ip| ip.to_string()));
    option("--path", request.path.clone());
    option("--domain", request.domain.clone());
    option("--referrer", request.referrer.clone());
    option("--page-size", Some(request.page_size.to_string()));
    option("--after", request.after.as_ref().map(EventKey::to_string));
    words.join(" ")
}

/// `text` as one POSIX shell word: as it is when it holds only characters no shell reads,
/// else single-quoted.
fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_.:/@+,=".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

fn time_or_dash(at: Option<Timestamp>, zone: &ReportZone) -> String {
    at.map_or_else(|| "—".into(), |t| time(t, zone))
}

fn band_colour(band: ScoreBand) -> Colour {
    match band {
        ScoreBand::Low => Colour::Green,
        ScoreBand::Medium => Colour::Cyan,
        ScoreBand::High => Colour::Yellow,
        _ => Colour::Red,
    }
}

impl Printer {
    pub(crate) fn new(no_color: bool) -> Self {
        Self {
            colour: !no_color && std::env::var_os("NO_COLOR").is_none() && stdout().is_terminal(),
        }
    }

    fn title(&self, title: &str, period: &ReportPeriod) -> io::Result<()> {
        let heading = format!("{title} — {}", range_label(&period.spec));
        if self.colour {
            writeln!(stdout(), "\x1b[1m{heading}\x1b[0m")?;
        } else {
            writeln!(stdout(), "{heading}")?;
        }
        writeln!(
            stdout(),
            "From {} to {} (zone {})\n",
            time(period.window.from, &period.zone),
            time(period.window.to, &period.zone),
            period.zone
        )?;
        Ok(())
    }

    fn table(&self, table: &Table) -> io::Result<()> {
        write!(stdout(), "{}", table.render(self.colour))?;
        Ok(())
    }

    /// The ranking's rows shown (`ranked` of them before the search for `search`), and the
    /// standing of the customer the search names by id when no row is theirs.
    pub(crate) fn engagement(
        &self,
        report: &EngagementReport,
        ranked: usize,
        search: Option<&str>,
        standing: Option<&CustomerStanding>,
    ) -> io::Result<()> {
        self.title("Customer Engagement", &report.period)?;
        let mut t = Table::new([
            ("#", Align::Right),
            ("Customer ID", Align::Right),
            ("Name", Align::Left),
            ("Engagement Score", Align::Right),
            ("Band", Align::Left),
        ]);
        for row in &report.rows {
            let colour = band_colour(row.band);
            let band = if row.investigate {
                format!("{} ⚠ investigate", row.band.label())
            } else {
                row.band.label().to_owned()
            };
            t.row([
                Cell::new(row.rank.to_string()),
                Cell::new(format!("#{}", row.customer_id)),
                Cell::new(
                    row.customer
                        .as_ref()
                        .map_or_else(|| "(unknown)".into(), |c| c.full_name()),
                ),
                Cell::coloured(row.score.to_string(), colour),
                Cell::coloured(band, colour),
            ]);
        }
        self.table(&t)?;
        writeln!(
            stdout(),
            "\n{} customers (top {}, admin placeholders excluded).",
            report.rows.len(),
            report.request.limit
        )?;
        if let Some(standing) = standing {
            return Self::standing(standing, ranked);
        }
        if let Some(term) = search.filter(|_| report.rows.is_empty() && ranked > 0) {
            writeln!(
                stdout(),
                "No customer among the top {ranked} matches “{}”. Search by customer ID (such \
                 as 12345) to see where a customer outside them ranks.",
                term.trim()
            )?;
        }
        Ok(())
    }

    /// Where a customer outside the `ranked` rows ranks, and the command listing the events
    /// its score counts.
    fn standing(standing: &CustomerStanding, ranked: usize) -> io::Result<()> {
        let id = standing.customer_id;
        let (Some(place), Some(band)) = (&standing.standing, standing.band) else {
            writeln!(
                stdout(),
                "Customer #{id} is not ranked in this window: no events of their own, or an \
                 admin placeholder."
            )?;
            return Ok(());
        };
        writeln!(
            stdout(),
            "Customer #{id} is not in the top {ranked}: rank {} in this window, engagement \
             score {} ({}).\nIts events: report {}",
            place.rank,
            place.score,
            band.label(),
            events_command(&standing.drill_down)
        )?;
        Ok(())
    }

    pub(crate) fn activity(&self, report: &ActivityReport) -> io::Result<()> {
        self.title("Customer Activity", &report.period)?;
        let s = report.summary;
        writeln!(
            stdout(),
            "Customers with clicks {} · Total views {} · Verified {} · Checkout started {} · Orders submitted {}\n",
            s.customers_with_views,
            s.views,
            s.verified,
            s.checkout,
            s.orders
        )?;
        let zone = &report.period.zone;
        let mut t = Table::new([
            ("Customer", Align::Left),
            ("Email", Align::Left),
            ("Status", Align::Left),
            ("Last click", Align::Left),
            ("Views", Align::Right),
            ("7-day trend", Align::Left),
            ("Confirmed", Align::Right),
            ("Verified", Align::Right),
            ("Checkout", Align::Right),
            ("Orders", Align::Right),
            ("Recent activity", Align::Left),
        ]);
        for row in &report.rows {
            let c = &row.counters;
            let status = row.customer.status.as_str();
            t.row([
                Cell::new(format!(
                    "{} {}",
                    row.customer.full_name(),
                    row.customer.code
                )),
                Cell::coloured(row.customer.email.clone(), Colour::Dim),
                if status == "active" {
                    Cell::coloured("Active", Colour::Green)
                } else {
                    Cell::coloured("Inactive", Colour::Dim)
                },
                Cell::new(time_or_dash(c.last_click, zone)),
                Cell::new(c.views.to_string()),
                Cell::coloured(
                    format!(
                        "{} {}",
                        sparkline(&row.sparkline.counts),
                        row.sparkline.latest()
                    ),
                    Colour::Cyan,
                ),
                Cell::new(c.confirmed.to_string()),
                Cell::new(c.verified.to_string()),
                Cell::new(c.checkout.to_string()),
                Cell::new(c.orders.to_string()),
                Cell::new(time_or_dash(c.last_activity, zone)),
            ]);
        }
        self.table(&t)?;
        writeln!(
            stdout(),
            "\nPage {} of {} · {} customers (--page N for another page).",
            report.request.page,
            report.page_count.max(1),
            report.total_rows
        )?;
        Ok(())
    }

    pub(crate) fn customer_detail(&self, d: &CustomerDetail) -> io::Result<()> {
        self.title(
            &format!("Customer #{} {}", d.customer.id, d.customer.full_name()),
            &d.period,
        )?;
        writeln!(
            stdout(),
            "Views {} · Verified {} · Checkout {} · Orders {}",
            d.cards.views,
            d.cards.verified,
            d.cards.checkout,
            d.cards.orders
        )?;
        writeln!(
            stdout(),
            "14-day trend from {}: {} ({})\n",
            d.trend.first_day,
            sparkline(&d.trend.counts),
            d.trend
                .counts
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        )?;
        let mut t = Table::new([("Recent milestone", Align::Left), ("Time", Align::Left)]);
        for m in &d.recent_milestones {
            t.row([
                Cell::new(m.name.clone()),
                Cell::new(time(m.at, &d.period.zone)),
            ]);
        }
        self.table(&t)?;
        Ok(())
    }

    pub(crate) fn event_log(&self, page: &EventLogPage) -> io::Result<()> {
        self.title("Event Log", &page.period)?;
        let zone = &page.period.zone;
        let mut t = Table::new([
            ("Time", Align::Left),
            ("Event", Align::Left),
            ("Customer ID", Align::Right),
            ("Actor", Align::Left),
            ("Path", Align::Left),
            ("Country", Align::Left),
            ("Device", Align::Left),
            ("Event ID", Align::Left),
        ]);
        for entry in &page.entries {
            let e = &entry.event;
            t.row([
                Cell::new(time(e.occurred_at, zone)),
                Cell::new(e.name.clone()),
                Cell::new(e.customer.to_string()),
                Cell::new(e.actor.as_str()),
                Cell::new(e.page.path.clone()),
                Cell::new(e.geo.country.clone()),
                Cell::new(e.device.map_or("—", |d| d.as_str())),
                Cell::coloured(e.id.as_str(), Colour::Dim),
            ]);
        }
        self.table(&t)?;
        writeln!(
            stdout(),
            "\n{} events match; {} shown.",
            page.total,
            page.entries.len()
        )?;
        // The next page keeps this page's window: a range ending now would move between pages.
        if let Some(next) = page.next_request() {
            writeln!(
                stdout(),
                "Next page (with the same options before `events`): {}",
                events_command(&next)
            )?;
        }
        Ok(())
    }

    pub(crate) fn event_detail(&self, entry: &LogEntry, zone: &ReportZone) -> io::Result<()> {
        let e = &entry.event;
        writeln!(
            stdout(),
            "{} at {} ({})",
            e.name,
            time(e.occurred_at, zone),
            e.actor.as_str()
        )?;
        let dash = |s: &str| {
            if s.is_empty() {
                "—".to_owned()
            } else {
                s.to_owned()
            }
        };
        let name = entry
            .customer
            .as_ref()
            .map_or("—".into(), |c| c.full_name());
        let email = entry
            .customer
            .as_ref()
            .map_or("—".into(), |c| dash(&c.email));
        let sections: [(&str, Vec<(&str, String)>); 3] = [
            (
                "Customer",
                vec![
                    ("ID", e.customer.to_string()),
                    ("Name", name),
                    ("Email", email),
                    ("IP", e.ip.map_or("—".into(), |ip| ip.to_string())),
                ],
            ),
            (
                "Geo",
                vec![
                    ("Country", dash(&e.geo.country)),
                    (
                        "Region · City",
                        format!("{} · {}", dash(&e.geo.region), dash(&e.geo.city)),
                    ),
                    ("Timezone", dash(&e.geo.zone)),
                ],
            ),
            (
                "Page",
                vec![
                    ("URL", dash(&e.page.url)),
                    ("Path", dash(&e.page.path)),
                    ("Domain", dash(&e.page.domain)),
                    ("Referrer", dash(&e.page.referrer)),
                ],
            ),
        ];
        for (title, fields) in sections {
            writeln!(stdout(), "\n{title}")?;
            for (k, v) in fields {
                writeln!(stdout(), "  {k:<14} {v}")?;
            }
        }
        writeln!(stdout(), "\nMetadata")?;
        for (k, v) in &e.metadata {
            // Keys and values are the sender's text and may hold control characters
            // (validation refuses only NUL there; JSON escapes C0 but not DEL or C1 such as
            // U+009B, a CSI): escaped, so that none can send the terminal escape sequences.
            let value = v.to_string();
            let (k, v) = (without_controls(k), without_controls(&value));
            writeln!(stdout(), "  {k:<14} {v}")?;
        }
        Ok(())
    }

    pub(crate) fn funnel(&self, report: &FunnelReport) -> io::Result<()> {
        self.title("Funnel", &report.period)?;
        let mut t = Table::new([
            ("Step", Align::Left),
            ("Customers", Align::Right),
            ("", Align::Left),
            ("% of step 1", Align::Right),
            ("% of previous", Align::Right),
            ("Dropped", Align::Right),
            ("In progress", Align::Right),
        ]);
        let first = report.steps.first().map_or(0, |s| s.reached).max(1);
        for (i, s) in report.steps.iter().enumerate() {
            let width = (s.reached * 30).div_ceil(first) as usize;
            t.row([
                Cell::new(format!("{}. {}", i + 1, s.name)),
                Cell::new(s.reached.to_string()),
                Cell::coloured("█".repeat(width), Colour::Cyan),
                Cell::new(format!("{:.1}%", s.conversion_from_first * 100.0)),
                Cell::new(format!("{:.1}%", s.conversion_from_previous * 100.0)),
                Cell::new(s.dropped.to_string()),
                Cell::new(s.in_progress.to_string()),
            ]);
        }
        self.table(&t)?;
        writeln!(
            stdout(),
            "\nSteps count within {} days of step 1.",
            report.request.conversion_window.num_days()
        )?;
        Ok(())
    }
}

/// `text` with each control character (C0, DEL, C1) written as its `\u{…}` escape.
fn without_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_reach_the_terminal_escaped() {
        assert_eq!(
            without_controls("a\u{1b}]0;x\u{7}\u{7f}b\u{9b}2J"),
            "a\\u{1b}]0;x\\u{7}\\u{7f}b\\u{9b}2J"
        );
        assert!(matches!(
            without_controls("plain ü"),
            std::borrow::Cow::Borrowed("plain ü")
        ));
    }
}
