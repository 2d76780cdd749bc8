//! Inline SVG charts: the 7-day sparkline, the 14-day trend line and the funnel step chart.

use engagement_core::report::{DailySeries, FunnelStep};
use maud::{Markup, html};

/// Points of a polyline through `counts`, spread over `width` and scaled into `height` (with a
/// `pad` margin), the largest count at the top.
fn points(counts: &[u64], width: f64, height: f64, pad: f64) -> Vec<(f64, f64)> {
    let max = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = if counts.len() > 1 {
        (width - 2.0 * pad) / (counts.len() - 1) as f64
    } else {
        0.0
    };
    counts
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let x = pad + step * i as f64;
            let y = height - pad - (n as f64 / max) * (height - 2.0 * pad);
            (x, y)
        })
        .collect()
}

fn polyline(points: &[(f64, f64)]) -> String {
    points
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The row sparkline: daily link opens of the last seven days, the last day marked.
pub(crate) fn sparkline(series: &DailySeries) -> Markup {
    let pts = points(&series.counts, 84.0, 22.0, 2.0);
    let title: Vec<String> = series.days().map(|(d, n)| format!("{d}: {n}")).collect();
    html! {
        svg.sparkline width="84" height="22" viewBox="0 0 84 22" role="img" aria-label=(title.join(", ")) {
            title { (title.join(", ")) }
            polyline points=(polyline(&pts)) fill="none" stroke="#1d4ed8" stroke-width="1.5" {}
            @if let Some((x, y)) = pts.last() {
                circle cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r="2" fill="#1d4ed8" {}
            }
        }
    }
}

/// The detail panel's 14-day trend: a line chart with a dot and a date label per day.
pub(crate) fn trend_chart(series: &DailySeries) -> Markup {
    let (w, h) = (380.0, 150.0);
    let pts = points(&series.counts, w, h - 20.0, 16.0);
    let max = series.counts.iter().copied().max().unwrap_or(0);
    html! {
        svg.trend width="380" height="150" viewBox="0 0 380 150" role="img" aria-label="14-day trend of link opens" {
            line x1="16" y1="114" x2="364" y2="114" stroke="#cbd2d9" {}
            text x="2" y="14" { (max) }
            text x="2" y="112" { "0" }
            polyline points=(polyline(&pts)) fill="none" stroke="#1d4ed8" stroke-width="2" {}
            @for ((x, y), (day, n)) in pts.iter().zip(series.days()) {
                circle cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r="3" fill="#1d4ed8" {
                    title { (day) ": " (n) }
                }
                @if day.format("%d").to_string().parse::<u32>().unwrap_or(0) % 2 == 0 {
                    text x=(format!("{:.1}", x - 10.0)) y="134" { (day.format("%m-%d")) }
                }
            }
        }
    }
}

/// The funnel step chart: one bar per step, as wide as its share of step 1.
pub(crate) fn funnel_chart(steps: &[FunnelStep]) -> Markup {
    let first = steps.first().map_or(0, |s| s.reached).max(1) as f64;
    let bar_h = 34.0;
    let height = (steps.len() as f64 * (bar_h + 14.0) + 10.0).max(40.0);
    html! {
        svg.funnel width="760" height=(height) viewBox=(format!("0 0 760 {height}")) role="img" aria-label="funnel steps" {
            @for (i, step) in steps.iter().enumerate() {
                @let y = 6.0 + i as f64 * (bar_h + 14.0);
                @let width = (step.reached as f64 / first * 440.0).max(2.0);
                text x="0" y=(format!("{:.1}", y + 21.0)) { (step.name) }
                rect x="180" y=(format!("{y:.1}")) width=(format!("{width:.1}")) height=(bar_h) rx="3" fill="#60a5fa" {}
                text x=(format!("{:.1}", 186.0 + width)) y=(format!("{:.1}", y + 21.0)) {
                    (step.reached) " (" (format!("{:.1}", step.conversion_from_first * 100.0)) "%)"
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn the_largest_count_is_drawn_highest_and_order_is_kept() {
        let pts = points(&[0, 5, 10], 100.0, 20.0, 0.0);
        assert_eq!(pts, vec![(0.0, 20.0), (50.0, 10.0), (100.0, 0.0)]);
        assert_eq!(points(&[0, 0], 10.0, 10.0, 1.0)[0].1, 9.0);
    }

    #[test]
    fn sparklines_carry_their_days_as_text() {
        let series = DailySeries {
            first_day: NaiveDate::from_ymd_opt(2026, 11, 14).unwrap(),
            counts: vec![1, 0, 0, 0, 0, 0, 4],
        };
        let svg = sparkline(&series).into_string();
        assert!(svg.contains("2026-11-20: 4"), "{svg}");
        assert_eq!(svg.matches("<circle").count(), 1);
        assert_eq!(
            trend_chart(&series)
                .into_string()
                .matches("<circle")
                .count(),
            7
        );
    }
}
