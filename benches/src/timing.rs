//! Warm medians, as the peer runners measure them.

use std::future::Future;
use std::time::Instant;

use serde_json::{Value, json};

/// Timings of one workload, in the peers' JSON shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Median of the timed runs, in milliseconds.
    pub median_ms: f64,
    /// Fastest run.
    pub min_ms: f64,
    /// Slowest run.
    pub max_ms: f64,
    /// Timed runs.
    pub runs: usize,
    /// The untimed warm-up run.
    pub warmup_ms: f64,
}

impl Timing {
    /// The peers' JSON object.
    pub fn to_json(&self) -> Value {
        json!({
            "median_ms": round2(self.median_ms),
            "min_ms": round2(self.min_ms),
            "max_ms": round2(self.max_ms),
            "runs": self.runs,
            "warmup_ms": round2(self.warmup_ms),
        })
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// One warm-up run, then `runs` timed runs (3 when the warm-up took over 5 s, like the peers).
/// Returns the warm-up's result and the timings.
pub async fn measure<T, F, Fut>(runs: usize, mut f: F) -> (T, Timing)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let start = Instant::now();
    let result = f().await;
    let warmup_ms = start.elapsed().as_secs_f64() * 1e3;
    let runs = if warmup_ms > 5_000.0 {
        runs.min(3)
    } else {
        runs
    }
    .max(1);
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        std::hint::black_box(f().await);
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let timing = Timing {
        median_ms: median(&times),
        min_ms: times[0],
        max_ms: times[times.len() - 1],
        runs,
        warmup_ms,
    };
    (result, timing)
}

/// The median of sorted, non-empty `times`, as Python's `statistics.median` takes it (the
/// peers' runners): the mean of the two middle values for an even count.
fn median(times: &[f64]) -> f64 {
    let middle = times.len() / 2;
    if times.len().is_multiple_of(2) {
        (times[middle - 1] + times[middle]) / 2.0
    } else {
        times[middle]
    }
}

/// Peak resident memory of this process so far, in MiB (Linux `VmHWM`); `None` elsewhere.
pub fn peak_rss_mib() -> Option<f64> {
    status_kib("VmHWM:").map(|kib| kib as f64 / 1024.0)
}

/// Resets this process's peak resident memory to its current resident memory (Linux: writing
/// `5` to `/proc/self/clear_refs`), so that [`peak_rss_mib`] afterwards measures one phase;
/// whether it worked.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Current resident memory of this process, in MiB (Linux `VmRSS`); `None` elsewhere.
pub fn rss_mib() -> Option<f64> {
    status_kib("VmRSS:").map(|kib| kib as f64 / 1024.0)
}

fn status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_timed_runs() {
        let mut calls = 0;
        let (first, t) = futures::executor::block_on(measure(5, || {
            calls += 1;
            let n = calls;
            async move { n }
        }));
        assert_eq!(first, 1);
        assert_eq!(calls, 6);
        assert_eq!(t.runs, 5);
        assert!(t.min_ms <= t.median_ms && t.median_ms <= t.max_ms);
    }

    #[test]
    fn an_even_number_of_runs_takes_the_mean_of_the_middle_two() {
        assert_eq!(median(&[1.0, 2.0, 4.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 4.0, 8.0]), 3.0);
        assert_eq!(median(&[0.55, 0.62]), (0.55 + 0.62) / 2.0);
    }
}
