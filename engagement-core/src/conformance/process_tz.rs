//! Acceptance case 24: nothing depends on the process's `TZ`.
//!
//! The library keeps instants as UTC microseconds and takes every zone as a value, so the
//! process's local zone should never matter. This module proves it rather than promising it: it
//! reruns named tests of the current test binary in child processes whose `TZ` is set far from
//! UTC, and fails unless each child ran every one of them and all passed. (Setting `TZ` inside
//! the running process would need `unsafe` `std::env::set_var`, which the workspace denies.)

use std::process::Command;

use chrono::{Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// Zones the children run in: the largest offset east (+14:00), a half-hour offset west with
/// daylight saving (−03:30/−02:30), and a 45-minute offset (+12:45/+13:45).
pub const PROCESS_ZONES: [&str; 3] = ["Pacific/Kiritimati", "America/St_Johns", "Pacific/Chatham"];

/// Set in a child's environment, so a rerun never spawns reruns of its own.
const CHILD_MARK: &str = "ENGAGEMENT_PROCESS_TZ_CHILD";

/// The conformance cases whose answers involve instants, windows, local days or cutoffs.
pub const TIME_CASES: [&str; 7] = [
    "windows_are_half_open",
    "every_field_round_trips",
    "bucket_counts_follow_local_days",
    "activity_counts_milestones",
    "export_streams_everything_in_order",
    "funnel_input_follows_its_definition",
    "purge_before_cutoff",
];

/// Reruns `tests` (names of `#[test]` functions in the calling test binary) once per zone of
/// [`PROCESS_ZONES`], each time in a child process whose `TZ` is that zone, and panics unless
/// every child passed exactly as many tests as were named. Inside a child it returns at once.
///
/// Before it trusts a child, it checks that this machine honours `TZ` at all: `date +%z` under
/// each zone must print that zone's current offset, or the rerun would prove nothing.
///
/// # Panics
/// When a child fails, runs a different number of tests, cannot be started, or when `TZ` is
/// not honoured on this machine.
pub fn rerun_under_process_zones(tests: &[&str]) {
    if std::env::var_os(CHILD_MARK).is_some() {
        return;
    }
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current test binary: {e}"));
    for zone in PROCESS_ZONES {
        assert_tz_is_honoured(zone);
        let output = Command::new(&exe)
            .args(tests)
            .args(["--exact", "--test-threads=1"])
            .env("TZ", zone)
            .env(CHILD_MARK, zone)
            .output()
            .unwrap_or_else(|e| panic!("start {} under TZ={zone}: {e}", exe.display()));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "under TZ={zone} the rerun failed:\n{stdout}\n{stderr}"
        );
        assert_eq!(
            passed_count(&stdout),
            Some(tests.len()),
            "under TZ={zone} the rerun did not pass each of {tests:?} once:\n{stdout}"
        );
    }
}

/// The `N` of libtest's `test result: ok. N passed; …` summary line.
fn passed_count(stdout: &str) -> Option<usize> {
    let summary = stdout
        .lines()
        .find_map(|line| line.strip_prefix("test result: ok. "))?;
    summary.split(' ').next()?.parse().ok()
}

fn assert_tz_is_honoured(zone: &str) {
    let tz: Tz = zone
        .parse()
        .unwrap_or_else(|e| panic!("{zone} is not an IANA zone: {e}"));
    let seconds = tz
        .offset_from_utc_datetime(&Utc::now().naive_utc())
        .fix()
        .local_minus_utc();
    let sign = if seconds < 0 { '-' } else { '+' };
    let expected = format!(
        "{sign}{:02}{:02}",
        seconds.abs() / 3600,
        seconds.abs() % 3600 / 60
    );
    let output = Command::new("date")
        .arg("+%z")
        .env("TZ", zone)
        .output()
        .unwrap_or_else(|e| panic!("run `date` to check that TZ is honoured: {e}"));
    let printed = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        printed.trim(),
        expected,
        "TZ={zone} is not honoured on this machine (no zoneinfo?), so rerunning under it proves nothing"
    );
}

#[cfg(test)]
mod tests {
    use super::passed_count;

    #[test]
    fn reads_the_libtest_summary() {
        let out =
            "running 2 tests\ntest a ... ok\n\ntest result: ok. 2 passed; 0 failed; 0 ignored";
        assert_eq!(passed_count(out), Some(2));
        assert_eq!(
            passed_count("test result: FAILED. 1 passed; 1 failed"),
            None
        );
        assert_eq!(passed_count(""), None);
    }
}
