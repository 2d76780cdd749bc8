//! The store's turn to write where the database has one writer at a time
//! ([`Dialect::ONE_WRITER`]), and the checkpoint taken when that writer goes idle
//! ([`Dialect::IDLE_CHECKPOINT`]).
//!
//! SQLite checkpoints its write-ahead log itself only every 1 GiB
//! ([`SqliteStore::options`](crate::SqliteStore::options)): during a bulk load that saves most
//! of the copying, but once the load ends the log stays as long as it is until that much more
//! is written, and every read looks its pages up in it (up to ~18 % slower with 1.3 GiB of
//! it), and under `synchronous = NORMAL` its commits wait for that checkpoint to be synced.
//! So a write that commits while no other write waits for the turn starts a checkpoint beside
//! the writer, at most one at a time and one per [`IDLE_CHECKPOINT_EVERY`]: after a load, its
//! last append copies the log into the database, and a store that writes now and then syncs
//! its commits soon after each quiet spell begins.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, OwnedMutexGuard};

use super::upkeep::{OneAtATime, Running};

/// The least time between two checkpoints started by an idle writer.
pub(crate) const IDLE_CHECKPOINT_EVERY: Duration = Duration::from_secs(10);

/// Whose turn it is to write, how many writes wait for it, and the idle checkpoints.
#[derive(Debug, Default)]
pub(crate) struct WriteTurn {
    lock: Arc<Mutex<()>>,
    waiting: AtomicUsize,
    checkpointing: Arc<OneAtATime>,
    last_checkpoint: SyncMutex<Option<Instant>>,
}

impl WriteTurn {
    /// Waits for the turn, in order of arrival; the write has it until the guard drops.
    pub(crate) async fn take(&self) -> OwnedMutexGuard<()> {
        let _waiting = Waiting::enter(&self.waiting);
        Arc::clone(&self.lock).lock_owned().await
    }

    /// Starts an idle checkpoint if one is due: the write holding `turn` leaves the writer
    /// idle (no other write waits), none is running and none started in the last
    /// [`IDLE_CHECKPOINT_EVERY`]. The checkpoint counts as running until the returned
    /// [`Running`] drops.
    pub(crate) fn idle_checkpoint(&self, _turn: &OwnedMutexGuard<()>) -> Option<Running> {
        if self.waiting.load(Ordering::Acquire) > 0 {
            return None;
        }
        let mut last = self
            .last_checkpoint
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_some_and(|at| at.elapsed() < IDLE_CHECKPOINT_EVERY) {
            return None;
        }
        let run = self.checkpointing.start()?;
        *last = Some(Instant::now());
        Some(run)
    }
}

/// One write waiting for the turn, counted while it waits (also when its future is dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Self(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_checkpoint_is_due_only_when_idle_and_once_per_interval() {
        let turn = Arc::new(WriteTurn::default());
        let first = turn.take().await;
        // Another write waits: not idle.
        let waiter = tokio::spawn({
            let turn = Arc::clone(&turn);
            async move { drop(turn.take().await) }
        });
        while turn.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        assert!(
            turn.idle_checkpoint(&first).is_none(),
            "another write waits"
        );
        drop(first);
        waiter.await.expect("the waiting write");

        let held = turn.take().await;
        let run = turn.idle_checkpoint(&held);
        assert!(run.is_some(), "idle, and none before");
        assert!(turn.idle_checkpoint(&held).is_none(), "one is running");
        drop(run);
        assert!(!turn.checkpointing.is_running(), "it ended");
        assert!(
            turn.idle_checkpoint(&held).is_none(),
            "the last one started less than the interval ago"
        );
    }

    #[tokio::test]
    async fn a_write_given_up_while_waiting_stops_counting() {
        let turn = Arc::new(WriteTurn::default());
        let held = turn.take().await;
        {
            let waiting = std::pin::pin!(turn.take());
            assert!(futures::poll!(waiting).is_pending());
            assert_eq!(turn.waiting.load(Ordering::Acquire), 1);
        }
        assert_eq!(turn.waiting.load(Ordering::Acquire), 0);
        assert!(turn.idle_checkpoint(&held).is_some());
    }
}
