//! The injected clock: reports never read the system time directly.

use std::fmt::Debug;
use std::sync::atomic::{AtomicI64, Ordering};

use super::Timestamp;

/// A source of "now". The quick ranges ("last 15 min") end at it.
pub trait Clock: Debug + Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system's real-time clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// The system time, read as microseconds since the epoch (no calendar conversion: the
    /// ingestion path reads it once per event).
    fn now(&self) -> Timestamp {
        let micros = |d: std::time::Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(after) => Timestamp::from_micros(micros(after)),
            Err(before) => Timestamp::from_micros(-micros(before.duration())),
        }
    }
}

/// A clock that says what it is told: for tests, demos and reproducible benchmarks.
///
/// ```
/// use engagement_core::{Clock, FixedClock, Timestamp};
///
/// let clock = FixedClock::new("2026-11-20T00:00:00Z".parse()?);
/// assert_eq!(clock.now().to_string(), "2026-11-20T00:00:00.000000Z");
/// clock.set(Timestamp::EPOCH);
/// assert_eq!(clock.now(), Timestamp::EPOCH);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    /// A clock stopped at `now`.
    #[must_use]
    pub fn new(now: Timestamp) -> Self {
        Self(AtomicI64::new(now.as_micros()))
    }

    /// Moves the clock to `now`.
    pub fn set(&self, now: Timestamp) {
        self.0.store(now.as_micros(), Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_agrees_with_the_calendar_clock() {
        let before = Timestamp::from_datetime(&chrono::Utc::now());
        let now = SystemClock.now();
        let after = Timestamp::from_datetime(&chrono::Utc::now());
        assert!(
            before <= now && now <= after,
            "{before} <= {now} <= {after}"
        );
    }
}
