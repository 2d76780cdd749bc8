//! Upkeep a write leaves behind, run as a task beside the store's next statements: SQLite's
//! checkpoints ([`turn`](super::turn)) and PostgreSQL's planner statistics
//! ([`statistics`](super::statistics)). Each kind runs at most one at a time; the write that
//! starts it does not wait for it, and its failure changes nothing committed (it is logged, and
//! a later write starts it again; one that the store's
//! [`close`](engagement_core::EventStore::close) stopped is not logged).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing::Instrument;

use super::Engine;
use crate::dialect::Dialect;
use crate::error::{SqlError, SqlResult};

/// Whether a kind of upkeep is running.
#[derive(Debug, Default)]
pub(crate) struct OneAtATime(AtomicBool);

impl OneAtATime {
    /// Marks the upkeep running, unless it already is; it runs until the returned [`Running`]
    /// drops, also when the task holding it is cancelled.
    pub(crate) fn start(self: &Arc<Self>) -> Option<Running> {
        (!self.0.swap(true, Ordering::AcqRel)).then(|| Running(Arc::clone(self)))
    }

    /// Whether the upkeep is running.
    #[cfg(test)]
    pub(crate) fn is_running(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// An upkeep running; the next of its kind may start once this drops.
#[derive(Debug)]
pub(crate) struct Running(Arc<OneAtATime>);

impl Drop for Running {
    fn drop(&mut self) {
        (self.0).0.store(false, Ordering::Release);
    }
}

impl<D: Dialect> Engine<D> {
    /// Runs `work` on a clone of the engine as a task of the current runtime (sqlx's pools need
    /// one), holding `run` (a [`Running`] or another guard) until it ends; logs its failure as
    /// `what`. Without a runtime nothing runs, and `run` ends at once.
    ///
    /// The task runs in a `tracing` span of its own, `engagement.upkeep` (field `upkeep`:
    /// `what`), that follows from the caller's span rather than sitting inside it: it outlives
    /// the call that started it and is not that call's work.
    pub(crate) fn beside<F>(
        &self,
        run: impl Send + 'static,
        what: &'static str,
        work: impl FnOnce(Self) -> F,
    ) where
        F: Future<Output = SqlResult<()>> + Send + 'static,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let work = work(self.clone());
        let span = tracing::info_span!(parent: None, "engagement.upkeep", upkeep = what);
        span.follows_from(tracing::Span::current());
        runtime.spawn(
            async move {
                let _run = run;
                match work.await {
                    // The store was closed: nothing is left to keep up.
                    Ok(())
                    | Err(SqlError::Driver {
                        source: sqlx::Error::PoolClosed,
                        ..
                    }) => {}
                    Err(error) => {
                        tracing::warn!(%error, "{what} failed; a later write starts it again");
                    }
                }
            }
            .instrument(span),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_runs_at_a_time_until_its_guard_drops() {
        let kind = Arc::new(OneAtATime::default());
        let run = kind.start();
        assert!(run.is_some());
        assert!(kind.start().is_none(), "one is running");
        drop(run);
        assert!(!kind.is_running());
        assert!(kind.start().is_some(), "the next may start");
    }
}
