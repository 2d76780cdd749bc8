//! The planner's statistics of the store's tables, refreshed after bulk writes where the
//! database may not do it in time ([`Dialect::ANALYSIS`]: PostgreSQL).
//!
//! PostgreSQL plans from statistics that `ANALYZE` gathers, and only autovacuum gathers them on its
//! own: a minute or more after a bulk import, or never where it is turned off. Planned without
//! them, the activity page joined the matching customers to the rollup in a nested loop that
//! aggregated the rollup again for every customer: over 16 minutes at 1M events before it was
//! cancelled, where the same page takes about a second at 10M once analysed. So the store counts
//! the rows its writes change, and once they reach [`STALE_AFTER_ROWS`] and half the events its
//! last analysis counted, it vacuums and analyses its tables in a task beside the next writes:
//! during a bulk load each time the events have grown by half, then rarely. The analysis takes a
//! connection only if one is idle and skips a table another transaction has locked; what it could
//! not do, the next write starts again.
//!
//! The database's own counters of rows changed since the last analysis cannot decide it: a
//! backend reports them up to seconds after its commit, so a check right after a load's last
//! append would find nothing to do. Where autovacuum runs, these analyses come on top of its
//! own; each samples 30,000 rows a table, and the vacuum reads the pages written since the
//! last.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::Engine;
use super::upkeep::{OneAtATime, Running};
use crate::dialect::{Dialect, ReadRow};
use crate::error::SqlResult;

/// The fewest rows changed for the tables to be analysed again (on top of half the events
/// counted by the last analysis).
const STALE_AFTER_ROWS: u64 = 1_000;

/// The rows the store's writes changed since its last analysis, and how many make the next.
#[derive(Debug)]
pub(crate) struct StatisticsWatch {
    changed: AtomicU64,
    due_after: AtomicU64,
    analysing: Arc<OneAtATime>,
}

impl Default for StatisticsWatch {
    fn default() -> Self {
        Self {
            changed: AtomicU64::new(0),
            due_after: AtomicU64::new(STALE_AFTER_ROWS),
            analysing: Arc::default(),
        }
    }
}

impl StatisticsWatch {
    /// Counts `rows` changed by a committed write; starts an analysis when enough rows changed
    /// since the last one began and none is running.
    pub(crate) fn note(&self, rows: u64) -> Option<Running> {
        let changed = self.changed.fetch_add(rows, Ordering::AcqRel) + rows;
        if changed < self.due_after.load(Ordering::Acquire) {
            return None;
        }
        let run = self.analysing.start()?;
        self.changed.store(0, Ordering::Release);
        Some(run)
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
    /// Runs the dialect's analysis of the store's tables (PostgreSQL: `VACUUM (ANALYZE)`), then
    /// sets when the next is due (see the module).
    pub(crate) async fn refresh_statistics(self) -> SqlResult<()> {
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
        // Not the host's queries' turn to wait for a connection.
        let Some(mut conn) = self.pool.try_acquire() else {
            self.statistics.retry();
            return Ok(());
        };
        let analysed = async {
            D::execute(&mut conn, analyze, "analyse the tables").await?;
            let rows = D::fetch_all(&mut conn, estimate, "read the estimated events").await?;
            rows.first().map_or(Ok(0), |row| row.int(0))
        };
        match analysed.await {
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

    #[test]
    fn an_analysis_is_due_once_the_events_grew_by_half() {
        let watch = StatisticsWatch::default();
        assert!(watch.note(STALE_AFTER_ROWS - 1).is_none());
        let run = watch.note(1);
        assert!(run.is_some(), "the first thousand rows");
        assert!(watch.note(STALE_AFTER_ROWS).is_none(), "one is running");
        watch.analysed(1_000_000);
        drop(run);
        // 1,000 + 500,000 are due, counted since the last analysis began.
        assert!(watch.note(499_999).is_none());
        assert!(watch.note(1).is_some());
        assert!(watch.note(STALE_AFTER_ROWS).is_none(), "counted afresh");
    }

    #[test]
    fn an_analysis_that_could_not_run_starts_again_with_the_next_write() {
        let watch = StatisticsWatch::default();
        drop(watch.note(STALE_AFTER_ROWS));
        watch.retry();
        assert!(watch.note(1).is_some());
    }
}
