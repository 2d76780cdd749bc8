//! `funnel_input`: only what decides a funnel, read by index in one snapshot.
//!
//! 1. Which customers have a step-1 event, each with the instant of the latest (the daily
//!    rollup's `last_at` for whole days, the events at the window's edges). That is who
//!    entered, and who waits (a latest step-1 event since `open_since`, no step-2 event).
//! 2. Every event of the later steps in the window, through the name index: who reached
//!    step 2, and the skeleton of every journey.
//! 3. For the customers in both (the journeys), their decisive step-1 events
//!    ([`Journey::retain_decisive`](engagement_core::Journey::retain_decisive)), each found by
//!    one index probe ([`paths`]), round by round. The customers' other step-1 events (at 10M
//!    events, 5.0M of the 5.5M step events of Q7's journeys) are never read.
//!
//! Where the database shares a snapshot between connections (PostgreSQL) and the pool has a
//! connection to spare, 1 and 2 run at once and the probes are split between two connections.
//! Core does the step matching.

mod paths;
mod probes;
mod readers;

use std::collections::{HashMap, HashSet};

use futures::FutureExt;
use futures::future::BoxFuture;

use engagement_core::{FunnelInput, FunnelQuery, TimeWindow, WorkspaceId};

use self::paths::{Key, Paths};
use self::readers::Readers;
use super::Engine;
use super::log::Direction;
use super::rollup::{Columns, Narrow};
use crate::dialect::{Dialect, ReadRow};
use crate::error::{SqlError, SqlResult};
use crate::fetched::Fetched;
use crate::filter::{push_counted, push_in_texts};
use crate::sql::Sql;

/// Step-1 events as read from the rollup and from the events alike: the customer, and the
/// instant of the latest.
const STARTS: Columns = Columns {
    rollup: "customer, last_at AS at",
    raw: "customer, occurred_at AS at",
};

/// The read transaction whose snapshot a funnel's statements share.
type Snapshot<D> = sqlx::Transaction<'static, <D as Dialect>::DB>;

impl<D: Dialect> Engine<D> {
    pub(crate) async fn funnel_input(
        &self,
        workspace: &WorkspaceId,
        query: &FunnelQuery,
    ) -> SqlResult<FunnelInput> {
        let Some(step1) = query.steps.first() else {
            return Ok(FunnelInput::default());
        };
        let readers = self.readers().await?;
        let (mut readers, entered, later) = match readers.second {
            Some(second) => {
                let ((main, entered), (second, later)) = futures::try_join!(
                    self.latest_starts(readers.main, workspace, query.window, step1),
                    self.later_step_events(second, workspace, query),
                )?;
                let readers = Readers {
                    main,
                    second: Some(second),
                };
                (readers, entered, later)
            }
            None => {
                let (main, entered) = self
                    .latest_starts(readers.main, workspace, query.window, step1)
                    .await?;
                let (main, later) = self.later_step_events(main, workspace, query).await?;
                let readers = Readers { main, second: None };
                (readers, entered, later)
            }
        };
        let converted: HashSet<i64> = later
            .iter()
            .filter(|(_, _, step)| *step == 1)
            .map(|(customer, _, _)| *customer)
            .collect();
        let journey_customers: Vec<(i64, i64)> = entered
            .iter()
            .filter(|(c, _)| converted.contains(c))
            .map(|(&c, &latest)| (c, latest))
            .collect();
        // A customer's latest step-1 event is at or after `since` exactly when the customer
        // has a step-1 event in [since, to).
        let waiting = query
            .open_since
            .filter(|since| *since < query.window.to)
            .map_or(0, |since| {
                let since = since.max(query.window.from).as_micros();
                entered
                    .iter()
                    .filter(|(c, latest)| **latest >= since && !converted.contains(c))
                    .count() as u64
            });

        let conversion = query
            .conversion_window
            .num_microseconds()
            .unwrap_or(i64::MAX);
        let mut paths = Paths::new(
            &journey_customers,
            later,
            query.steps.len(),
            conversion,
            query.window,
        );
        // Most journeys are settled by their first class; the rest take more each round, so
        // a customer with many classes costs a few statements, not one a class.
        let mut classes = 1;
        loop {
            let (planned, probes) = paths.plan(classes);
            if probes.is_empty() {
                break;
            }
            let (back, found) = self
                .probe(readers, workspace, step1, probes, Direction::Newer)
                .await?;
            readers = back;
            paths.add_round(planned, found);
            classes = classes.saturating_mul(2);
        }
        let (tied, probes) = paths.tied_latest();
        if !probes.is_empty() {
            let (back, found) = self
                .probe(readers, workspace, step1, probes, Direction::Older)
                .await?;
            readers = back;
            paths.add_latest(&tied, found);
        }
        readers.commit().await?;
        Ok(FunnelInput {
            entered: entered.len() as u64,
            journeys: paths.into_journeys(),
            waiting,
        })
    }

    /// The customers with a counted `step` event in `window`, each with the instant of the
    /// latest: from the daily rollup for the window's whole UTC days (one row per customer,
    /// day and name instead of one per event, with its `last_at`), from the events at its
    /// partial edges. (Read from the name index alone, `DISTINCT` over every step-1 event took
    /// 1.7 s of Q7's 5.4 s on SQLite at 10M events, over the rollup 0.5 s.) Reads in the
    /// snapshot of `tx`, which it hands back.
    async fn latest_starts(
        &self,
        tx: Snapshot<D>,
        workspace: &WorkspaceId,
        window: TimeWindow,
        step: &str,
    ) -> SqlResult<(Snapshot<D>, HashMap<i64, i64>)> {
        let mut sql = D::sql();
        sql.push("SELECT customer, MAX(at) FROM (");
        let named = |sql: &mut Sql| {
            sql.push("name = ").bind(step);
        };
        self.push_counted_parts(&mut sql, workspace, window, STARTS, Narrow::Where(&named));
        sql.push(") AS parts GROUP BY customer");
        let (tx, fetched) = read_in::<D>(tx, sql, "read a funnel's step-1 customers").await?;
        let starts: SqlResult<HashMap<i64, i64>> = fetched
            .rows()
            .iter()
            .map(|row| Ok((row.int(0)?, row.int(1)?)))
            .collect();
        Ok((tx, starts?))
    }

    /// Every counted event of the steps after the first in the query's window, as
    /// `(customer, key, step)` with the step 0-based (the first step with the event's name;
    /// events named like step 1 are step-1 events, so not among them).
    async fn later_step_events(
        &self,
        tx: Snapshot<D>,
        workspace: &WorkspaceId,
        query: &FunnelQuery,
    ) -> SqlResult<(Snapshot<D>, Vec<(i64, Key, usize)>)> {
        let later: Vec<String> = query
            .steps
            .iter()
            .skip(1)
            .filter(|s| Some(*s) != query.steps.first())
            .cloned()
            .collect();
        if later.is_empty() {
            return Ok((tx, Vec::new()));
        }
        let mut sql = D::sql();
        sql.push("SELECT customer, occurred_at, id, CASE name");
        for (i, step) in query.steps.iter().enumerate().skip(1) {
            sql.push(" WHEN ")
                .bind(step.as_str())
                .push(" THEN ")
                .bind(i64::try_from(i).unwrap_or(i64::MAX));
        }
        sql.push(" END AS step FROM ").push(&self.tables.events);
        D::push_index_hint(&mut sql, &self.tables.events_by_name);
        sql.push(" WHERE ");
        push_counted(&mut sql, workspace, query.window);
        push_in_texts::<D>(&mut sql, "name", &later);
        sql.one_off();
        let (tx, fetched) = read_in::<D>(tx, sql, "read a funnel's later steps").await?;
        let steps = query.steps.len();
        let events: SqlResult<Vec<(i64, Key, usize)>> = fetched
            .rows()
            .iter()
            .map(|row| {
                let step = row.int(3)?;
                let step = usize::try_from(step)
                    .ok()
                    .filter(|s| (1..steps).contains(s))
                    .ok_or_else(|| SqlError::Corrupt {
                        column: "name",
                        reason: format!("step {step} of {steps}"),
                    })?;
                let key = Key {
                    at: row.int(1)?,
                    id: row.text(2)?,
                };
                Ok((row.int(0)?, key, step))
            })
            .collect();
        Ok((tx, events?))
    }
}

/// The snapshot handed back with what was read in it.
type ReadIn<D> = (Snapshot<D>, Fetched<<D as Dialect>::Row>);

/// [`Dialect::fetch_rows`] in the snapshot of `tx`, handed back. (Boxed where the
/// transaction's lifetime is known: the compiler cannot otherwise prove the funnel's future
/// `Send` across the generic connection.)
fn read_in<D: Dialect>(
    tx: Snapshot<D>,
    sql: Sql,
    context: &'static str,
) -> BoxFuture<'static, SqlResult<ReadIn<D>>> {
    D::fetch_rows(tx, sql, context).boxed()
}
