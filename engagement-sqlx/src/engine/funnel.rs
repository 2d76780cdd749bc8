//! `funnel_input`: only what a funnel needs. Entered and waiting customers are counted in SQL
//! (one pass over the step-1 events, grouped by customer); journeys are read only for the
//! customers that have both a step-1 and a step-2 event. Core does the step matching.

use engagement_core::{
    CustomerId, FunnelInput, FunnelQuery, Journey, StepEvent, Timestamp, WorkspaceId,
};

use super::{Engine, count};
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

        // entered: customers with a step-1 event; waiting: those of them without a step-2 event
        // whose latest step-1 event is at or after `open_since`.
        let mut counts = D::sql();
        counts.push("SELECT COUNT(*), ");
        match (query.open_since, step2) {
            (Some(since), _) => {
                counts
                    .push("CAST(COALESCE(SUM(CASE WHEN s.last_at >= ")
                    .bind(since.as_micros());
                if let Some(step2) = step2 {
                    counts.push(" AND NOT EXISTS (");
                    self.push_customers_with(
                        &mut counts,
                        workspace,
                        query,
                        step2,
                        Some("s.customer"),
                    );
                    counts.push(")");
                }
                counts
                    .push(" THEN 1 ELSE 0 END), 0) AS ")
                    .push(D::INT)
                    .push(")");
            }
            (None, _) => {
                counts.push("CAST(0 AS ").push(D::INT).push(")");
            }
        }
        counts
            .push(" FROM (SELECT customer, MAX(occurred_at) AS last_at FROM ")
            .push(&self.tables.events)
            .push(" WHERE ");
        push_counted(&mut counts, workspace, query.window);
        counts
            .push(" AND name = ")
            .bind(step1.as_str())
            .push(" GROUP BY customer) s");

        let mut journeys = None;
        if let Some(step2) = step2 {
            let mut sql = D::sql();
            sql.push("SELECT customer, occurred_at, name FROM ")
                .push(&self.tables.events)
                .push(" WHERE ");
            push_counted(&mut sql, workspace, query.window);
            push_in_texts(&mut sql, "name", &query.steps);
            for step in [step2, step1] {
                sql.push(" AND customer IN (");
                self.push_customers_with(&mut sql, workspace, query, step, None);
                sql.push(")");
            }
            sql.push(" ORDER BY customer, occurred_at, id");
            journeys = Some(sql);
        }

        let mut tx = begin::<D>(&self.pool, D::BEGIN_READ).await?;
        let counted = D::fetch_all(&mut tx, counts, "count funnel entries").await?;
        let rows = match journeys {
            Some(sql) => D::fetch_all(&mut tx, sql, "read funnel journeys").await?,
            None => Vec::new(),
        };
        tx.commit()
            .await
            .map_err(SqlError::driver("end the funnel snapshot"))?;

        let (entered, waiting) = match counted.first() {
            Some(row) => (count(row.int(0)?)?, count(row.int(1)?)?),
            None => (0, 0),
        };
        let mut out: Vec<Journey> = Vec::new();
        for row in &rows {
            let customer = CustomerId(row.int(0)?);
            let name = row.text(2)?;
            let step =
                query
                    .steps
                    .iter()
                    .position(|s| *s == name)
                    .ok_or_else(|| SqlError::Corrupt {
                        column: "name",
                        reason: format!("{name:?} is not a step"),
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
        Ok(FunnelInput {
            entered,
            journeys: out,
            waiting,
        })
    }

    /// Appends `SELECT customer FROM events WHERE <counted in the window> AND name = ?`, with
    /// ` AND customer = <outer>` when correlated.
    fn push_customers_with(
        &self,
        sql: &mut Sql,
        workspace: &WorkspaceId,
        query: &FunnelQuery,
        step: &str,
        outer: Option<&str>,
    ) {
        sql.push("SELECT customer FROM ")
            .push(&self.tables.events)
            .push(" WHERE ");
        push_counted(sql, workspace, query.window);
        sql.push(" AND name = ").bind(step);
        if let Some(outer) = outer {
            sql.push(" AND customer = ").push(outer);
        }
    }
}
