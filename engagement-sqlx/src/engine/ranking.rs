//! `top_customers` and `customer_rank`: scores summed in SQL over the daily rollup and the
//! window's raw edges, ranks counted in SQL.

use engagement_core::{
    CustomerId, CustomerScore, RankedScore, TimeWindow, TopCustomersQuery, WorkspaceId,
};

use super::rollup::Columns;
use super::{Engine, Who, bigint, count};
use crate::dialect::{Dialect, ReadRow};
use crate::error::SqlResult;
use crate::sql::Sql;

/// A score is a sum of counts: a rollup row's `n`, or 1 for a raw event.
const SCORE_COLUMNS: Columns = Columns {
    rollup: "customer, n",
    raw: "customer, 1 AS n",
};

impl<D: Dialect> Engine<D> {
    /// Appends `SELECT customer, <score> AS score … GROUP BY customer` over the window (whole
    /// days from the rollup, the edges from the events), narrowed to one customer if given.
    fn push_scores(
        &self,
        sql: &mut Sql,
        workspace: &WorkspaceId,
        window: TimeWindow,
        only: Option<i64>,
    ) {
        sql.push("SELECT customer, ")
            .push(&D::int("SUM(n)"))
            .push(" AS score FROM (");
        let one = |sql: &mut Sql| {
            if let Some(id) = only {
                sql.push("customer = ").bind(id);
            }
        };
        self.push_counted_parts(
            sql,
            workspace,
            window,
            SCORE_COLUMNS,
            only.is_some().then_some(&one as &dyn Fn(&mut Sql)),
        );
        sql.push(") u GROUP BY customer");
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
        self.push_scores(&mut sql, workspace, query.window, None);
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
        self.push_scores(&mut sql, workspace, window, None);
        sql.push(") s WHERE (s.score > me.score OR (s.score = me.score AND s.customer < ")
            .bind(customer.0)
            .push(")) AND");
        self.push_not_placeholder(&mut sql, workspace, Who::Column("s.customer"));
        sql.push(") AS better FROM (");
        self.push_scores(&mut sql, workspace, window, Some(customer.0));
        sql.push(") me WHERE me.score > 0 AND");
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
