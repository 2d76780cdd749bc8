//! The `report` binary as a shell user runs it: its tables on stdout, and a reader that stops
//! early (`report … | head`) ends it quietly.

use std::process::{Command, Output, Stdio};

fn report(args: &[&str], stdout: Stdio) -> Output {
    Command::new(env!("CARGO_BIN_EXE_report"))
        .args(["--store", "memory", "--no-color"])
        .args(args)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("the report binary runs")
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
fn a_reader_that_stops_early_ends_the_report_quietly() {
    let (reader, writer) = std::io::pipe().unwrap();
    // The reader is gone before the report writes a line, as with `| head -0`.
    drop(reader);
    let out = report(&["events", "--range", "24h"], writer.into());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
}
