//! `top_customers` and `customer_rank`: scores grouped in SQL, ranks counted in SQL.

use engagement_core::{
    CustomerId, CustomerScore, RankedScore, TimeWindow, TopCustomersQuery, WorkspaceId,
};

use super::{Engine, Who, bigint, count};
use crate::dialect::{Dialect, ReadRow};
use crate::error::SqlResult;
use crate::filter::push_counted;
use crate::sql::Sql;

impl<D: Dialect> Engine<D> {
    /// Appends `SELECT customer, COUNT(*) AS score … GROUP BY customer` over the window.
    fn push_scores(&self, sql: &mut Sql, workspace: &WorkspaceId, window: TimeWindow) {
        sql.push("SELECT customer, COUNT(*) AS score FROM ")
            .push(&self.tables.events)
            .push(" WHERE ");
        push_counted(sql, workspace, window);
        sql.push(" GROUP BY customer");
    }

    pub(crate) async fn top_customers(
        &self,
        workspace: &WorkspaceId,
        query: &TopCustomersQuery,
    ) -> SqlResult<Vec<CustomerScore>> {
        if query.limit == 0 || query.window.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = D::sql();
        sql.push("SELECT s.customer, s.score FROM (");
        self.push_scores(&mut sql, workspace, query.window);
        sql.push(") s WHERE");
        self.push_not_placeholder(&mut sql, workspace, Who::Column("s.customer"));
        sql.push(" ORDER BY s.score DESC, s.customer ASC LIMIT ")
            .bind(bigint(query.limit as u64));
        let mut conn = self.acquire().await?;
        D::fetch_all(&mut conn, sql, "rank customers")
            .await?
            .iter()
            .map(|row| {
                Ok(CustomerScore {
                    customer: CustomerId(row.int(0)?),
                    score: count(row.int(1)?)?,
                })
            })
            .collect()
    }

    pub(crate) async fn customer_rank(
        &self,
        workspace: &WorkspaceId,
        window: TimeWindow,
        customer: CustomerId,
    ) -> SqlResult<Option<RankedScore>> {
        // One statement, so the score and the count of better-ranked customers share a snapshot.
        let mut sql = D::sql();
        sql.push("SELECT me.score, (SELECT COUNT(*) FROM (");
        self.push_scores(&mut sql, workspace, window);
        sql.push(") s WHERE (s.score > me.score OR (s.score = me.score AND s.customer < ")
            .bind(customer.0)
            .push(")) AND");
        self.push_not_placeholder(&mut sql, workspace, Who::Column("s.customer"));
        sql.push(") AS better FROM (SELECT COUNT(*) AS score FROM ")
            .push(&self.tables.events)
            .push(" WHERE ");
        push_counted(&mut sql, workspace, window);
        sql.push(" AND customer = ")
            .bind(customer.0)
            .push(") me WHERE me.score > 0 AND");
        self.push_not_placeholder(&mut sql, workspace, Who::Id(customer.0));
        let mut conn = self.acquire().await?;
        let rows = D::fetch_all(&mut conn, sql, "rank one customer").await?;
        rows.first()
            .map(|row| {
                Ok(RankedScore {
                    score: count(row.int(0)?)?,
                    rank: count(row.int(1)?)? + 1,
                })
            })
            .transpose()
    }
}
