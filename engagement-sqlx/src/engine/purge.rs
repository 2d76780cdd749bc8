//! `purge`: deletes in bounded chunks, each its own transaction that also recomputes the daily
//! rollup of the customer-days it touched and takes what it deleted off the customers' totals
//! and the event log's counts, so an interrupted purge leaves a consistent state and a rerun
//! finishes it; a dry run only counts.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use engagement_core::{Actor, PurgeOutcome, PurgeScope, WorkspaceId};

use super::rollup::{LogDeltas, count_in_log, day_of};
use super::{Engine, count};
use crate::dialect::{Dialect, ReadRow, begin};
use crate::encode::actor_code;
use crate::error::{SqlError, SqlResult};
use crate::sql::Sql;

/// Events deleted per statement.
const PURGE_CHUNK: i64 = 5_000;

/// Times a chunk is tried when it meets a lock conflict (a deadlock, a lock wait timed out):
/// its transaction was rolled back whole, so trying it again is safe.
const CHUNK_ATTEMPTS: u32 = 5;

/// The wait before trying a chunk again, times the attempts so far.
const CHUNK_BACKOFF: Duration = Duration::from_millis(20);

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

        let mut events = 0;
        loop {
            let deleted = self
                .purge_chunk_again_on_conflict(workspace, &condition)
                .await?;
            events += deleted;
            if deleted < PURGE_CHUNK as u64 {
                break;
            }
        }
        let mut conn = self.acquire().await?;
        let mut customers = 0;
        if let Some(id) = customer {
            let sql = self.customer_statement("DELETE FROM ", workspace, id);
            customers = D::execute(&mut conn, sql, "purge a customer").await?;
        }
        Ok(PurgeOutcome { events, customers })
    }

    /// [`Self::purge_chunk`], tried again (up to [`CHUNK_ATTEMPTS`] times in all) when it
    /// meets a lock conflict. On MySQL the rollup's recompute takes next-key locks in tables
    /// every workspace shares, so a purge can deadlock with appends or purges elsewhere.
    async fn purge_chunk_again_on_conflict(
        &self,
        workspace: &WorkspaceId,
        condition: &(dyn Fn(&mut Sql) + Sync),
    ) -> SqlResult<u64> {
        let mut attempt = 1;
        loop {
            match self.purge_chunk(workspace, condition).await {
                Err(SqlError::Driver { source, .. })
                    if attempt < CHUNK_ATTEMPTS && D::is_busy(&source) =>
                {
                    tokio::time::sleep(CHUNK_BACKOFF * attempt).await;
                    attempt += 1;
                }
                done => return done,
            }
        }
    }

    /// Deletes at most [`PURGE_CHUNK`] events matching `condition`, recomputes the rollup of
    /// every customer-day they counted in and takes them off the totals and the log counts, in
    /// one transaction; the number deleted.
    async fn purge_chunk(
        &self,
        workspace: &WorkspaceId,
        condition: &(dyn Fn(&mut Sql) + Sync),
    ) -> SqlResult<u64> {
        let (turn, mut tx) = self.begin_write().await?;
        let mut select = D::sql();
        select
            .push("SELECT id, customer, actor, occurred_at, name, domain FROM ")
            .push(&self.tables.events)
            .push(" WHERE workspace = ")
            .bind(workspace.as_str())
            .push(" AND ");
        condition(&mut select);
        select
            .push(" LIMIT ")
            .bind(PURGE_CHUNK)
            .push(D::LOCKING_READ);
        let rows = D::fetch_all(&mut tx, select, "find events to purge").await?;
        let mut ids = Vec::with_capacity(rows.len());
        let mut days = BTreeSet::new();
        let mut counted_per_customer: BTreeMap<i64, i64> = BTreeMap::new();
        let mut log_deltas = LogDeltas::new();
        for row in &rows {
            ids.push(row.text(0)?);
            let actor = i64::from(row.small(2)?);
            let cell = (row.str(4)?, actor, row.str(5)?);
            count_in_log(&mut log_deltas, row.int(3)?, cell, -1);
            if actor != actor_code(Actor::Customer) {
                continue;
            }
            let customer = row.int(1)?;
            *counted_per_customer.entry(customer).or_default() += 1;
            if let Some(day) = day_of(row.int(3)?) {
                days.insert((customer, day));
            }
        }
        if !ids.is_empty() {
            let mut delete = D::sql();
            delete
                .push("DELETE FROM ")
                .push(&self.tables.events)
                .push(" WHERE workspace = ")
                .bind(workspace.as_str())
                .push(" AND id IN ")
                .bind_list(ids.iter().map(String::as_str))
                .one_off();
            D::execute(&mut tx, delete, "purge events").await?;
        }
        for (customer, day) in days {
            self.recompute_day(&mut tx, workspace, customer, day)
                .await?;
        }
        for (customer, deleted) in counted_per_customer {
            self.take_from_total(&mut tx, workspace, customer, deleted)
                .await?;
        }
        self.change_log_counts(&mut tx, workspace, log_deltas)
            .await?;
        let deleted = ids.len() as u64;
        self.commit_write(turn, tx, deleted, "commit a purge chunk")
            .await?;
        Ok(deleted)
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
