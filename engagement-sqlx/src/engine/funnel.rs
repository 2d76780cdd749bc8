//! `funnel_input`: only what a funnel needs, read by index in three statements of one snapshot.
//!
//! 1. The step-1 events (name index): per customer, the latest one. That is who entered.
//! 2. The step-2 events (name index): which customers have one.
//! 3. For the customers in both (the journeys, bound as one list), their step events in
//!    (time, id) order through the customer index, each row three integers.
//!
//! Entered and waiting customers are counted here from 1 and 2; core does the step matching.
//! Nothing is correlated or joined in SQL, so the cost is one pass over each step's events.

use std::collections::{HashMap, HashSet};

use engagement_core::{
    CustomerId, FunnelInput, FunnelQuery, Journey, StepEvent, Timestamp, WorkspaceId,
};

use super::Engine;
use crate::dialect::{Dialect, ReadRow, begin};
use crate::error::{SqlError, SqlResult};
use crate::filter::{push_counted, push_in_texts};
use crate::sql::Sql;

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

        let mut tx = begin::<D>(&self.pool, D::BEGIN_READ).await?;
        let mut entries = D::sql();
        entries.push("SELECT customer, MAX(occurred_at) FROM ");
        self.push_step_events(&mut entries, workspace, query, step1);
        entries.push(" GROUP BY customer");
        let latest_entry: HashMap<i64, i64> = D::fetch_all(&mut tx, entries, "read funnel entries")
            .await?
            .iter()
            .map(|row| Ok((row.int(0)?, row.int(1)?)))
            .collect::<SqlResult<_>>()?;

        let mut converted = HashSet::new();
        if let Some(step2) = step2 {
            let mut sql = D::sql();
            sql.push("SELECT DISTINCT customer FROM ");
            self.push_step_events(&mut sql, workspace, query, step2);
            for row in D::fetch_all(&mut tx, sql, "read funnel step 2").await? {
                converted.insert(row.int(0)?);
            }
        }
        let mut journey_customers: Vec<i64> = converted
            .iter()
            .copied()
            .filter(|c| latest_entry.contains_key(c))
            .collect();
        journey_customers.sort_unstable();
        let waiting = query.open_since.map_or(0, |since| {
            latest_entry
                .iter()
                .filter(|(c, last)| **last >= since.as_micros() && !converted.contains(*c))
                .count() as u64
        });

        let journeys = if journey_customers.is_empty() {
            Vec::new()
        } else {
            let sql = self.journeys_statement(workspace, query, &journey_customers);
            let rows = D::fetch_all(&mut tx, sql, "read funnel journeys").await?;
            journeys_from_rows(&rows, query.steps.len())?
        };
        tx.commit()
            .await
            .map_err(SqlError::driver("end the funnel snapshot"))?;
        Ok(FunnelInput {
            entered: latest_entry.len() as u64,
            journeys,
            waiting,
        })
    }

    /// Appends `events WHERE <counted in the window> AND name = step`.
    fn push_step_events(
        &self,
        sql: &mut Sql,
        workspace: &WorkspaceId,
        query: &FunnelQuery,
        step: &str,
    ) {
        sql.push(&self.tables.events).push(" WHERE ");
        push_counted(sql, workspace, query.window);
        sql.push(" AND name = ").bind(step);
    }

    /// `SELECT customer, occurred_at, <step index>` of the step events of `customers`, in
    /// (customer, time, id) order. The step index is that of the first step with the name.
    fn journeys_statement(
        &self,
        workspace: &WorkspaceId,
        query: &FunnelQuery,
        customers: &[i64],
    ) -> Sql {
        let mut sql = D::sql();
        sql.push("SELECT customer, occurred_at, CASE name");
        for (i, step) in query.steps.iter().enumerate() {
            sql.push(" WHEN ")
                .bind(step.as_str())
                .push(" THEN ")
                .bind(i64::try_from(i).unwrap_or(i64::MAX));
        }
        sql.push(" END FROM ").push(&self.tables.events);
        D::push_index_hint(&mut sql, &self.tables.events_by_customer);
        sql.push(" WHERE ");
        push_counted(&mut sql, workspace, query.window);
        push_in_texts(&mut sql, "name", &query.steps);
        sql.push(" AND ");
        D::push_in_ids(&mut sql, "customer", customers);
        sql.push(" ORDER BY customer, occurred_at, id");
        sql.one_off();
        sql
    }
}

/// Groups `(customer, occurred_at, step)` rows, ordered by customer, into journeys.
fn journeys_from_rows<R: ReadRow>(rows: &[R], steps: usize) -> SqlResult<Vec<Journey>> {
    let mut out: Vec<Journey> = Vec::new();
    for row in rows {
        let customer = CustomerId(row.int(0)?);
        let step = row.int(2)?;
        let step = usize::try_from(step)
            .ok()
            .filter(|s| *s < steps)
            .ok_or_else(|| SqlError::Corrupt {
                column: "name",
                reason: format!("step {step} of {steps}"),
            })?;
        let event = StepEvent {
            at: Timestamp::from_micros(row.int(1)?),
            step,
        };
        match out.last_mut() {
            Some(j) if j.customer == customer => j.events.push(event),
            _ => out.push(Journey {
                customer,
                events: vec![event],
            }),
        }
    }
    Ok(out)
}
