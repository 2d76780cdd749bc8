//! `purge`: deletes in bounded chunks, each its own transaction that also takes what it deleted
//! off the daily rollup, the customers' totals and the event log's counts, so an interrupted
//! purge leaves a consistent state and a rerun finishes it; a dry run only counts.

use std::collections::BTreeMap;
use std::time::Duration;

use engagement_core::{Actor, PurgeMode, PurgeOutcome, PurgeScope, WorkspaceId};

use super::rollup::{LogDeltas, RollupDeltas, count_in_log, count_in_rollup};
use super::{Engine, count};
use crate::dialect::{Conn, Dialect, ReadRow, begin};
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

/// What one purge chunk did.
enum Chunk {
    /// Deleted this many events, and took them off the rollup, the totals and the log counts.
    Deleted(u64),
    /// Another purge deleted some of the events the chunk read after it read them: the chunk
    /// rolled back, to be read again.
    Raced,
}

impl<D: Dialect> Engine<D> {
    pub(crate) async fn purge(
        &self,
        workspace: &WorkspaceId,
        scope: PurgeScope,
        mode: PurgeMode,
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
        // An erasure reads the customer's events by the customer index. MariaDB, asked for
        // them in time order, may otherwise walk the workspace's whole time index (it chose
        // that on a table without statistics).
        let index = customer.map(|_| &*self.tables.events_by_customer);

        if mode.is_dry_run() {
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

        // Chunks until one is short, then one more (the sweep): a short chunk may have waited
        // for an append re-sending one of its events (`Dialect::SHARED_LOCKING_READ`), and
        // read before that append's new events in scope were committed; the sweep, begun after
        // that commit, takes them. Only one, so that steady appends in scope (a customer still
        // sending events while erased) cannot keep a purge going.
        let (mut events, mut swept) = (0, false);
        loop {
            let deleted = self
                .purge_chunk_again_on_conflict(workspace, &condition, index)
                .await?;
            events += deleted;
            if deleted == PURGE_CHUNK as u64 {
                continue;
            }
            if deleted == 0 || swept {
                break;
            }
            swept = true;
        }
        let customers = match customer {
            Some(id) => self.purge_customer(workspace, id).await?,
            None => 0,
        };
        Ok(PurgeOutcome { events, customers })
    }

    /// Deletes the customer `id`, the last step of its erasure, as a write like the others:
    /// outside the store's turn to write, SQLite's busy handler left it waiting for the lock
    /// while appends took turns, and it could give up as busy after the events were gone.
    async fn purge_customer(&self, workspace: &WorkspaceId, id: i64) -> SqlResult<u64> {
        let (turn, mut tx) = self.begin_write().await?;
        let sql = self.customer_statement("DELETE FROM ", workspace, id);
        let deleted = D::execute(&mut tx, sql, "purge a customer").await?;
        self.commit_write(turn, tx, deleted, "commit a customer's purge")
            .await?;
        Ok(deleted)
    }

    /// [`Self::purge_chunk`], tried again (up to [`CHUNK_ATTEMPTS`] times in all) when it
    /// meets a lock conflict, and read again whenever another purge deleted some of its events
    /// first. On MySQL the rollup's read of the events left takes next-key locks in tables
    /// every workspace shares, so a purge can deadlock with appends or purges elsewhere.
    ///
    /// A chunk read again is not an attempt: each time, another purge committed the deletion of
    /// some of the events it had read, which no purge deletes twice, so that ends.
    async fn purge_chunk_again_on_conflict(
        &self,
        workspace: &WorkspaceId,
        condition: &(dyn Fn(&mut Sql) + Sync),
        index: Option<&str>,
    ) -> SqlResult<u64> {
        let mut attempt = 1;
        loop {
            match self.purge_chunk(workspace, condition, index).await {
                Ok(Chunk::Deleted(deleted)) => return Ok(deleted),
                Ok(Chunk::Raced) => {}
                Err(SqlError::Driver { source, .. })
                    if attempt < CHUNK_ATTEMPTS && D::is_busy(&source) =>
                {
                    tokio::time::sleep(CHUNK_BACKOFF * attempt).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Deletes the oldest [`PURGE_CHUNK`] events matching `condition` (or all, if fewer) and
    /// takes them off the rollup, the totals and the log counts, in one transaction.
    ///
    /// The chunk is read in the order of the index its scope leads with (the time index, or
    /// the customer index for an erasure, named as `index` where the dialect takes a hint),
    /// so the database walks that index from the workspace's oldest event. Without the order
    /// PostgreSQL took `LIMIT` as leave to scan the table until it met enough rows, passing
    /// every other workspace's rows and the rows earlier chunks deleted, at each chunk.
    async fn purge_chunk(
        &self,
        workspace: &WorkspaceId,
        condition: &(dyn Fn(&mut Sql) + Sync),
        index: Option<&str>,
    ) -> SqlResult<Chunk> {
        let (turn, mut tx) = self.begin_write().await?;
        let mut select = D::sql();
        select.push("SELECT id, customer, actor, occurred_at, name, domain");
        if let Some(key) = D::ROW_KEY {
            select.push(", ").push(key);
        }
        select.push(" FROM ").push(&self.tables.events);
        if let Some(index) = index {
            D::push_index_hint(&mut select, index);
        }
        select
            .push(" WHERE workspace = ")
            .bind(workspace.as_str())
            .push(" AND ");
        condition(&mut select);
        select
            .push(" ORDER BY occurred_at, id LIMIT ")
            .bind(PURGE_CHUNK)
            .push(D::LOCKING_READ);
        let rows = D::fetch_all(&mut tx, select, "find events to purge").await?;
        let mut ids = Vec::with_capacity(rows.len());
        let mut keys = Vec::new();
        let mut rollup_deltas = RollupDeltas::new();
        let mut counted_per_customer: BTreeMap<i64, i64> = BTreeMap::new();
        let mut log_deltas = LogDeltas::new();
        for row in &rows {
            ids.push(row.text(0)?);
            if D::ROW_KEY.is_some() {
                keys.push(row.int(6)?);
            }
            let actor = i64::from(row.small(2)?);
            let (at, name) = (row.int(3)?, row.str(4)?);
            count_in_log(&mut log_deltas, at, (name, actor, row.str(5)?), -1);
            if actor != actor_code(Actor::Customer) {
                continue;
            }
            let customer = row.int(1)?;
            *counted_per_customer.entry(customer).or_default() += 1;
            count_in_rollup(&mut rollup_deltas, (customer, at, name), -1);
        }
        if !self.delete_all_read(&mut tx, workspace, &ids, keys).await? {
            tx.rollback()
                .await
                .map_err(SqlError::driver("roll back a purge chunk"))?;
            return Ok(Chunk::Raced);
        }
        self.take_from_rollup(&mut tx, workspace, rollup_deltas)
            .await?;
        self.take_from_totals(&mut tx, workspace, counted_per_customer)
            .await?;
        self.change_log_counts(&mut tx, workspace, log_deltas)
            .await?;
        let deleted = ids.len() as u64;
        self.commit_write(turn, tx, deleted, "commit a purge chunk")
            .await?;
        Ok(Chunk::Deleted(deleted))
    }

    /// Deletes the events `ids` that a chunk read; whether it deleted every one.
    ///
    /// Where the chunk's read locks the rows (PostgreSQL's `FOR UPDATE`) or the store writes
    /// alone (SQLite), it always does. MySQL reads them from the transaction's snapshot without
    /// locking (see `LOCKING_READ` there), so another purge may delete some of them and commit
    /// meanwhile; InnoDB's `DELETE` then waits for that purge's locks, finds those rows gone
    /// and deletes fewer. The purge that deleted them took them off the counts, so the chunk
    /// must not take them off again: it rolls back, and is read again in a fresh snapshot.
    /// There the rows are deleted by their [`Dialect::ROW_KEY`]s (`keys`), not by `ids`: an
    /// event stored anew under one of those ids meanwhile is another row, left alone (the chunk
    /// then deletes fewer, and is read again).
    async fn delete_all_read(
        &self,
        tx: &mut Conn<D>,
        workspace: &WorkspaceId,
        ids: &[String],
        keys: Vec<i64>,
    ) -> SqlResult<bool> {
        if ids.is_empty() {
            return Ok(true);
        }
        let mut delete = D::sql();
        delete
            .push("DELETE FROM ")
            .push(&self.tables.events)
            .push(" WHERE workspace = ")
            .bind(workspace.as_str());
        match D::ROW_KEY {
            Some(key) => delete.push(" AND ").push(key).push(" IN ").bind_list(keys),
            None => delete
                .push(" AND id IN ")
                .bind_list(ids.iter().map(String::as_str)),
        };
        delete.one_off();
        let deleted = D::execute(tx, delete, "purge events").await?;
        Ok(deleted == ids.len() as u64)
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
