//! Score bands: how the engagement score is read.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How a score reads. Ours are half-open so every score has exactly one band (the product
/// document's edges overlap: "Low (1-10)", "Medium (10-50)").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreBand {
    /// Minimal activity: viewing a few pages or updating a profile.
    Low,
    /// A normal shopping or browsing session.
    Medium,
    /// A power user, extensive customisation, or multiple orders.
    High,
    /// Investigate: automation, errors, or an extremely engaged user.
    VeryHigh,
}

impl ScoreBand {
    /// The display name ("Low", "Medium", "High", "Very High").
    pub fn label(self) -> &'static str {
        match self {
            Self::Low => "Low",
            Self::Medium => "Medium",
            Self::High => "High",
            Self::VeryHigh => "Very High",
        }
    }
}

/// The lower edges of the bands and of the investigate flag.
///
/// Defaults: Low `[1, 10)`, Medium `[10, 50)`, High `[50, 200)`, Very High `[200, ∞)`, and the
/// separate "investigate" flag from 1000 ("Ignoring very high scores (1000+)").
///
/// ```
/// use engagement_core::report::{BandThresholds, ScoreBand};
///
/// let bands = BandThresholds::default();
/// assert_eq!(bands.band(9), ScoreBand::Low);
/// assert_eq!(bands.band(10), ScoreBand::Medium);
/// assert!(bands.investigate(1000));
/// assert!(BandThresholds::new(50, 10, 200, 1000).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Read from JSON (a host's settings), the edges are checked as [`new`](Self::new) checks
/// them: thresholds that do not rise are refused, not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Edges")]
pub struct BandThresholds {
    medium: u64,
    high: u64,
    very_high: u64,
    investigate: u64,
}

/// [`BandThresholds`] as it is read, before its check.
#[derive(Deserialize)]
struct Edges {
    medium: u64,
    high: u64,
    very_high: u64,
    investigate: u64,
}

impl TryFrom<Edges> for BandThresholds {
    type Error = Error;

    fn try_from(e: Edges) -> Result<Self> {
        Self::new(e.medium, e.high, e.very_high, e.investigate)
    }
}

impl Default for BandThresholds {
    fn default() -> Self {
        Self {
            medium: 10,
            high: 50,
            very_high: 200,
            investigate: 1000,
        }
    }
}

impl BandThresholds {
    /// Bands starting at `medium`, `high` and `very_high`, and the investigate flag at
    /// `investigate`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless `1 < medium < high < very_high ≤ investigate`.
    pub fn new(medium: u64, high: u64, very_high: u64, investigate: u64) -> Result<Self> {
        if !(1 < medium && medium < high && high < very_high && very_high <= investigate) {
            return Err(Error::invalid_config(
                "bands",
                format!(
                    "band edges must rise: 1 < medium ({medium}) < high ({high}) < very high \
                     ({very_high}) <= investigate ({investigate})"
                ),
            ));
        }
        Ok(Self {
            medium,
            high,
            very_high,
            investigate,
        })
    }

    /// The band of a score.
    pub fn band(&self, score: u64) -> ScoreBand {
        match score {
            s if s >= self.very_high => ScoreBand::VeryHigh,
            s if s >= self.high => ScoreBand::High,
            s if s >= self.medium => ScoreBand::Medium,
            _ => ScoreBand::Low,
        }
    }

    /// Whether a score is high enough to investigate (automation, loops, errors).
    pub fn investigate(&self, score: u64) -> bool {
        score >= self.investigate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_read_from_json_are_checked() {
        let json = serde_json::to_string(&BandThresholds::default()).unwrap();
        assert_eq!(
            serde_json::from_str::<BandThresholds>(&json).unwrap(),
            BandThresholds::default()
        );
        let falling = r#"{"medium":50,"high":10,"very_high":200,"investigate":1000}"#;
        let err = serde_json::from_str::<BandThresholds>(falling).unwrap_err();
        assert!(err.to_string().contains("band edges must rise"), "{err}");
    }

    #[test]
    fn every_default_edge() {
        let b = BandThresholds::default();
        let cases = [
            (1, ScoreBand::Low),
            (9, ScoreBand::Low),
            (10, ScoreBand::Medium),
            (49, ScoreBand::Medium),
            (50, ScoreBand::High),
            (199, ScoreBand::High),
            (200, ScoreBand::VeryHigh),
            (u64::MAX, ScoreBand::VeryHigh),
        ];
        for (score, band) in cases {
            assert_eq!(b.band(score), band, "score {score}");
        }
        assert!(!b.investigate(999));
        assert!(b.investigate(1000));
    }

    #[test]
    fn custom_edges_are_checked_and_used() {
        let b = BandThresholds::new(5, 20, 100, 100).unwrap();
        assert_eq!(b.band(4), ScoreBand::Low);
        assert_eq!(b.band(5), ScoreBand::Medium);
        assert_eq!(b.band(100), ScoreBand::VeryHigh);
        assert!(b.investigate(100));
        for bad in [(1, 20, 100, 100), (20, 20, 100, 100), (5, 20, 100, 99)] {
            assert!(
                BandThresholds::new(bad.0, bad.1, bad.2, bad.3).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn labels() {
        assert_eq!(ScoreBand::VeryHigh.label(), "Very High");
    }
}
