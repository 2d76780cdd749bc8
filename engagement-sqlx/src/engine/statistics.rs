//! The planner's statistics of the store's tables, refreshed after bulk writes where the
//! database may not do it in time ([`Dialect::ANALYSIS`]: PostgreSQL).
//!
//! PostgreSQL plans from statistics that `ANALYZE` gathers, and only autovacuum gathers them on its
//! own: a minute or more after a bulk import, or never where it is turned off. Planned without
//! them, the activity page joined the matching customers to the rollup in a nested loop that
//! aggregated the rollup again for every customer: over 16 minutes at 1M events before it was
//! cancelled, where the same page takes about a second at 10M once analysed. So the store counts
//! the rows its writes change and vacuums and analyses its tables in a task beside the next
//! writes:
//!
//! - once the rows reach [`STALE_AFTER_ROWS`] and half the events its last analysis counted:
//!   during a bulk load each time the events have grown by half, then rarely;
//! - once at least [`STALE_AFTER_ROWS`] changed and then no write committed for [`QUIET`]: the
//!   end of a load or of a burst, but no sooner than [`SPACING`] times the last analysis's
//!   duration after it ended, so that a store written in bursts spends at most a tenth of one
//!   connection's time on them (at 10M events one takes about a second). Without this, the
//!   last 900,000 events of a 10M-event load from empty were never analysed, and the newest
//!   day's rollup rows, which the statistics did not know, were estimated at one: the 24-hour
//!   ranking read the whole day through the rollup's day index (each row's page too, as the
//!   vacuum had not been there either) instead of its 200 candidates' rows by the key, 69 ms
//!   instead of 12.
//!
//! An analysis due by growth takes a connection only if one is idle (the writes go on meanwhile),
//! one after quiet writes waits for one; each skips a table another transaction has locked, and
//! what it could not do, the next write starts again.
//! [`PostgresStore::refresh_statistics`](crate::PostgresStore::refresh_statistics) runs one at
//! once and waits for it.
//!
//! The database's own counters of rows changed since the last analysis cannot decide it: a
//! backend reports them up to seconds after its commit, so a check right after a load's last
//! append would find nothing to do. Where autovacuum runs, these analyses come on top of its
//! own; each samples 30,000 rows a table, and the vacuum reads the pages written since the
//! last.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::Engine;
use super::upkeep::{OneAtATime, Running};
use crate::dialect::{Dialect, ReadRow};
use crate::error::SqlResult;

/// The fewest rows changed for the tables to be analysed again (on top of half the events
/// counted by the last analysis, or once the writes are quiet).
const STALE_AFTER_ROWS: u64 = 1_000;

/// How long no write commits before the rows changed since the last analysis are analysed.
const QUIET: Duration = Duration::from_secs(1);

/// An analysis after quiet writes comes no sooner than this many times the last analysis's
/// duration after its end.
const SPACING: u32 = 10;

/// An analysis a committed write leaves behind.
#[derive(Debug)]
pub(crate) enum Due {
    /// Analyse now; the analysis runs until the guard drops.
    Now(OwnedMutexGuard<()>),
    /// Wait for the writes to be [`QUIET`], then analyse if the rows are still unanalysed; one
    /// waits at a time, until the [`Running`] drops.
    WhenQuiet(Running),
}

/// The rows the store's writes changed since its last analysis, and how many make the next.
#[derive(Debug)]
pub(crate) struct StatisticsWatch {
    changed: AtomicU64,
    due_after: AtomicU64,
    /// Writes counted so far: unchanged over [`QUIET`] means quiet.
    writes: AtomicU64,
    /// Held while an analysis runs.
    analysing: Arc<Mutex<()>>,
    /// When an analysis after quiet writes may start: [`SPACING`] times the last analysis's
    /// duration after its end.
    spaced_until: SyncMutex<Option<Instant>>,
    waiting_for_quiet: Arc<OneAtATime>,
}

impl Default for StatisticsWatch {
    fn default() -> Self {
        Self {
            changed: AtomicU64::new(0),
            due_after: AtomicU64::new(STALE_AFTER_ROWS),
            writes: AtomicU64::new(0),
            analysing: Arc::default(),
            spaced_until: SyncMutex::new(None),
            waiting_for_quiet: Arc::default(),
        }
    }
}

impl StatisticsWatch {
    /// Counts a committed write that changed `rows`, and says which analysis it leaves behind:
    /// one now when enough rows changed since the last began and none is running, otherwise
    /// one when the writes are quiet if enough to be stale changed and none waits for that.
    pub(crate) fn note(&self, rows: u64) -> Option<Due> {
        self.writes.fetch_add(1, Ordering::AcqRel);
        let changed = self.changed.fetch_add(rows, Ordering::AcqRel) + rows;
        if changed >= self.due_after.load(Ordering::Acquire)
            && let Some(run) = self.start()
        {
            return Some(Due::Now(run));
        }
        if changed < STALE_AFTER_ROWS {
            return None;
        }
        self.waiting_for_quiet.start().map(Due::WhenQuiet)
    }

    /// The writes counted so far.
    fn writes(&self) -> u64 {
        self.writes.load(Ordering::Acquire)
    }

    /// When an analysis after quiet writes may start, if not yet.
    fn spaced_until(&self) -> Option<Instant> {
        let until = *self
            .spaced_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        until.filter(|at| *at > Instant::now())
    }

    /// Records an analysis that ran from `started` until now.
    fn ran(&self, started: Instant) {
        let ended = Instant::now();
        let spacing = ended.duration_since(started).saturating_mul(SPACING);
        *self
            .spaced_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = ended.checked_add(spacing);
    }

    /// Starts an analysis unless one runs; the rows changed from now on count for the next.
    fn start(&self) -> Option<OwnedMutexGuard<()>> {
        let run = Arc::clone(&self.analysing).try_lock_owned().ok()?;
        self.changed.store(0, Ordering::Release);
        Some(run)
    }

    /// Whether enough rows changed since the last analysis began to analyse once quiet.
    fn stale(&self) -> bool {
        self.changed.load(Ordering::Acquire) >= STALE_AFTER_ROWS
    }

    /// Waits for a running analysis to end, then starts one.
    #[cfg(any(feature = "postgres", test))]
    async fn start_waiting(&self) -> OwnedMutexGuard<()> {
        let run = Arc::clone(&self.analysing).lock_owned().await;
        self.changed.store(0, Ordering::Release);
        run
    }

    /// Sets the next analysis after an analysis counted `events`.
    fn analysed(&self, events: u64) {
        let due = STALE_AFTER_ROWS.saturating_add(events / 2);
        self.due_after.store(due, Ordering::Release);
    }

    /// Makes the next write start the analysis that could not run now.
    fn retry(&self) {
        let due = self.due_after.load(Ordering::Acquire);
        self.changed.fetch_add(due, Ordering::AcqRel);
    }
}

impl<D: Dialect> Engine<D> {
    /// Starts in a task beside the next statements the analysis a committed write that
    /// changed `rows` leaves behind, if any ([`StatisticsWatch::note`]).
    pub(crate) fn note_changed(&self, rows: u64) {
        if D::ANALYSIS.is_none() {
            return;
        }
        match self.statistics.note(rows) {
            Some(Due::Now(run)) => {
                self.beside(run, "analysing the tables", Self::analyse_if_idle);
            }
            Some(Due::WhenQuiet(waiting)) => {
                self.beside(waiting, "analysing the tables", Self::analyse_when_quiet);
            }
            None => {}
        }
    }

    /// Analyses the tables once no write committed for [`QUIET`], the last analysis is
    /// [`SPACING`] times its duration behind and none runs, if enough rows are still
    /// unanalysed by then and the pool is open; waits for a pooled connection (the writes
    /// are quiet, and only this one task waits).
    async fn analyse_when_quiet(self) -> SqlResult<()> {
        loop {
            let seen = self.statistics.writes();
            tokio::time::sleep(QUIET).await;
            if let Some(until) = self.statistics.spaced_until() {
                tokio::time::sleep_until(until.into()).await;
                continue;
            }
            if self.statistics.writes() != seen {
                continue;
            }
            if !self.statistics.stale() || self.pool.is_closed() {
                return Ok(());
            }
            if let Some(_run) = self.statistics.start() {
                return self.analyse_on_pool().await;
            }
        }
    }

    /// Analyses the tables on a pooled connection if one is idle (the host's queries do not
    /// wait for one because of it); otherwise the next write starts the analysis again.
    async fn analyse_if_idle(self) -> SqlResult<()> {
        match self.pool.try_acquire() {
            Some(conn) => self.analyse(conn).await,
            None => {
                self.statistics.retry();
                Ok(())
            }
        }
    }

    /// Analyses the tables now: waits for an analysis that runs and for a connection.
    #[cfg(feature = "postgres")]
    pub(crate) async fn refresh_statistics(&self) -> SqlResult<()> {
        if D::ANALYSIS.is_none() {
            return Ok(());
        }
        let _run = self.statistics.start_waiting().await;
        self.analyse_on_pool().await
    }

    /// [`Self::analyse`] on a pooled connection, waited for; without one in time, the next
    /// write starts the analysis.
    async fn analyse_on_pool(&self) -> SqlResult<()> {
        match self.acquire().await {
            Ok(conn) => self.analyse(conn).await,
            Err(error) => {
                self.statistics.retry();
                Err(error)
            }
        }
    }

    /// Runs the dialect's analysis of the store's tables (PostgreSQL: `VACUUM (ANALYZE)`) on
    /// `conn`, then sets when the next is due (see the module); after a failure, the next
    /// write starts it again.
    async fn analyse(&self, mut conn: PoolConnection<D::DB>) -> SqlResult<()> {
        let Some(analysis) = D::ANALYSIS else {
            return Ok(());
        };
        let tables = [
            &*self.tables.events,
            &*self.tables.daily,
            &*self.tables.totals,
            &*self.tables.log_counts,
            &*self.tables.customers,
        ];
        let mut analyze = D::sql();
        analyze
            .push(analysis.analyze)
            .push(&tables.join(", "))
            .one_off();
        let mut estimate = D::sql();
        (analysis.push_estimated_rows)(&mut estimate, &self.tables.events);
        let analysed = async {
            D::execute(&mut conn, analyze, "analyse the tables").await?;
            let rows = D::fetch_all(&mut conn, estimate, "read the estimated events").await?;
            rows.first().map_or(Ok(0), |row| row.int(0))
        };
        let started = Instant::now();
        let analysed = analysed.await;
        self.statistics.ran(started);
        match analysed {
            Ok(events) => {
                self.statistics.analysed(u64::try_from(events).unwrap_or(0));
                Ok(())
            }
            Err(error) => {
                self.statistics.retry();
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_now(due: Option<Due>) -> Option<OwnedMutexGuard<()>> {
        match due {
            Some(Due::Now(run)) => Some(run),
            _ => None,
        }
    }

    #[test]
    fn an_analysis_is_due_once_the_events_grew_by_half() {
        let watch = StatisticsWatch::default();
        assert!(watch.note(STALE_AFTER_ROWS - 1).is_none());
        let run = is_now(watch.note(1));
        assert!(run.is_some(), "the first thousand rows");
        assert!(
            is_now(watch.note(STALE_AFTER_ROWS)).is_none(),
            "one is running"
        );
        watch.analysed(1_000_000);
        drop(run);
        // 1,000 + 500,000 are due, counted since the last analysis began.
        assert!(is_now(watch.note(499_999)).is_none());
        assert!(is_now(watch.note(1)).is_some());
        assert!(
            is_now(watch.note(STALE_AFTER_ROWS)).is_none(),
            "counted afresh"
        );
    }

    #[test]
    fn stale_rows_wait_for_quiet_one_waiter_at_a_time() {
        let watch = StatisticsWatch::default();
        watch.analysed(1_000_000);
        assert!(watch.note(STALE_AFTER_ROWS - 1).is_none(), "not stale yet");
        let waiting = match watch.note(1) {
            Some(Due::WhenQuiet(waiting)) => waiting,
            other => panic!("expected a wait for quiet, got {other:?}"),
        };
        assert!(watch.note(1).is_none(), "one waits already");
        let seen = watch.writes();
        watch.note(1);
        assert_eq!(watch.writes(), seen + 1, "each write counts");
        assert!(watch.stale(), "1,002 rows unanalysed");
        let run = watch.start();
        assert!(run.is_some());
        assert!(!watch.stale(), "none are left");
        drop((run, waiting));
        assert!(
            matches!(watch.note(STALE_AFTER_ROWS), Some(Due::WhenQuiet(_))),
            "the next stale rows wait again"
        );
    }

    #[tokio::test]
    async fn an_analysis_asked_for_waits_for_the_running_one() {
        let watch = Arc::new(StatisticsWatch::default());
        let running = is_now(watch.note(STALE_AFTER_ROWS)).expect("due");
        let asked = tokio::spawn({
            let watch = Arc::clone(&watch);
            async move { drop(watch.start_waiting().await) }
        });
        tokio::task::yield_now().await;
        assert!(!asked.is_finished(), "waits while one runs");
        drop(running);
        asked.await.expect("runs once the other ended");
    }

    #[test]
    fn quiet_analyses_keep_ten_times_the_last_ones_duration_apart() {
        let watch = StatisticsWatch::default();
        assert!(watch.spaced_until().is_none(), "none ran yet");
        watch.ran(Instant::now() - Duration::from_millis(100));
        let until = watch.spaced_until().expect("spaced after an analysis");
        let ahead = until - Instant::now();
        assert!(
            ahead > Duration::from_millis(900) && ahead < Duration::from_millis(1_100),
            "ten times 100 ms after it ended, {ahead:?} ahead"
        );
    }

    #[test]
    fn an_analysis_that_could_not_run_starts_again_with_the_next_write() {
        let watch = StatisticsWatch::default();
        drop(watch.note(STALE_AFTER_ROWS));
        watch.retry();
        assert!(is_now(watch.note(1)).is_some());
    }
}
