//! [`TimeWindow`]: the half-open UTC span every query is computed over.

use serde::{Deserialize, Serialize};

use super::Timestamp;
use crate::error::{Error, Result};

/// A half-open span of time `[from, to)` in UTC: an event exactly at `from` is in, one exactly at
/// `to` is out, so adjacent windows never count an event twice.
///
/// ```
/// use engagement_core::{TimeWindow, Timestamp};
///
/// let w = TimeWindow::new(Timestamp::from_micros(10), Timestamp::from_micros(20))?;
/// assert!(w.contains(Timestamp::from_micros(10)));
/// assert!(!w.contains(Timestamp::from_micros(20)));
/// assert!(TimeWindow::new(Timestamp::from_micros(2), Timestamp::from_micros(1)).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimeWindow {
    /// First instant inside the window.
    pub from: Timestamp,
    /// First instant after the window.
    pub to: Timestamp,
}

impl TimeWindow {
    /// The window `[from, to)`.
    ///
    /// # Errors
    /// [`Error::InvalidRange`] when `from` is after `to`.
    pub fn new(from: Timestamp, to: Timestamp) -> Result<Self> {
        if from > to {
            return Err(Error::invalid_range(format!(
                "the start {from} is after the end {to}"
            )));
        }
        Ok(Self { from, to })
    }

    /// A window that holds every instant.
    pub const ALL: Self = Self {
        from: Timestamp::MIN,
        to: Timestamp::MAX,
    };

    /// Whether `at` lies inside the window.
    pub fn contains(&self, at: Timestamp) -> bool {
        self.from <= at && at < self.to
    }

    /// Whether the window holds no instant.
    pub fn is_empty(&self) -> bool {
        self.from >= self.to
    }

    /// The part of this window that also lies in `other` (possibly empty).
    #[must_use]
    pub fn intersect(&self, other: &Self) -> Self {
        let from = self.from.max(other.from);
        Self {
            from,
            to: self.to.min(other.to).max(from),
        }
    }
}
