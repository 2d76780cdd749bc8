//! `upsert_customers` and `customers`.

use std::collections::HashSet;

use engagement_core::{Customer, CustomerId, WorkspaceId};

use super::Engine;
use crate::chunk::rows_per_statement;
use crate::dialect::{Conn, Dialect};
use crate::encode::{
    CUSTOMER_BINDS, CUSTOMER_COLUMNS, CUSTOMER_INSERT_COLUMNS, CUSTOMER_UPDATE_COLUMNS,
    customer_from_row, push_customer_values,
};
use crate::error::SqlResult;
use crate::filter::raw_ids;
use crate::sql::Sql;

/// What a failed read of records says it was doing.
const CONTEXT: &str = "read customers";

impl<D: Dialect> Engine<D> {
    pub(crate) async fn upsert_customers(
        &self,
        workspace: &WorkspaceId,
        customers: &[Customer],
    ) -> SqlResult<()> {
        // Last write wins: keep the last record of each id (an upsert may not touch a row twice).
        let mut seen = HashSet::with_capacity(customers.len());
        let mut last: Vec<&Customer> = customers
            .iter()
            .rev()
            .filter(|c| seen.insert(c.id))
            .collect();
        last.reverse();
        if last.is_empty() {
            return Ok(());
        }
        let (turn, mut tx) = self.begin_write().await?;
        for chunk in last.chunks(rows_per_statement(D::MAX_BINDS, CUSTOMER_BINDS, 0)) {
            let mut sql = D::sql();
            sql.push("INSERT INTO ")
                .push(&self.tables.customers)
                .push(" (")
                .push(CUSTOMER_INSERT_COLUMNS)
                .push(") VALUES ");
            for (i, c) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                push_customer_values(&mut sql, workspace, c);
            }
            D::on_conflict_update(&mut sql, &CUSTOMER_UPDATE_COLUMNS);
            sql.one_off();
            D::execute(&mut tx, sql, "upsert customers").await?;
        }
        self.commit_write(turn, tx, last.len() as u64, "commit the customers")
            .await
    }

    pub(crate) async fn customers(
        &self,
        workspace: &WorkspaceId,
        ids: &[CustomerId],
    ) -> SqlResult<Vec<Customer>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.acquire().await?;
        let sql = self.customers_sql(workspace, ids);
        D::fetch_alone(&mut conn, sql, CONTEXT)
            .await?
            .iter()
            .map(|row| customer_from_row(row, 0))
            .collect()
    }

    /// [`Self::customers`] read on `conn`, in the snapshot of the read transaction it is in.
    pub(super) async fn customers_in(
        &self,
        conn: &mut Conn<D>,
        workspace: &WorkspaceId,
        ids: &[CustomerId],
    ) -> SqlResult<Vec<Customer>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = self.customers_sql(workspace, ids);
        D::fetch_all(conn, sql, CONTEXT)
            .await?
            .iter()
            .map(|row| customer_from_row(row, 0))
            .collect()
    }

    /// The statement reading the records among `ids`, ordered by id.
    fn customers_sql(&self, workspace: &WorkspaceId, ids: &[CustomerId]) -> Sql {
        let ids = raw_ids(ids);
        let mut sql = D::sql();
        sql.push("SELECT ")
            .push(CUSTOMER_COLUMNS)
            .push(" FROM ")
            .push(&self.tables.customers)
            .push(" WHERE workspace = ")
            .bind(workspace.as_str())
            .push(" AND ");
        D::push_in_ids(&mut sql, "id", &ids);
        sql.push(" ORDER BY id");
        sql
    }
}
