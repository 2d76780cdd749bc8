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

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::SqlSafeStr;
use sqlx::pool::PoolConnection;

use engagement_core::{Actor, FunnelInput, FunnelQuery, TimeWindow, WorkspaceId};

use self::paths::{Key, Paths, Probe};
use super::Engine;
use super::log::Direction;
use super::rollup::Columns;
use crate::dialect::{Dialect, begin};
use crate::encode::actor_code;
use crate::error::{SqlError, SqlResult};
use crate::fetched::Fetched;
use crate::filter::{push_counted, push_in_texts};
use crate::sql::{Arg, Sql};

/// Step-1 events as read from the rollup and from the events alike: the customer, and the
/// instant of the latest.
const STARTS: Columns = Columns {
    rollup: "customer, last_at AS at",
    raw: "customer, occurred_at AS at",
};

/// The read transaction whose snapshot a funnel's statements share.
type Snapshot<D> = sqlx::Transaction<'static, <D as Dialect>::DB>;

/// The funnel's snapshot, read on one connection or on two at once.
struct Readers<D: Dialect> {
    main: Snapshot<D>,
    /// A second transaction reading the same snapshot, where the database can share it.
    second: Option<Snapshot<D>>,
}

impl<D: Dialect> Readers<D> {
    /// Ends the snapshot.
    async fn commit(self) -> SqlResult<()> {
        for tx in std::iter::once(self.main).chain(self.second) {
            tx.commit()
                .await
                .map_err(SqlError::driver("end the funnel snapshot"))?;
        }
        Ok(())
    }
}

/// How long a funnel waits for a second connection before reading on one.
const SPARE_WAIT: Duration = Duration::from_millis(20);

/// A connection for a funnel's second reader: an idle one, or a new one while the pool is
/// below its size, waited for at most [`SPARE_WAIT`]. Never longer: a funnel already holds a
/// connection, and funnels waiting for their second ones could otherwise hold every one.
async fn spare_connection<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> Option<PoolConnection<DB>> {
    if let Some(conn) = pool.try_acquire() {
        return Some(conn);
    }
    if pool.size() >= pool.options().get_max_connections() {
        return None;
    }
    tokio::time::timeout(SPARE_WAIT, pool.acquire())
        .await
        .ok()?
        .ok()
}

/// Runs the dialect's funnel settings, if any, in `tx`.
async fn set_up<D: Dialect>(tx: &mut Snapshot<D>) -> SqlResult<()> {
    if let Some(settings) = D::FUNNEL_SETTINGS {
        let mut sql = D::sql();
        sql.push(settings);
        D::execute(tx, sql, "set up the funnel snapshot").await?;
    }
    Ok(())
}

/// Most probes one statement asks (where each binds its six values, fewer: the bind limit).
const PROBES_PER_STATEMENT: usize = 10_000;

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
        let mut journey_customers: Vec<(i64, i64)> = entered
            .iter()
            .filter(|(c, _)| converted.contains(c))
            .map(|(&c, &latest)| (c, latest))
            .collect();
        journey_customers.sort_unstable();
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
        self.push_counted_parts(&mut sql, workspace, window, STARTS, Some(&named));
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
        push_in_texts(&mut sql, "name", &later);
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

    /// The funnel's snapshot: a read transaction with the dialect's funnel settings and, where
    /// the database shares snapshots and the pool has a connection to spare
    /// ([`spare_connection`]), a second on another connection reading the same snapshot.
    async fn readers(&self) -> SqlResult<Readers<D>> {
        let mut main = begin::<D>(&self.pool, D::BEGIN_READ).await?;
        set_up::<D>(&mut main).await?;
        let Some(export) = D::EXPORT_SNAPSHOT else {
            return Ok(Readers { main, second: None });
        };
        let Some(conn) = spare_connection(&self.pool).await else {
            return Ok(Readers { main, second: None });
        };
        let mut second = sqlx::Transaction::begin(conn, Some(D::BEGIN_READ.into_sql_str()))
            .await
            .map_err(SqlError::driver("begin a transaction"))?;
        let mut sql = D::sql();
        sql.push(export);
        let (main, fetched) = read_in::<D>(main, sql, "export the funnel snapshot").await?;
        let id = match fetched.rows().iter().next() {
            Some(row) => row.text(0)?,
            None => {
                return Err(SqlError::Corrupt {
                    column: "snapshot",
                    reason: "exporting the snapshot returned no id".to_owned(),
                });
            }
        };
        let mut sql = D::sql();
        D::push_import_snapshot(&mut sql, &id);
        sql.one_off();
        D::execute(&mut second, sql, "read the funnel snapshot").await?;
        set_up::<D>(&mut second).await?;
        Ok(Readers {
            main,
            second: Some(second),
        })
    }

    /// [`Self::probe_on`], the probes split between the two readers where there are two.
    async fn probe(
        &self,
        readers: Readers<D>,
        workspace: &WorkspaceId,
        step1: &str,
        mut probes: Vec<Probe>,
        direction: Direction,
    ) -> SqlResult<(Readers<D>, Vec<Option<Key>>)> {
        match readers.second {
            Some(second) if probes.len() > 1 => {
                let rest = probes.split_off(probes.len() / 2);
                let ((main, mut found), (second, rest)) = futures::try_join!(
                    self.probe_on(readers.main, workspace, step1, probes, direction),
                    self.probe_on(second, workspace, step1, rest, direction),
                )?;
                found.extend(rest);
                let readers = Readers {
                    main,
                    second: Some(second),
                };
                Ok((readers, found))
            }
            second => {
                let (main, found) = self
                    .probe_on(readers.main, workspace, step1, probes, direction)
                    .await?;
                Ok((Readers { main, second }, found))
            }
        }
    }

    /// Answers `probes` in the snapshot of `tx`, in their order: each probe's first step-1
    /// event in `direction` (`Newer`: the earliest), `None` where there is none.
    async fn probe_on(
        &self,
        mut tx: Snapshot<D>,
        workspace: &WorkspaceId,
        step1: &str,
        probes: Vec<Probe>,
        direction: Direction,
    ) -> SqlResult<(Snapshot<D>, Vec<Option<Key>>)> {
        let mut found = vec![None; probes.len()];
        let per_statement = if D::ARRAYS {
            PROBES_PER_STATEMENT
        } else {
            PROBES_PER_STATEMENT.min(D::MAX_BINDS.saturating_sub(8) / 6)
        };
        for (chunk, part) in probes.chunks(per_statement.max(1)).enumerate() {
            let first = chunk * per_statement.max(1);
            let mut sql = D::sql();
            self.push_probes(&mut sql, workspace, step1, part, direction);
            let (back, fetched) = read_in::<D>(tx, sql, "probe a funnel's step-1 events").await?;
            tx = back;
            for row in fetched.rows().iter() {
                let n = usize::try_from(row.int(0)?)
                    .ok()
                    .filter(|n| *n < part.len());
                let n = n.ok_or_else(|| SqlError::Corrupt {
                    column: "n",
                    reason: "a probe answered that was not asked".to_owned(),
                })?;
                found[first + n] = Some(Key {
                    at: row.int(1)?,
                    id: row.text(2)?,
                });
            }
        }
        Ok((tx, found))
    }

    /// `SELECT n, occurred_at, id` of the first step-1 event in `direction` strictly between
    /// each probe's bounds, `n` the probe's index in `probes`: one descent of the customer
    /// index a probe (`LIMIT 1`). Where the dialect binds columns as arrays (PostgreSQL), the
    /// probes are unnested and each joined laterally, reading the event from the index alone;
    /// elsewhere they are a table of bound rows, each probe a correlated subquery for the
    /// event's id, and the event is joined by its id.
    fn push_probes(
        &self,
        sql: &mut Sql,
        workspace: &WorkspaceId,
        step1: &str,
        probes: &[Probe],
        direction: Direction,
    ) {
        if D::ARRAYS {
            sql.push("SELECT probe.n - 1, found.occurred_at, found.id FROM UNNEST(")
                .bind(Arg::Ints(probes.iter().map(|p| p.customer).collect()))
                .push(", ")
                .bind(Arg::Ints(probes.iter().map(|p| p.after.at).collect()))
                .push(", ")
                .bind(Arg::Texts(
                    probes.iter().map(|p| p.after.id.clone()).collect(),
                ))
                .push(", ")
                .bind(Arg::Ints(probes.iter().map(|p| p.before.at).collect()))
                .push(", ")
                .bind(Arg::Texts(
                    probes.iter().map(|p| p.before.id.clone()).collect(),
                ))
                .push(
                    ") WITH ORDINALITY AS probe (customer, after_at, after_id, before_at, \
                     before_id, n) CROSS JOIN LATERAL (",
                );
            self.push_probe(sql, workspace, step1, direction, "s.occurred_at, s.id");
            sql.push(") AS found");
        } else {
            let (start, between, end) = D::ROWS_TABLE;
            sql.push("WITH probe (n, customer, after_at, after_id, before_at, before_id) AS (")
                .push(start);
            for (n, probe) in probes.iter().enumerate() {
                if n > 0 {
                    sql.push(between);
                }
                sql.bind(i64::try_from(n).unwrap_or(i64::MAX))
                    .push(", ")
                    .bind(probe.customer)
                    .push(", ")
                    .bind(probe.after.at)
                    .push(", ")
                    .bind(probe.after.id.as_str())
                    .push(", ")
                    .bind(probe.before.at)
                    .push(", ")
                    .bind(probe.before.id.as_str());
            }
            sql.push(end)
                .push(") SELECT found.n, e.occurred_at, e.id FROM (SELECT probe.n AS n, (");
            self.push_probe(sql, workspace, step1, direction, "s.id");
            sql.push(") AS id FROM probe) AS found JOIN ")
                .push(&self.tables.events)
                .push(" AS e ON e.workspace = ")
                .bind(workspace.as_str())
                .push(" AND e.id = found.id");
        }
        sql.one_off();
    }

    /// Appends the `SELECT columns` of the first counted step-1 event (as `s`) in `direction`
    /// strictly between the bounds of the correlated `probe`.
    fn push_probe(
        &self,
        sql: &mut Sql,
        workspace: &WorkspaceId,
        step1: &str,
        direction: Direction,
        columns: &str,
    ) {
        let order = match direction {
            Direction::Older => " DESC",
            Direction::Newer => " ASC",
        };
        sql.push("SELECT ")
            .push(columns)
            .push(" FROM ")
            .push(&self.tables.events)
            .push(" AS s");
        D::push_index_hint(sql, &self.tables.events_by_customer);
        sql.push(" WHERE s.workspace = ")
            .bind(workspace.as_str())
            .push(" AND ")
            .push(D::PROBE_CUSTOMER)
            .push(" AND s.name = ")
            .bind(step1)
            .push(" AND s.actor = ")
            .bind(actor_code(Actor::Customer))
            .push(
                " AND s.occurred_at >= probe.after_at AND s.occurred_at <= probe.before_at \
                 AND (s.occurred_at > probe.after_at OR s.id > probe.after_id) \
                 AND (s.occurred_at < probe.before_at OR s.id < probe.before_id) \
                 ORDER BY s.customer",
            )
            .push(order)
            .push(", s.occurred_at")
            .push(order)
            .push(", s.id")
            .push(order)
            .push(" LIMIT 1");
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
