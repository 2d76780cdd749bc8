//! The store's turn to write where the database has one writer at a time
//! ([`Dialect::ONE_WRITER`]), and the checkpoints taken beside that writer
//! ([`Dialect::CHECKPOINT`]).
//!
//! SQLite checkpoints its write-ahead log itself only every 1 GiB
//! ([`SqliteStore::options`](crate::SqliteStore::options)), inside the commit that passes
//! it, which then takes ~0.5 s longer; and once a load ends the log stays as long as it is
//! until that much more is written, and every read looks its pages up in it (up to ~18 %
//! slower with 1.3 GiB of it). So a commit starts a checkpointer beside the writer, on another
//! connection, unless one runs: it copies the log, and while commits keep coming it copies
//! again every [`CHECKPOINT_EVERY`], stopping after a checkpoint during which nothing was
//! committed. Fewer of the writer's commits then reach SQLite's own threshold, the copying
//! runs on another core, and the last write of a load is copied into the database soon after.
//!
//! [`Dialect::ONE_WRITER`]: crate::dialect::Dialect::ONE_WRITER
//! [`Dialect::CHECKPOINT`]: crate::dialect::Dialect::CHECKPOINT

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, OwnedMutexGuard};

use super::upkeep::{OneAtATime, Running};

/// The least time between two checkpoints while commits keep coming: one beside a writer
/// taking 100,000 events/s copies ~2 s of its log.
pub(crate) const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);

/// Whose turn it is to write, the commits made, and the checkpointer beside the writer.
#[derive(Debug, Default)]
pub(crate) struct WriteTurn {
    lock: Arc<Mutex<()>>,
    commits: AtomicU64,
    checkpointing: Arc<OneAtATime>,
}

impl WriteTurn {
    /// Waits for the turn, in order of arrival; the write has it until the guard drops.
    pub(crate) async fn take(&self) -> OwnedMutexGuard<()> {
        Arc::clone(&self.lock).lock_owned().await
    }

    /// Counts a commit, and starts the checkpointer unless it runs; it runs until the
    /// returned [`Running`] drops.
    pub(crate) fn committed(&self) -> Option<Running> {
        self.commits.fetch_add(1, Ordering::AcqRel);
        self.checkpointing.start()
    }

    /// The commits counted so far.
    pub(crate) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Acquire)
    }

    /// Ends the checkpointer holding `run`, whose last checkpoint began after `seen` commits,
    /// if nothing was committed since; otherwise it goes on (`Some`), also for a commit that
    /// came as it was ending and found it still running.
    pub(crate) fn end_checkpointer(&self, run: Running, seen: u64) -> Option<Running> {
        if self.commits() != seen {
            return Some(run);
        }
        drop(run);
        if self.commits() == seen {
            return None;
        }
        self.checkpointing.start()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_checkpointer_runs_and_goes_on_while_commits_come() {
        let turn = WriteTurn::default();
        let run = turn.committed().expect("none ran before");
        assert!(turn.committed().is_none(), "one is running");
        assert_eq!(turn.commits(), 2);
        // It began after the first commit; the second came meanwhile: it goes on.
        let run = turn
            .end_checkpointer(run, 1)
            .expect("a commit came meanwhile");
        // Its next checkpoint began after both: it ends, and the next commit starts another.
        assert!(turn.end_checkpointer(run, 2).is_none());
        assert!(turn.committed().is_some(), "the next commit starts one");
    }

    #[tokio::test]
    async fn a_write_waits_while_the_turn_is_held() {
        let turn = Arc::new(WriteTurn::default());
        let held = turn.take().await;
        let next = tokio::spawn({
            let turn = Arc::clone(&turn);
            async move { drop(turn.take().await) }
        });
        tokio::task::yield_now().await;
        assert!(!next.is_finished(), "the turn is held");
        drop(held);
        next.await.expect("the next write gets the turn");
    }
}
