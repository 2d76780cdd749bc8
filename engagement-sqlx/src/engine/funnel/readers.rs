//! The funnel's snapshot, read on one connection or, where the database shares a snapshot
//! between connections (PostgreSQL) and the pool has one to spare, on two at once.

use std::time::Duration;

use sqlx::SqlSafeStr;
use sqlx::pool::PoolConnection;

use super::{Snapshot, read_in};
use crate::dialect::{Dialect, ReadRow, begin};
use crate::engine::Engine;
use crate::error::{SqlError, SqlResult};

/// The funnel's snapshot, read on one connection or on two at once.
pub(super) struct Readers<D: Dialect> {
    pub(super) main: Snapshot<D>,
    /// A second transaction reading the same snapshot, where the database can share it.
    pub(super) second: Option<Snapshot<D>>,
}

impl<D: Dialect> Readers<D> {
    /// Ends the snapshot.
    pub(super) async fn commit(self) -> SqlResult<()> {
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

impl<D: Dialect> Engine<D> {
    /// The funnel's snapshot: a read transaction with the dialect's funnel settings and, where
    /// the database shares snapshots and the pool has a connection to spare
    /// ([`spare_connection`]), a second on another connection reading the same snapshot.
    pub(super) async fn readers(&self) -> SqlResult<Readers<D>> {
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
}
