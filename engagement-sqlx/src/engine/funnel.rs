//! `funnel_input`: only what a funnel needs, read by index in a few statements of one snapshot.
//!
//! 1. Which customers have a step-1 event (the daily rollup for whole days, the events at the
//!    window's edges). That is who entered.
//! 2. Which customers have a step-2 event, the same way.
//! 3. For the customers in both (the journeys, bound in lists of
//!    [`JOURNEY_CUSTOMERS_PER_STATEMENT`]), their step events through the customer index, each
//!    row the customer, time, id and step index, put in journey order here.
//!
//! With an `open_since`, a fourth reads who has a step-1 event since then: those of them
//! without a step-2 event wait. Core does the step matching.
//! Nothing is correlated or joined in SQL, so the cost is one pass over each step's events.

use std::collections::HashSet;

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::task::JoinHandle;

use engagement_core::{
    CustomerId, FunnelInput, FunnelQuery, Journey, StepEvent, TimeWindow, Timestamp, WorkspaceId,
};

use super::Engine;
use super::rollup::Columns;
use crate::dialect::{Dialect, ReadRow, begin};
use crate::error::{SqlError, SqlResult};
use crate::fetched::Fetched;
use crate::filter::{push_counted, push_in_texts};
use crate::sql::Sql;

/// What a step's customers are read as, from the rollup and from the events alike.
const STEP_CUSTOMERS: Columns = Columns {
    rollup: "customer",
    raw: "customer",
};

/// The read transaction whose snapshot a funnel's statements share.
type Snapshot<D> = sqlx::Transaction<'static, <D as Dialect>::DB>;

/// Customers whose journeys one statement reads: each statement's rows are decoded and
/// sorted at once, so this bounds the memory of a read beyond the journeys themselves.
const JOURNEY_CUSTOMERS_PER_STATEMENT: usize = 10_000;

impl<D: Dialect> Engine<D> {
    pub(crate) async fn funnel_input(
        &self,
        workspace: &WorkspaceId,
        query: &FunnelQuery,
    ) -> SqlResult<FunnelInput> {
        let Some(step1) = query.steps.first() else {
            return Ok(FunnelInput::default());
        };
        // A step named like step 1 can never be step 2 (events match the first step named so).
        let step2 = query.steps.get(1).filter(|s| *s != step1);

        let tx = begin::<D>(&self.pool, D::BEGIN_READ).await?;
        let (tx, entered) = self
            .step_customers(tx, workspace, query.window, step1)
            .await?;
        let (mut tx, converted) = match step2 {
            Some(step2) => {
                self.step_customers(tx, workspace, query.window, step2)
                    .await?
            }
            None => (tx, HashSet::new()),
        };
        let mut journey_customers: Vec<i64> = converted
            .iter()
            .copied()
            .filter(|c| entered.contains(c))
            .collect();
        journey_customers.sort_unstable();
        // A customer's latest step-1 event is at or after `since` exactly when the customer
        // has a step-1 event in [since, to).
        let open = query
            .open_since
            .filter(|since| *since < query.window.to)
            .map(|since| TimeWindow {
                from: since.max(query.window.from),
                to: query.window.to,
            });
        let waiting = match open {
            Some(open) => {
                let (back, open_customers) =
                    self.step_customers(tx, workspace, open, step1).await?;
                tx = back;
                open_customers
                    .iter()
                    .filter(|c| !converted.contains(*c))
                    .count() as u64
            }
            None => 0,
        };

        // Each statement's rows are decoded on a blocking thread while the next statement
        // runs, in customer order.
        let steps = query.steps.len();
        let mut journeys = Vec::new();
        let mut decoding: Option<JoinHandle<SqlResult<Vec<Journey>>>> = None;
        for customers in journey_customers.chunks(JOURNEY_CUSTOMERS_PER_STATEMENT) {
            let mut sql = D::sql();
            self.push_journey_events(&mut sql, workspace, query, customers);
            let (back, fetched) = read_in::<D>(tx, sql, "read funnel journeys").await?;
            tx = back;
            let next = tokio::task::spawn_blocking(move || journeys_of(&fetched, steps));
            if let Some(done) = decoding.replace(next) {
                journeys.extend(joined(done).await?);
            }
        }
        if let Some(done) = decoding {
            journeys.extend(joined(done).await?);
        }
        tx.commit()
            .await
            .map_err(SqlError::driver("end the funnel snapshot"))?;
        Ok(FunnelInput {
            entered: entered.len() as u64,
            journeys,
            waiting,
        })
    }

    /// The customers with a counted `step` event in `window`: from the daily rollup for the
    /// window's whole UTC days (one row per customer, day and name instead of one per event),
    /// from the events at its partial edges. (Read from the name index alone, `DISTINCT` over
    /// every step-1 event took 1.7 s of Q7's 5.4 s on SQLite at 10M events, over the rollup
    /// 0.5 s; a `GROUP BY customer` over the same events had sorted them all, 8–9 s.)
    /// Reads in the snapshot of `tx`, which it hands back.
    async fn step_customers(
        &self,
        tx: Snapshot<D>,
        workspace: &WorkspaceId,
        window: TimeWindow,
        step: &str,
    ) -> SqlResult<(Snapshot<D>, HashSet<i64>)> {
        let mut sql = D::sql();
        sql.push("SELECT DISTINCT customer FROM (");
        let named = |sql: &mut Sql| {
            sql.push("name = ").bind(step);
        };
        self.push_counted_parts(&mut sql, workspace, window, STEP_CUSTOMERS, Some(&named));
        sql.push(") AS parts");
        let (tx, fetched) = read_in::<D>(tx, sql, "read a funnel step's customers").await?;
        let customers: SqlResult<HashSet<i64>> =
            fetched.rows().iter().map(|row| row.int(0)).collect();
        Ok((tx, customers?))
    }

    /// `SELECT customer, occurred_at, id, step` of the step events of `customers`, `step` the
    /// index of the first step with the event's name.
    fn push_journey_events(
        &self,
        sql: &mut Sql,
        workspace: &WorkspaceId,
        query: &FunnelQuery,
        customers: &[i64],
    ) {
        sql.push("SELECT customer, occurred_at, id, CASE name");
        for (i, step) in query.steps.iter().enumerate() {
            sql.push(" WHEN ")
                .bind(step.as_str())
                .push(" THEN ")
                .bind(i64::try_from(i).unwrap_or(i64::MAX));
        }
        sql.push(" END AS step FROM ").push(&self.tables.events);
        D::push_index_hint(sql, &self.tables.events_by_customer);
        sql.push(" WHERE ");
        push_counted(sql, workspace, query.window);
        push_in_texts(sql, "name", &query.steps);
        sql.push(" AND ");
        D::push_in_ids(sql, "customer", customers);
        sql.one_off();
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

/// The journeys of one statement's `(customer, occurred_at, id, step)` rows, in customer order.
fn journeys_of<R: ReadRow>(fetched: &Fetched<R>, steps: usize) -> SqlResult<Vec<Journey>> {
    let mut journeys = Vec::new();
    push_journeys(&mut journeys, fetched, steps)?;
    Ok(journeys)
}

/// What a decoding task returned; a task that panicked is an error, not a short funnel.
async fn joined(task: JoinHandle<SqlResult<Vec<Journey>>>) -> SqlResult<Vec<Journey>> {
    task.await.unwrap_or_else(|err| {
        Err(SqlError::TaskStopped {
            task: format!("decoding the funnel's journeys ({err})"),
        })
    })
}

/// Groups `(customer, occurred_at, id, step)` rows, in any order, into journeys appended to
/// `out` (each customer's rows come in one statement).
fn push_journeys<R: ReadRow>(
    out: &mut Vec<Journey>,
    fetched: &Fetched<R>,
    steps: usize,
) -> SqlResult<()> {
    let rows = fetched.rows();
    let mut events = Vec::with_capacity(rows.len());
    for row in rows.iter() {
        let step = row.int(3)?;
        let step = usize::try_from(step)
            .ok()
            .filter(|s| *s < steps)
            .ok_or_else(|| SqlError::Corrupt {
                column: "name",
                reason: format!("step {step} of {steps}"),
            })?;
        events.push((row.int(0)?, row.int(1)?, row.str(2)?, step));
    }
    // Journey order. The statement has none, but rows read through the customer index mostly
    // come in it already, which the sort uses.
    events.sort_unstable_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    let first = out.len();
    for (customer, at, _, step) in events {
        let customer = CustomerId(customer);
        let event = StepEvent {
            at: Timestamp::from_micros(at),
            step,
        };
        match out[first..].last_mut() {
            Some(j) if j.customer == customer => j.events.push(event),
            _ => out.push(Journey {
                customer,
                events: vec![event],
            }),
        }
    }
    Ok(())
}
