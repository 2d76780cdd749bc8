//! `bucket_counts`: events per customer and bucket, the bucket found by a `CASE` over the
//! edges the caller resolved, grouped in SQL: over the daily rollup when every edge starts a UTC
//! day, over the events otherwise.

use engagement_core::{
    BucketCount, BucketCountsQuery, CustomerId, TimeWindow, Timestamp, WorkspaceId,
};

use super::rollup::day_of;
use super::{Engine, count};
use crate::dialect::{Conn, Dialect, ReadRow, begin};
use crate::error::{SqlError, SqlResult};
use crate::filter::{push_counted, push_in_texts, raw_ids};
use crate::sql::Sql;

/// Buckets one statement counts at most. Each binds three values, so a year of quarter hours
/// (35,040 buckets) in one statement would pass every database's bind limit, and each is a
/// branch of the `CASE` every row goes through. More buckets are counted a run of this many at
/// a time, all in one read transaction.
const BUCKETS_PER_STATEMENT: usize = 1_000;

/// What a failed count says it was doing.
const CONTEXT: &str = "count events per bucket";

/// The runs of buckets the query's statements count: each run's first bucket number and its
/// edges; none when nothing would be counted (no bucket, customer or name).
fn runs(query: &BucketCountsQuery) -> Vec<(usize, &[Timestamp])> {
    let edges = &query.edges;
    if edges.len() < 2 || query.customers.is_empty() || query.names.is_empty() {
        return Vec::new();
    }
    (0..edges.len() - 1)
        .step_by(BUCKETS_PER_STATEMENT)
        .map(|first| {
            let last = (first + BUCKETS_PER_STATEMENT).min(edges.len() - 1);
            (first, &edges[first..=last])
        })
        .collect()
}

impl<D: Dialect> Engine<D> {
    pub(crate) async fn bucket_counts(
        &self,
        workspace: &WorkspaceId,
        query: &BucketCountsQuery,
    ) -> SqlResult<Vec<BucketCount>> {
        let runs = runs(query);
        match runs[..] {
            [] => return Ok(Vec::new()),
            [(first, run)] => {
                let mut conn = self.acquire().await?;
                let sql = self.bucket_sql(workspace, query, first, run);
                return counts_of(&D::fetch_alone(&mut conn, sql, CONTEXT).await?);
            }
            _ => {}
        }
        let mut tx = begin::<D>(&self.pool, D::BEGIN_READ).await?;
        let counts = self.bucket_counts_in(&mut tx, workspace, query).await?;
        tx.commit()
            .await
            .map_err(SqlError::driver("end the bucket counts' snapshot"))?;
        Ok(counts)
    }

    /// [`Self::bucket_counts`] read on `conn`, in the snapshot of the read transaction it is
    /// in: every run of buckets by its own statement.
    pub(super) async fn bucket_counts_in(
        &self,
        conn: &mut Conn<D>,
        workspace: &WorkspaceId,
        query: &BucketCountsQuery,
    ) -> SqlResult<Vec<BucketCount>> {
        let mut counts = Vec::new();
        for (first, run) in runs(query) {
            let sql = self.bucket_sql(workspace, query, first, run);
            counts.extend(counts_of(&D::fetch_all(conn, sql, CONTEXT).await?)?);
        }
        counts.sort_unstable_by_key(|c| (c.customer, c.bucket));
        Ok(counts)
    }

    /// The statement counting the buckets numbered from `first` whose edges are `edges`.
    fn bucket_sql(
        &self,
        workspace: &WorkspaceId,
        query: &BucketCountsQuery,
        first: usize,
        edges: &[Timestamp],
    ) -> Sql {
        // Only the span the edges cover is read; each event goes to the bucket
        // `[edges[i], edges[i + 1])` holding it. (A run has two edges or more, so the
        // fallbacks, an empty span, never apply.)
        let from = edges.iter().copied().min().unwrap_or(Timestamp::MAX);
        let to = edges.iter().copied().max().unwrap_or(Timestamp::MIN);
        let window = TimeWindow { from, to };
        // Buckets of whole UTC days are sums of rollup rows; any other edges count raw events.
        let whole_days = edges
            .iter()
            .all(|e| day_of(e.as_micros()) == Some(e.as_micros()));
        let (time, n) = if whole_days {
            ("day", "n")
        } else {
            ("occurred_at", "1")
        };
        let mut sql = D::sql();
        sql.push("SELECT customer, bucket, ")
            .push(&D::int("SUM(n)"))
            .push(" FROM (SELECT customer, ")
            .push(n)
            .push(" AS n, CAST(CASE");
        for (i, pair) in edges.windows(2).enumerate() {
            sql.push(" WHEN ")
                .push(time)
                .push(" >= ")
                .bind(pair[0].as_micros())
                .push(" AND ")
                .push(time)
                .push(" < ")
                .bind(pair[1].as_micros())
                .push(" THEN ")
                .bind(i64::try_from(first + i).unwrap_or(i64::MAX));
        }
        sql.push(" END AS ").push(D::INT).push(") AS bucket FROM ");
        if whole_days {
            sql.push(&self.tables.daily)
                .push(" WHERE workspace = ")
                .bind(workspace.as_str())
                .push(" AND day >= ")
                .bind(window.from.as_micros())
                .push(" AND day < ")
                .bind(window.to.as_micros());
        } else {
            sql.push(&self.tables.events).push(" WHERE ");
            push_counted(&mut sql, workspace, window);
        }
        sql.push(" AND ");
        D::push_in_ids(&mut sql, "customer", &raw_ids(&query.customers));
        push_in_texts::<D>(&mut sql, "name", &query.names);
        sql.push(
            ") x WHERE bucket IS NOT NULL GROUP BY customer, bucket ORDER BY customer, bucket",
        );
        sql
    }
}

/// The cells of a bucket statement's rows.
fn counts_of<R: ReadRow>(rows: &[R]) -> SqlResult<Vec<BucketCount>> {
    rows.iter()
        .map(|row| {
            let bucket = row.int(1)?;
            Ok(BucketCount {
                customer: CustomerId(row.int(0)?),
                bucket: usize::try_from(bucket).map_err(|_| SqlError::Corrupt {
                    column: "bucket",
                    reason: bucket.to_string(),
                })?,
                count: count(row.int(2)?)?,
            })
        })
        .collect()
}
