//! `bucket_counts`: events per customer and bucket, the bucket found by a `CASE` over the
//! edges the caller resolved, grouped in SQL: over the daily rollup when every edge starts a UTC
//! day, over the events otherwise.

use engagement_core::{BucketCount, BucketCountsQuery, CustomerId, TimeWindow, WorkspaceId};

use super::rollup::day_of;
use super::{Engine, count};
use crate::dialect::{Dialect, ReadRow};
use crate::error::{SqlError, SqlResult};
use crate::filter::{push_counted, push_in_texts};

impl<D: Dialect> Engine<D> {
    pub(crate) async fn bucket_counts(
        &self,
        workspace: &WorkspaceId,
        query: &BucketCountsQuery,
    ) -> SqlResult<Vec<BucketCount>> {
        let edges = &query.edges;
        let (Some(from), Some(to)) = (edges.iter().min(), edges.iter().max()) else {
            return Ok(Vec::new());
        };
        if edges.len() < 2 || query.customers.is_empty() || query.names.is_empty() {
            return Ok(Vec::new());
        }
        // Only the span the edges cover is read; each event goes to the first bucket
        // `[edges[i], edges[i + 1])` holding it, whatever the order of the edges.
        let window = TimeWindow {
            from: *from,
            to: *to,
        };
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
                .bind(i64::try_from(i).unwrap_or(i64::MAX));
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
        let ids: Vec<i64> = query.customers.iter().map(|c| c.0).collect();
        D::push_in_ids(&mut sql, "customer", &ids);
        push_in_texts::<D>(&mut sql, "name", &query.names);
        sql.push(
            ") x WHERE bucket IS NOT NULL GROUP BY customer, bucket ORDER BY customer, bucket",
        );
        let mut conn = self.acquire().await?;
        D::fetch_all(&mut conn, sql, "count events per bucket")
            .await?
            .iter()
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
}
