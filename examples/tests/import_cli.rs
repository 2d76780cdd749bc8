//! The `import` binary as a shell user runs it: the summary on stdout, status 1 whenever the
//! file was not taken whole, errors as one `error: …` line, and a `--help` that says what it
//! reads.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use engagement_core::csv::EVENT_LOG_COLUMNS;

/// A file named `name` in the tests' scratch folder holding `text`.
fn file(name: &str, text: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, text).expect("the scratch folder is writable");
    path
}

/// Runs `import` with `args` and hands back its exit, stdout and stderr.
fn import(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_import"))
        .args(args)
        .output()
        .expect("the import binary runs")
}

/// `import --store memory FILE`, with `options` before the file.
fn import_into_memory(file: &Path, options: &[&str]) -> Output {
    let mut args = vec!["--store", "memory"];
    args.extend_from_slice(options);
    args.push(file.to_str().expect("a UTF-8 path"));
    import(&args)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// That the import succeeded and stored the one line it read.
fn assert_stored_one_line(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        stdout(out).starts_with("1 lines read: 1 stored,"),
        "{out:?}"
    );
}

const HEADER: &str = "event_id,customer_id,name,occurred_at\n";
const GOOD: &str = "e1,7,Page Viewed,2026-01-01T00:00:00Z\n";
const BAD: &str = "e2,7,Page Viewed,yesterday\n";

#[test]
fn a_clean_import_succeeds_and_says_memory_is_discarded() {
    let csv = file("clean.csv", &format!("{HEADER}{GOOD}"));
    let out = import_into_memory(&csv, &[]);
    assert_stored_one_line(&out);
    assert!(
        stderr(&out).contains("Note: memory is discarded when this program exits."),
        "{out:?}"
    );
}

#[test]
fn a_refused_line_fails_the_import_after_storing_the_good_ones() {
    let csv = file("refused.csv", &format!("{HEADER}{GOOD}{BAD}"));
    let out = import_into_memory(&csv, &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    assert!(text.starts_with("2 lines read: 1 stored,"), "{text}");
    assert!(text.contains("1 refused"), "{text}");
    assert!(text.contains("line 3: field `occurred_at`"), "{text}");
}

#[test]
fn an_import_that_stops_early_fails() {
    let directory = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let misspelt = file(
        "misspelt.csv",
        "event_id,customer_id,name,occurred_at,refferer\ne1,7,Page Viewed,2026-01-01T00:00:00Z,x\n",
    );
    let stop_at_bad = file("stop.csv", &format!("{HEADER}{BAD}{GOOD}"));
    for (source, options) in [
        (&directory, &[][..]),
        (&misspelt, &[][..]),
        (&stop_at_bad, &["--stop-on-error"][..]),
    ] {
        let out = import_into_memory(source, options);
        assert_eq!(out.status.code(), Some(1), "{source:?}: {out:?}");
        let text = stdout(&out);
        assert!(text.contains("(stopped early)"), "{source:?}: {text}");
        assert!(text.lines().count() > 1, "the reason is listed: {text}");
    }
}

#[test]
fn errors_print_as_one_line_with_status_1() {
    let csv = file("for-errors.csv", &format!("{HEADER}{GOOD}"));
    let csv = csv.to_str().unwrap();
    for (args, says) in [
        (
            &["--store", "oracle://db", csv][..],
            "invalid setting `url`",
        ),
        (
            &["--store", "memory", "nosuchfile.csv"][..],
            "cannot open nosuchfile.csv",
        ),
    ] {
        let out = import(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        let text = stderr(&out);
        assert!(text.starts_with(&format!("error: {says}")), "{text}");
        assert_eq!(text.lines().count(), 1, "{text}");
    }
}

#[test]
fn the_help_says_what_input_it_reads_and_what_the_status_means() {
    let out = import(&["--help"]);
    assert!(out.status.success(), "{out:?}");
    let help = stdout(&out);
    for text in ["header row", "NDJSON", ".jsonl", "required", "Exit status"] {
        assert!(help.contains(text), "{text:?} missing from {help}");
    }
    for column in EVENT_LOG_COLUMNS.iter().chain(&["user_agent"]) {
        assert!(help.contains(column), "{column:?} missing from {help}");
    }
}

/// The extension names the format in any case: `.JSONL` is NDJSON, not a CSV whose header
/// would be the first JSON line.
#[test]
fn the_extension_names_the_format_in_any_case() {
    let line = r#"{"event_id":"e1","customer_id":7,"name":"Page Viewed","occurred_at":"2026-01-01T00:00:00Z"}"#;
    let ndjson = file("upper.JSONL", &format!("{line}\n"));
    let out = import_into_memory(&ndjson, &[]);
    assert_stored_one_line(&out);
}

/// A line whose id is stored with other content is kept out (the stored event stays): the
/// file was not taken whole, so the status is 1, as for a refused line. It was 0.
#[test]
fn a_line_kept_out_as_a_conflict_fails_the_import() {
    let other = "e1,8,Page Viewed,2026-01-01T00:00:00Z\n";
    let csv = file("conflict.csv", &format!("{HEADER}{GOOD}{other}"));
    let out = import_into_memory(&csv, &[]);
    assert!(
        stdout(&out).contains("1 conflicting ids kept as they were"),
        "{out:?}"
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

/// A conflict is listed with its id (and its line when that is known), as a refused line is:
/// the summary gave only their count.
#[test]
fn a_conflict_says_which_line_or_id_it_was() {
    let csv = file(
        "conflict-named.csv",
        &format!(
            "{HEADER}e1,7,Page Viewed,2026-01-01T00:00:00Z\n\
             e2,7,Page Viewed,2026-01-01T00:00:00Z\n\
             e1,8,Page Viewed,2026-01-01T00:00:00Z\n"
        ),
    );
    let out = import_into_memory(&csv, &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("1 conflicting"), "{text}");
    assert!(
        text.contains("e1") || text.contains("line 4"),
        "the summary does not say which line or id conflicts: {text}"
    );
}

/// With no one reading the summary (`import … | head -1` under `pipefail`), a refused line
/// still fails the import: the broken pipe while printing turned the status into 0.
#[test]
fn a_refused_line_fails_the_import_even_when_no_one_reads_the_summary() {
    let csv = file("refused-unread.csv", &format!("{HEADER}{GOOD}{BAD}"));
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let status = Command::new(env!("CARGO_BIN_EXE_import"))
        .args(["--store", "memory", csv.to_str().expect("a UTF-8 path")])
        .stdout(writer)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("the import binary runs");
    assert_eq!(status.code(), Some(1));
}
