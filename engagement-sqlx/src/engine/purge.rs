//! `purge`: deletes in bounded chunks (each its own statement), so an interrupted purge leaves
//! a consistent state and a rerun finishes it; a dry run only counts.

use engagement_core::{PurgeOutcome, PurgeScope, WorkspaceId};

use super::{Engine, count};
use crate::dialect::{Dialect, ReadRow, begin};
use crate::error::{SqlError, SqlResult};
use crate::sql::Sql;

/// Events deleted per statement.
const PURGE_CHUNK: i64 = 5_000;

impl<D: Dialect> Engine<D> {
    pub(crate) async fn purge(
        &self,
        workspace: &WorkspaceId,
        scope: PurgeScope,
        dry_run: bool,
    ) -> SqlResult<PurgeOutcome> {
        let condition = |sql: &mut Sql| match scope {
            PurgeScope::Before { cutoff } => {
                sql.push("occurred_at < ").bind(cutoff.as_micros());
            }
            PurgeScope::Customer { customer } => {
                sql.push("customer = ").bind(customer.0);
            }
        };
        let customer = match scope {
            PurgeScope::Before { .. } => None,
            PurgeScope::Customer { customer } => Some(customer.0),
        };

        if dry_run {
            let mut events = D::sql();
            events
                .push("SELECT COUNT(*) FROM ")
                .push(&self.tables.events)
                .push(" WHERE workspace = ")
                .bind(workspace.as_str())
                .push(" AND ");
            condition(&mut events);
            let mut tx = begin::<D>(&self.pool, D::BEGIN_READ).await?;
            let rows = D::fetch_all(&mut tx, events, "count events to purge").await?;
            let mut customers = 0;
            if let Some(id) = customer {
                let sql = self.customer_statement("SELECT COUNT(*) FROM ", workspace, id);
                let found = D::fetch_all(&mut tx, sql, "count customers to purge").await?;
                customers = match found.first() {
                    Some(row) => count(row.int(0)?)?,
                    None => 0,
                };
            }
            tx.commit()
                .await
                .map_err(SqlError::driver("end the purge count"))?;
            let events = match rows.first() {
                Some(row) => count(row.int(0)?)?,
                None => 0,
            };
            return Ok(PurgeOutcome { events, customers });
        }

        let mut conn = self.acquire().await?;
        let mut events = 0;
        loop {
            let mut sql = D::sql();
            D::delete_events_chunk(
                &mut sql,
                &self.tables.events,
                workspace.as_str(),
                &condition,
                PURGE_CHUNK,
            );
            let deleted = D::execute(&mut conn, sql, "purge events").await?;
            events += deleted;
            if deleted < PURGE_CHUNK as u64 {
                break;
            }
        }
        let mut customers = 0;
        if let Some(id) = customer {
            let sql = self.customer_statement("DELETE FROM ", workspace, id);
            customers = D::execute(&mut conn, sql, "purge a customer").await?;
        }
        Ok(PurgeOutcome { events, customers })
    }

    /// `<head> customers WHERE workspace = ? AND id = ?`.
    fn customer_statement(&self, head: &str, workspace: &WorkspaceId, id: i64) -> Sql {
        let mut sql = D::sql();
        sql.push(head)
            .push(&self.tables.customers)
            .push(" WHERE workspace = ")
            .bind(workspace.as_str())
            .push(" AND id = ")
            .bind(id);
        sql
    }
}
