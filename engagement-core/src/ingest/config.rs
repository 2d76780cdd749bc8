//! How the [`Ingestor`](super::Ingestor) batches, queues and retries.

use std::time::Duration;

use tokio::sync::Semaphore;

use crate::error::{Error, Result};
use crate::model::validate::Limits;

/// Settings of an [`Ingestor`](super::Ingestor).
///
/// ```
/// use std::time::Duration;
/// use engagement_core::ingest::IngestConfig;
///
/// let config = IngestConfig {
///     max_batch: 500,
///     max_age: Duration::from_millis(100),
///     ..IngestConfig::default()
/// };
/// assert_eq!(config.queue_capacity, 100_000);
/// assert_eq!(config.max_concurrent_appends, 4);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct IngestConfig {
    /// Flush a workspace's batch when it holds this many events (default 1,000; 1 to
    /// [`Limits::max_batch_events`] and at most `max_joined_batch`, or
    /// [`Ingestor::start`](super::Ingestor::start) refuses it).
    pub max_batch: usize,
    /// Flush a batch when its oldest event has waited this long (default 250 ms). A wait no
    /// clock reaches (`Duration::MAX`) never flushes by age: batches then close by size,
    /// [`flush`](super::Ingestor::flush) and [`shutdown`](super::Ingestor::shutdown) only.
    pub max_age: Duration,
    /// Events queued and not yet taken into a batch, at most (default 100,000). A full queue
    /// makes [`send`](super::Ingestor::send) wait and [`try_send`](super::Ingestor::try_send)
    /// fail. Beyond the queue, memory holds at most one open batch per workspace, about
    /// `max_joined_batch` events in batches waiting for an append, and
    /// `max_concurrent_appends` batches being written.
    pub queue_capacity: usize,
    /// Batches being appended at once, at most (default 4). Appends start in the order their
    /// batches closed, each once the one before it has started, so a store that writes
    /// without awaiting I/O (the in-memory one) takes them in that order. A database's appends
    /// overlap and may land out of order, which changes nothing for distinct event ids
    /// (appends are idempotent and counted per batch); a batch that shares an event id with
    /// one being appended waits for it to end (holding back the later batches of its
    /// workspace; other workspaces' go past it), so when one id is sent twice with different
    /// payloads, the first sent is the one kept and the second is reported a conflict. Set 1
    /// to append batches strictly one after another.
    pub max_concurrent_appends: usize,
    /// Events one append takes at most when batches are joined (default 10,000; from
    /// `max_batch` to [`Limits::max_batch_events`]). A batch that closes while
    /// `max_concurrent_appends` appends run waits for one to end, and the batches of its
    /// workspace that close meanwhile join it up to this many events: a store that has fallen
    /// behind then gets fewer, larger appends (one commit each) instead of a line of small
    /// ones, and their events would have waited anyway. Set it to `max_batch` to write every
    /// batch on its own.
    pub max_joined_batch: usize,
    /// How failed appends are retried.
    pub retry: RetryPolicy,
    /// Validation applied by `send` before an event is queued.
    pub limits: Limits,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_batch: 1_000,
            max_age: Duration::from_millis(250),
            queue_capacity: 100_000,
            max_concurrent_appends: 4,
            max_joined_batch: 10_000,
            retry: RetryPolicy::default(),
            limits: Limits::default(),
        }
    }
}

impl IngestConfig {
    /// Checks the settings an [`Ingestor`](super::Ingestor) cannot run with: a batch of no
    /// events or of more than [`Limits::max_batch_events`] (the store would refuse every such
    /// append), an empty queue or one beyond what it can count, no append in flight.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the setting.
    pub(crate) fn check(&self) -> Result<()> {
        self.limits.check_batch_size("max_batch", self.max_batch)?;
        self.limits
            .check_batch_size("max_joined_batch", self.max_joined_batch)?;
        if self.max_joined_batch < self.max_batch {
            return Err(Error::invalid_config(
                "max_joined_batch",
                format!(
                    "{} events per joined append is less than one batch of {} (max_batch)",
                    self.max_joined_batch, self.max_batch
                ),
            ));
        }
        if !(1..=Semaphore::MAX_PERMITS).contains(&self.queue_capacity) {
            return Err(Error::invalid_config(
                "queue_capacity",
                format!(
                    "a queue of {} events: it takes 1 to {}",
                    self.queue_capacity,
                    Semaphore::MAX_PERMITS
                ),
            ));
        }
        if self.max_concurrent_appends == 0 {
            return Err(Error::invalid_config(
                "max_concurrent_appends",
                "no append in flight would write nothing: it takes 1 or more",
            ));
        }
        if self.retry.max_backoff > MAX_BACKOFF {
            return Err(Error::invalid_config(
                "retry.max_backoff",
                format!(
                    "a wait of {:?} between attempts would hold a shutdown as long: it takes up to {:?}",
                    self.retry.max_backoff, MAX_BACKOFF
                ),
            ));
        }
        if self.retry.max_attempts == 0 {
            return Err(Error::invalid_config(
                "retry.max_attempts",
                "no attempt would write nothing: it counts every attempt, the first included, so 1 or more",
            ));
        }
        Ok(())
    }
}

/// The longest [`RetryPolicy::max_backoff`] an ingestor takes: a shutdown waits for the batches
/// in flight, their waits between attempts included.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3_600);

/// Exponential backoff for failed appends. Retrying is safe because appends are idempotent.
///
/// The default tries for about a minute (the 20th attempt 66 s after the first), so that a
/// batch outlives a database's restart or failover instead of being given up. Only errors that
/// may pass are retried ([`Error::is_retryable`](crate::Error::is_retryable)): a batch the store
/// refuses for good ([`Error::Refused`], say) is given up at its first
/// attempt. While the store is down, a [`shutdown`](super::Ingestor::shutdown) waits up to that
/// minute for the batches in flight; a host that must stop sooner sets fewer attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (default 20).
    pub max_attempts: u32,
    /// Wait before the second attempt (default 50 ms); doubled each time.
    pub initial_backoff: Duration,
    /// Longest wait between attempts (default 5 s; at most [`MAX_BACKOFF`]).
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 20,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based), or `None` when no attempt is left.
    pub fn backoff(&self, attempt: u32) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let factor = 2_u32.saturating_pow(attempt.saturating_sub(1));
        Some(
            self.initial_backoff
                .saturating_mul(factor)
                .min(self.max_backoff),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_an_ingestor_cannot_run_with_are_named() {
        assert!(IngestConfig::default().check().is_ok());
        let most = Limits::default().max_batch_events;
        let bad = [
            (
                "max_batch",
                IngestConfig {
                    max_batch: 0,
                    ..IngestConfig::default()
                },
            ),
            (
                "max_batch",
                IngestConfig {
                    max_batch: most + 1,
                    ..IngestConfig::default()
                },
            ),
            (
                "queue_capacity",
                IngestConfig {
                    queue_capacity: 0,
                    ..IngestConfig::default()
                },
            ),
            (
                "queue_capacity",
                IngestConfig {
                    queue_capacity: Semaphore::MAX_PERMITS + 1,
                    ..IngestConfig::default()
                },
            ),
            (
                "max_concurrent_appends",
                IngestConfig {
                    max_concurrent_appends: 0,
                    ..IngestConfig::default()
                },
            ),
            (
                "max_joined_batch",
                IngestConfig {
                    max_batch: 2_000,
                    max_joined_batch: 1_999,
                    ..IngestConfig::default()
                },
            ),
            (
                "max_joined_batch",
                IngestConfig {
                    max_joined_batch: most + 1,
                    ..IngestConfig::default()
                },
            ),
            (
                "retry.max_backoff",
                IngestConfig {
                    retry: RetryPolicy {
                        initial_backoff: Duration::MAX,
                        max_backoff: MAX_BACKOFF + Duration::from_nanos(1),
                        ..RetryPolicy::default()
                    },
                    ..IngestConfig::default()
                },
            ),
            (
                "retry.max_attempts",
                IngestConfig {
                    retry: RetryPolicy {
                        max_attempts: 0,
                        ..RetryPolicy::default()
                    },
                    ..IngestConfig::default()
                },
            ),
        ];
        for (setting, config) in bad {
            match config.check() {
                Err(Error::InvalidConfig { setting: named, .. }) => assert_eq!(named, setting),
                other => panic!("{setting}: {other:?}"),
            }
        }
        let largest = IngestConfig {
            max_batch: most,
            max_joined_batch: most,
            retry: RetryPolicy {
                initial_backoff: Duration::MAX,
                max_backoff: MAX_BACKOFF,
                ..RetryPolicy::default()
            },
            ..IngestConfig::default()
        };
        assert!(largest.check().is_ok());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_then_stops() {
        let policy = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
        };
        let waits: Vec<_> = (1..=5).map(|a| policy.backoff(a)).collect();
        assert_eq!(
            waits,
            vec![
                Some(Duration::from_millis(100)),
                Some(Duration::from_millis(200)),
                Some(Duration::from_millis(300)),
                Some(Duration::from_millis(300)),
                None
            ]
        );
    }
}
