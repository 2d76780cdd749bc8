//! `ranking` (its rows, their records, a customer's rank): scores summed in SQL over the daily rollup and the
//! window's raw edges, ranks counted in SQL.
//!
//! The top of a ranking is pruned by the customers' all-time totals, which no window's score
//! exceeds: the scores of the customers with the largest totals give a score that the `limit`-th
//! place reaches at least (the bar), and only customers whose total reaches the bar can place,
//! so only they are scored. Over 28 days of 10M events that is a few hundred customers' rollup
//! rows instead of 3.4M. Where it cannot prune (fewer scored customers than places, or more
//! than [`MAX_CANDIDATES`] reaching the bar) the whole window is ranked. A customer's rank is
//! pruned the same way, with the customer's own score as the bar: only customers whose totals
//! reach it can rank before them.

use engagement_core::{
    CustomerId, CustomerScore, RankedScore, Ranking, RankingQuery, TimeWindow, TopCustomersQuery,
    WorkspaceId,
};

use super::rollup::{Columns, Narrow};
use super::{Engine, bigint, count};
use crate::dialect::{Conn, Dialect, ReadRow, begin};
use crate::error::{SqlError, SqlResult};
use crate::sql::Sql;

/// Customers scored by list at most; a ranking that would need more is computed whole.
const MAX_CANDIDATES: usize = 10_000;
/// Customers with the largest totals scored first, per place of the ranking.
const FIRST_CANDIDATES_PER_PLACE: usize = 2;

/// A score is a sum of counts: a rollup row's `n`, or 1 for a raw event.
const SCORE_COLUMNS: Columns = Columns {
    rollup: "customer, n",
    raw: "customer, 1 AS n",
};

impl<D: Dialect> Engine<D> {
    /// Appends `SELECT customer, <score> AS score … GROUP BY customer` over the window (whole
    /// days from the rollup, the edges from the events), narrowed to `only` customers if given.
    fn push_scores(
        &self,
        sql: &mut Sql,
        workspace: &WorkspaceId,
        window: TimeWindow,
        only: Option<&[i64]>,
    ) {
        sql.push("SELECT customer, ")
            .push(&D::int("SUM(n)"))
            .push(" AS score FROM (");
        let narrow = only.map_or(Narrow::All, Narrow::Customers);
        self.push_counted_parts(sql, workspace, window, SCORE_COLUMNS, narrow);
        sql.push(") u GROUP BY customer");
    }

    pub(crate) async fn ranking(
        &self,
        workspace: &WorkspaceId,
        query: &RankingQuery,
    ) -> SqlResult<Ranking> {
        let window = query.top.window;
        let scoring = query.top.limit > 0 && !window.is_empty();
        let standing_of = query.standing_of.filter(|_| !window.is_empty());
        if !scoring && standing_of.is_none() {
            return Ok(Ranking::default());
        }
        // One snapshot, so that the rows, their records and the standing agree.
        let mut tx = begin::<D>(&self.pool, D::BEGIN_READ).await?;
        let scores = if scoring {
            match self.pruned_top(&mut tx, workspace, &query.top).await? {
                Some(top) => top,
                None => self.top_of(&mut tx, workspace, &query.top, None).await?,
            }
        } else {
            Vec::new()
        };
        let records = if query.records {
            let ids: Vec<CustomerId> = scores.iter().map(|s| s.customer).collect();
            self.customers_in(&mut tx, workspace, &ids).await?
        } else {
            Vec::new()
        };
        let standing = match standing_of {
            Some(customer) => self.rank_in(&mut tx, workspace, window, customer).await?,
            None => None,
        };
        tx.commit()
            .await
            .map_err(SqlError::driver("end the ranking snapshot"))?;
        Ok(Ranking {
            scores,
            records,
            standing,
        })
    }

    /// The ranking from the customers whose totals reach the bar (see the module), or `None`
    /// where that would not prune.
    async fn pruned_top(
        &self,
        conn: &mut Conn<D>,
        workspace: &WorkspaceId,
        query: &TopCustomersQuery,
    ) -> SqlResult<Option<Vec<CustomerScore>>> {
        let first = query.limit.saturating_mul(FIRST_CANDIDATES_PER_PLACE);
        if first > MAX_CANDIDATES {
            return Ok(None);
        }
        let largest = self.totals(conn, workspace, None, first).await?;
        let scored = self.top_of(conn, workspace, query, Some(&largest)).await?;
        let Some(bar) = scored.get(query.limit - 1).map(|s| s.score) else {
            return Ok(None);
        };
        let candidates = self
            .totals(conn, workspace, Some(bar), MAX_CANDIDATES + 1)
            .await?;
        if candidates.len() > MAX_CANDIDATES {
            return Ok(None);
        }
        Ok(Some(
            self.top_of(conn, workspace, query, Some(&candidates))
                .await?,
        ))
    }

    /// Up to `limit` customers whose totals are at least `at_least` (from the index alone:
    /// placeholders are left to the ranking), or, without it, the `limit` customers other than
    /// placeholders with the largest totals.
    async fn totals(
        &self,
        conn: &mut Conn<D>,
        workspace: &WorkspaceId,
        at_least: Option<u64>,
        limit: usize,
    ) -> SqlResult<Vec<i64>> {
        let mut sql = D::sql();
        sql.push("SELECT t.customer FROM ")
            .push(&self.tables.totals)
            .push(" t WHERE t.workspace = ")
            .bind(workspace.as_str());
        match at_least {
            Some(at_least) => {
                sql.push(" AND t.n >= ").bind(bigint(at_least));
            }
            None => {
                sql.push(" AND");
                self.push_not_placeholder(&mut sql, workspace, "t.customer");
                sql.push(" ORDER BY t.n DESC");
            }
        }
        sql.push(" LIMIT ").bind(bigint(limit as u64));
        D::fetch_all(conn, sql, "read customer totals")
            .await?
            .iter()
            .map(|row| row.int(0))
            .collect()
    }

    /// The ranking of the window, over `only` customers if given.
    async fn top_of(
        &self,
        conn: &mut Conn<D>,
        workspace: &WorkspaceId,
        query: &TopCustomersQuery,
        only: Option<&[i64]>,
    ) -> SqlResult<Vec<CustomerScore>> {
        if only.is_some_and(<[i64]>::is_empty) {
            return Ok(Vec::new());
        }
        let mut sql = D::sql();
        sql.push("SELECT s.customer, s.score FROM (");
        self.push_scores(&mut sql, workspace, query.window, only);
        sql.push(") s WHERE");
        self.push_not_placeholder(&mut sql, workspace, "s.customer");
        sql.push(" ORDER BY s.score DESC, s.customer ASC LIMIT ")
            .bind(bigint(query.limit as u64));
        D::fetch_all(conn, sql, "rank customers")
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

    /// `customer`'s rank and score over `window`, read on `conn` in the snapshot of the read
    /// transaction it is in (so that the score and the count of better-ranked customers agree).
    async fn rank_in(
        &self,
        conn: &mut Conn<D>,
        workspace: &WorkspaceId,
        window: TimeWindow,
        customer: CustomerId,
    ) -> SqlResult<Option<RankedScore>> {
        let alone = TopCustomersQuery { window, limit: 1 };
        let own = self
            .top_of(conn, workspace, &alone, Some(&[customer.0]))
            .await?;
        let Some(own) = own.first() else {
            return Ok(None);
        };
        let better = self
            .better_than(conn, workspace, window, customer, own.score)
            .await?;
        Ok(Some(RankedScore {
            score: own.score,
            rank: better + 1,
        }))
    }

    /// How many customers rank before `customer`, whose score is `score`: a higher score, or
    /// the same and a smaller id. Only customers whose totals reach `score` can, so only they
    /// are scored, unless more than [`MAX_CANDIDATES`] do (see the module).
    async fn better_than(
        &self,
        conn: &mut Conn<D>,
        workspace: &WorkspaceId,
        window: TimeWindow,
        customer: CustomerId,
        score: u64,
    ) -> SqlResult<u64> {
        let candidates = self
            .totals(conn, workspace, Some(score), MAX_CANDIDATES + 1)
            .await?;
        let only = (candidates.len() <= MAX_CANDIDATES).then_some(&candidates[..]);
        if only.is_some_and(<[i64]>::is_empty) {
            return Ok(0);
        }
        let mut sql = D::sql();
        sql.push("SELECT COUNT(*) FROM (");
        self.push_scores(&mut sql, workspace, window, only);
        sql.push(") s WHERE (s.score > ")
            .bind(bigint(score))
            .push(" OR (s.score = ")
            .bind(bigint(score))
            .push(" AND s.customer < ")
            .bind(customer.0)
            .push(")) AND");
        self.push_not_placeholder(&mut sql, workspace, "s.customer");
        let rows = D::fetch_all(conn, sql, "count the better-ranked customers").await?;
        rows.first().map_or(Ok(0), |row| count(row.int(0)?))
    }
}
