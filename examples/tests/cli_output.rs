//! The `report` and `demo` binaries as a shell user runs them: their tables on stdout, and a
//! reader that stops early (`report … | head`) ends them quietly; and the command line every
//! binary shares (`--store`, `--help`, `--version`).

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn report(args: &[&str], stdout: Stdio) -> Output {
    report_on("memory", args, stdout)
}

/// `report` over the store `url` names.
fn report_on(url: &str, args: &[&str], stdout: Stdio) -> Output {
    Command::new(env!("CARGO_BIN_EXE_report"))
        .args(["--store", url, "--no-color"])
        .args(args)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("the report binary runs")
}

/// A SQLite file in the tests' scratch folder that `demo-data` has just filled, so that runs of
/// `report` after it read the same events (each `memory` store holds a set of its own, made
/// relative to its own start).
fn demo_store(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let url = format!("sqlite://{}", path.display());
    let out = Command::new(env!("CARGO_BIN_EXE_demo-data"))
        .args(["--store", &url, "--customers", "60"])
        .output()
        .expect("the demo-data binary runs");
    assert!(out.status.success(), "{out:?}");
    url
}

#[test]
fn the_event_log_prints_as_a_table() {
    let out = report(&["events", "--range", "24h"], Stdio::piped());
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("Event Log — "), "{text}");
    assert!(text.contains("events match;"), "{text}");
}

#[test]
fn the_next_page_command_keeps_the_first_pages_window_and_filters() {
    let store = demo_store("next-page.db");
    let first = report_on(
        &store,
        &[
            "events",
            "--range",
            "24h",
            "--name",
            "Page Viewed",
            "--page-size",
            "5",
        ],
        Stdio::piped(),
    );
    let text = String::from_utf8(first.stdout).unwrap();
    let next = text
        .lines()
        .find_map(|line| line.split_once("): ").map(|(_, command)| command))
        .unwrap_or_else(|| panic!("no next page under {text}"));
    assert!(next.contains("'--name=Page Viewed'"), "{next}");
    // As a shell user pastes it after the same options.
    let second = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' --store '{store}' --no-color {next}",
            env!("CARGO_BIN_EXE_report")
        ))
        .output()
        .expect("the shell runs");
    assert!(second.status.success(), "{second:?}");
    let text2 = String::from_utf8(second.stdout).unwrap();
    let window = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("From "))
            .map(str::to_owned)
    };
    assert_eq!(window(&text2), window(&text), "{text2}");
    assert!(text2.starts_with("Event Log — Exact window"), "{text2}");
    let total = |text: &str| {
        text.lines()
            .find(|l| l.contains("events match;"))
            .map(str::to_owned)
    };
    assert_eq!(
        total(&text2).and_then(|l| l.split_whitespace().next().map(str::to_owned)),
        total(&text).and_then(|l| l.split_whitespace().next().map(str::to_owned)),
        "the same filtered log: {text2}"
    );
}

/// Runs `binary` with `args`, its stdout a pipe whose reader is already gone (as with
/// `| head -0`), and checks it ends with success and without a panic or an error.
fn ends_quietly_without_a_reader(binary: &str, args: &[&str]) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(binary)
        .args(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{binary}: {:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{binary}: {stderr}");
    assert!(!stderr.contains("error"), "{binary}: {stderr}");
}

#[test]
fn a_reader_that_stops_early_ends_the_report_quietly() {
    ends_quietly_without_a_reader(
        env!("CARGO_BIN_EXE_report"),
        &[
            "--store",
            "memory",
            "--no-color",
            "events",
            "--range",
            "24h",
        ],
    );
}

#[test]
fn a_reader_that_stops_early_still_gets_the_csv_it_asked_for() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    for (report, name) in [
        ("events", "gone-reader-events.csv"),
        ("engagement", "gone-reader-engagement.csv"),
    ] {
        let csv = dir.join(name);
        let _ = std::fs::remove_file(&csv);
        let csv_arg = csv.display().to_string();
        ends_quietly_without_a_reader(
            env!("CARGO_BIN_EXE_report"),
            &[
                "--store",
                "memory",
                "--no-color",
                report,
                "--range",
                "24h",
                "--csv",
                &csv_arg,
            ],
        );
        let text = std::fs::read_to_string(&csv).expect("the CSV was written");
        assert!(text.lines().count() > 1, "{report}: {text}");
    }
}

/// Options a command would ignore are refused as a command line it cannot parse (status 2,
/// one line), not dropped: `--csv` beside a detail view wrote no file and exited 0.
#[test]
fn options_a_command_would_ignore_are_refused() {
    let csv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ignored.csv");
    let _ = std::fs::remove_file(&csv);
    let csv_arg = csv.display().to_string();
    for (args, said) in [
        (
            vec!["activity", "--customer", "1", "--csv", &csv_arg],
            "--csv",
        ),
        (vec!["events", "--event", "e1", "--csv", &csv_arg], "--csv"),
        (vec!["activity", "--all"], "--all"),
        // A detail view takes none of the list's range, filters or paging.
        (
            vec!["activity", "--customer", "3", "--range", "7d"],
            "--range",
        ),
        (
            vec!["activity", "--customer", "3", "--status", "inactive"],
            "--status",
        ),
        (
            vec!["events", "--event", "e1", "--customer", "999"],
            "--customer",
        ),
        (vec!["events", "--event", "e1", "--name", "Nope"], "--name"),
    ] {
        let out = report(&args, Stdio::piped());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(said), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing printed");
        assert!(!csv.exists(), "{args:?}: no file");
    }
}

#[test]
fn negative_values_read_as_values() {
    // A customer id may be negative; `--customer -5` read as an unknown flag `-5` before, and
    // so did the next-page command the report prints for it.
    let out = report(
        &["events", "--range", "24h", "--customer", "-5"],
        Stdio::piped(),
    );
    assert!(out.status.success(), "{out:?}");
    // And a search for a negative id, or any text starting with `-`.
    for args in [
        ["engagement", "--range", "24h", "--search", "-5"],
        ["activity", "--range", "7d", "--search", "-x"],
    ] {
        let out = report(&args, Stdio::piped());
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
    let out = report(&["funnel", "--window-days", "-3"], Stdio::piped());
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("conversion window"),
        "{out:?}"
    );
}

#[test]
fn a_huge_demo_is_refused_not_aborted() {
    let out = run(
        env!("CARGO_BIN_EXE_demo-data"),
        &["--store", "memory", "--customers", "4294967295"],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn a_reader_that_stops_early_ends_the_demo_quietly() {
    ends_quietly_without_a_reader(env!("CARGO_BIN_EXE_demo"), &["--store", "memory"]);
}

/// Runs `binary` with `args` and hands back its exit, stdout and stderr.
fn run(binary: &str, args: &[&str]) -> Output {
    Command::new(binary)
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Every binary README lists, with its name.
const BINARIES: [(&str, &str); 5] = [
    (env!("CARGO_BIN_EXE_demo"), "demo"),
    (env!("CARGO_BIN_EXE_demo-data"), "demo-data"),
    (env!("CARGO_BIN_EXE_dashboard"), "dashboard"),
    (env!("CARGO_BIN_EXE_report"), "report"),
    (env!("CARGO_BIN_EXE_import"), "import"),
];

#[test]
fn every_binary_answers_help_and_version() {
    for (binary, name) in BINARIES {
        let version = run(binary, &["--version"]);
        assert!(version.status.success(), "{name}: {version:?}");
        assert_eq!(
            String::from_utf8_lossy(&version.stdout).trim(),
            format!("{name} {}", env!("CARGO_PKG_VERSION"))
        );
        let help = run(binary, &["--help"]);
        assert!(help.status.success(), "{name}: {help:?}");
        assert!(
            String::from_utf8_lossy(&help.stdout).contains("--store <STORE>"),
            "{name}: {help:?}"
        );
    }
}

/// A command line a binary cannot parse is one `error: …` line and status 2, as README says
/// (clap's usage block and tips took several lines in all but `report`).
#[test]
fn every_binary_says_what_is_wrong_with_its_command_line_in_one_line() {
    for (binary, name) in BINARIES {
        let out = run(binary, &["--bogus"]);
        assert_eq!(out.status.code(), Some(2), "{name}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(
            stderr.starts_with("error: unexpected argument '--bogus'"),
            "{name}: {stderr}"
        );
    }
    // A missing argument is named on that line too, and a missing report.
    let out = run(env!("CARGO_BIN_EXE_import"), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("<FILE>"), "{stderr}");
    let out = run(env!("CARGO_BIN_EXE_report"), &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains("subcommand"),
        "{stderr}"
    );
}

#[test]
fn the_ranking_footer_names_the_limit_asked_for() {
    let out = report(
        &["engagement", "--range", "48h", "--limit", "3"],
        Stdio::piped(),
    );
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("3 customers (top 3, admin placeholders excluded)."),
        "{text}"
    );
}

#[test]
fn the_demo_takes_its_store_as_an_option() {
    let out = run(env!("CARGO_BIN_EXE_demo"), &["--store", "memory"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Loaded "), "{text}");
    assert!(text.contains("Customer Engagement — last 60 min"), "{text}");
}

/// The `engagement` report's stdout over `store` for `args` after the fixed `range`.
fn engagement_text(store: &str, range: &[String], args: &[&str]) -> String {
    let mut all: Vec<&str> = vec!["engagement"];
    all.extend(range.iter().map(String::as_str));
    all.extend(args);
    let out = report_on(store, &all, Stdio::piped());
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_search_by_id_prints_where_a_customer_outside_the_rows_ranks() {
    let store = demo_store("standing.db");
    // One exact window for every run, whenever each starts.
    let now = chrono::Utc::now();
    let instant =
        |at: chrono::DateTime<chrono::Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let range = vec![
        "--range".to_owned(),
        "between".to_owned(),
        format!("--from={}", instant(now - chrono::TimeDelta::hours(48))),
        format!("--to={}", instant(now)),
    ];
    // The whole ranking (the demo's 60 customers fit in its 100 rows), as its CSV.
    let full = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("standing-full.csv");
    let full_arg = full.display().to_string();
    engagement_text(&store, &range, &["--csv", &full_arg]);
    let csv = std::fs::read_to_string(&full).unwrap();
    let eighth: Vec<&str> = csv
        .lines()
        .find(|line| line.starts_with("8,"))
        .unwrap_or_else(|| panic!("the ranking has an 8th row: {csv}"))
        .split(',')
        .collect();
    let (id, score, band) = (eighth[1], eighth[4], eighth[5].trim_matches('"'));

    let text = engagement_text(
        &store,
        &range,
        &["--limit", "3", "--search", &format!("#{id}")],
    );
    let want = format!(
        "Customer #{id} is not in the top 3: rank 8 in this window, engagement score {score} \
         ({band})."
    );
    assert!(text.contains(&want), "{want}\n{text}");
    // The command it prints lists exactly the events the score counts.
    let command = text
        .lines()
        .find_map(|line| line.strip_prefix("Its events: report "))
        .unwrap_or_else(|| panic!("no events command: {text}"));
    let words: Vec<&str> = command.split(' ').collect();
    let events = report_on(&store, &words, Stdio::piped());
    let events = String::from_utf8(events.stdout).unwrap();
    assert!(
        events.contains(&format!("\n{score} events match;")),
        "{command}\n{events}"
    );

    let unknown = engagement_text(&store, &range, &["--search", "987654321"]);
    assert!(
        unknown.contains("Customer #987654321 is not ranked in this window"),
        "{unknown}"
    );
    let nobody = engagement_text(&store, &range, &["--limit", "3", "--search", "zz-nobody"]);
    assert!(
        nobody.contains("No customer among the top 3 matches “zz-nobody”."),
        "{nobody}"
    );
}
