//! `activity_page`: customer rows with counters from conditional aggregation, a sorted page,
//! and the total and summary over every matching row, from one snapshot.

use std::collections::HashSet;

use engagement_core::{
    ActivityCounters, ActivityPage, ActivityQuery, ActivityRow, ActivitySortKey, ActivitySummary,
    Milestone, Timestamp, WorkspaceId,
};

use super::rollup::{Columns, Narrow};
use super::{Engine, bigint, count};
use crate::dialect::{Conn, Dialect, ReadRow, begin};
use crate::encode::customer_from_row;
use crate::error::{SqlError, SqlResult};
use crate::filter::{narrows, push_customer_filter, push_in_list, raw_ids};
use crate::sql::Sql;

/// What the counters read: counts and latest instants, of a rollup row or of one raw event.
const ACTIVITY_COLUMNS: Columns = Columns {
    rollup: "customer, name, n, last_at",
    raw: "customer, name, 1 AS n, occurred_at AS last_at",
};

/// The total and the summary bar over every matching row, in [`ActivitySummary`] order.
const TOTALS: [&str; 6] = [
    "COUNT(*)",
    "SUM(CASE WHEN COALESCE(a.views, 0) > 0 THEN 1 ELSE 0 END)",
    "SUM(COALESCE(a.views, 0))",
    "SUM(COALESCE(a.verified, 0))",
    "SUM(COALESCE(a.checkout, 0))",
    "SUM(COALESCE(a.orders, 0))",
];

/// Counter columns of the aggregate, in [`Milestone::ALL`] order.
const COUNTERS: [&str; 5] = ["views", "confirmed", "verified", "checkout", "orders"];

impl<D: Dialect> Engine<D> {
    pub(crate) async fn activity_page(
        &self,
        workspace: &WorkspaceId,
        query: &ActivityQuery,
    ) -> SqlResult<ActivityPage> {
        // A report's settings (`BEGIN_READ`) for the latest events too: they are the page's
        // customers' own, which their index finds, not the log's unindexed filters that
        // `BEGIN_LOG_READ` tunes the planner for (and that would plan the page itself anew).
        let mut tx = begin::<D>(&self.pool, D::BEGIN_READ).await?;
        let mut page = self.page_in(&mut tx, workspace, query).await?;
        // What is read with the rows is read by its own primitive's statements, in the same
        // snapshot.
        if let Some(buckets) = query.row_buckets_query(&page.rows) {
            page.row_buckets = self.bucket_counts_in(&mut tx, workspace, &buckets).await?;
        }
        if let Some(latest) = query.latest_query(&page.rows) {
            page.latest = self.event_page_in(&mut tx, workspace, &latest).await?;
        }
        tx.commit()
            .await
            .map_err(SqlError::driver("end the activity snapshot"))?;
        Ok(page)
    }

    /// The rows, total and summary of [`Self::activity_page`], read on `conn` in the snapshot
    /// of the read transaction it is in.
    async fn page_in(
        &self,
        conn: &mut Conn<D>,
        workspace: &WorkspaceId,
        query: &ActivityQuery,
    ) -> SqlResult<ActivityPage> {
        // The rows, their counters and the window totals are computed in a derived table and
        // only ordered and cut to the page outside it. Ordered and limited at the same level,
        // PostgreSQL (15) costed the `OVER ()` totals as if the `LIMIT` let them stop after the
        // page's rows, and preferred a join that streams the customers in page order: a nested
        // loop over the materialized counters (whose `GROUP BY` over the raw edges it estimates
        // at 200 rows), which the totals then ran to the end. Sorted by name beside five other
        // workspaces of the same size, 1.4 s became 678 s (4.9 billion join filter rows), and
        // sorted by a counter each parallel worker aggregated the counters again. A derived
        // table with window functions is planned for all its rows (it cannot be merged into
        // the outer query), so the join is a hash join whatever the order.
        let mut page = D::sql();
        if query.sort.key == ActivitySortKey::Name {
            page.push(D::WHOLE_TEXT_ORDER);
        }
        page.push(
            "SELECT r.id, r.code, r.first_name, r.last_name, r.email, r.status, \
             r.is_admin_placeholder",
        );
        for counter in COUNTERS {
            page.push(", r.").push(counter);
        }
        page.push(", r.last_click, r.last_activity");
        for i in 0..TOTALS.len() {
            page.push(", r.total_").push(&i.to_string());
        }
        page.push(
            " FROM (SELECT c.id, c.code, c.first_name, c.last_name, c.email, c.status, \
             c.is_admin_placeholder, c.sort_name",
        );
        for counter in COUNTERS {
            page.push(", COALESCE(a.")
                .push(counter)
                .push(", 0) AS ")
                .push(counter);
        }
        page.push(", a.last_click, a.last_activity");
        // The totals ride along as window aggregates over every matching row (computed before
        // the LIMIT), so the counters are aggregated once for the page and its summary.
        for (i, total) in TOTALS.into_iter().enumerate() {
            page.push(", ")
                .push(&D::int(&format!("{total} OVER ()")))
                .push(" AS total_")
                .push(&i.to_string());
        }
        self.push_rows(&mut page, workspace, query);
        page.push(") r ORDER BY ");
        let direction = if query.sort.descending {
            " DESC"
        } else {
            " ASC"
        };
        match query.sort.key {
            ActivitySortKey::Milestone(m) => {
                page.push("r.").push(counter_column(m));
            }
            ActivitySortKey::LastClick => {
                push_absent_smallest(&mut page, "r.last_click", direction);
            }
            ActivitySortKey::LastActivity => {
                push_absent_smallest(&mut page, "r.last_activity", direction);
            }
            ActivitySortKey::Name => {
                page.push("r.sort_name");
            }
            ActivitySortKey::CustomerId => {
                page.push("r.id");
            }
        }
        page.push(direction)
            .push(", r.id ASC LIMIT ")
            .bind(bigint(query.limit))
            .push(" OFFSET ")
            .bind(bigint(query.offset));

        let rows = D::fetch_all(conn, page, "read the activity page").await?;
        // A page past the end carries no totals: only then are they summed on their own.
        let (sums, at) = if rows.is_empty() {
            let mut totals = D::sql();
            totals.push("SELECT ");
            for (i, total) in TOTALS.into_iter().enumerate() {
                if i > 0 {
                    totals.push(", ");
                }
                totals.push(&D::int(&format!("COALESCE({total}, 0)")));
            }
            self.push_rows(&mut totals, workspace, query);
            let sums = D::fetch_all(conn, totals, "sum the activity rows").await?;
            (sums, 0)
        } else {
            (Vec::new(), 14)
        };
        let totals_row = if rows.is_empty() {
            sums.first()
        } else {
            rows.first()
        };
        let (total_rows, summary) = match totals_row {
            Some(row) => (
                count(row.int(at)?)?,
                ActivitySummary {
                    customers_with_views: count(row.int(at + 1)?)?,
                    views: count(row.int(at + 2)?)?,
                    verified: count(row.int(at + 3)?)?,
                    checkout: count(row.int(at + 4)?)?,
                    orders: count(row.int(at + 5)?)?,
                },
            ),
            None => (0, ActivitySummary::default()),
        };

        let rows = rows
            .iter()
            .map(|row| {
                let mut n = [0_u64; 5];
                for (i, slot) in n.iter_mut().enumerate() {
                    *slot = count(row.int(7 + i)?)?;
                }
                Ok(ActivityRow {
                    customer: customer_from_row(row, 0)?,
                    counters: ActivityCounters {
                        views: n[0],
                        confirmed: n[1],
                        verified: n[2],
                        checkout: n[3],
                        orders: n[4],
                        last_click: row.opt_int(12)?.map(Timestamp::from_micros),
                        last_activity: row.opt_int(13)?.map(Timestamp::from_micros),
                    },
                })
            })
            .collect::<SqlResult<Vec<_>>>()?;
        Ok(ActivityPage {
            rows,
            total_rows,
            summary,
            ..ActivityPage::default()
        })
    }

    /// Appends ` FROM customers c LEFT JOIN (<counters per customer>) a … WHERE <filter>`.
    fn push_rows(&self, sql: &mut Sql, workspace: &WorkspaceId, query: &ActivityQuery) {
        // A name mapped to several milestones counts toward the first (declaration order).
        let mut taken: HashSet<&str> = HashSet::new();
        let mut names = Vec::with_capacity(5);
        for m in Milestone::ALL {
            let listed = query.milestones.names(m);
            let own: Vec<String> = listed
                .iter()
                .filter(|n| !taken.contains(n.as_str()))
                .cloned()
                .collect();
            taken.extend(listed.iter().map(String::as_str));
            names.push(own);
        }

        sql.push(" FROM ")
            .push(&self.tables.customers)
            .push(" c LEFT JOIN (SELECT customer");
        for (counter, names) in COUNTERS.iter().zip(&names) {
            sql.push(", CAST(");
            if names.is_empty() {
                sql.push("0");
            } else {
                sql.push("SUM(CASE WHEN ");
                push_in_list::<D>(sql, "name", names);
                sql.push(" THEN n ELSE 0 END)");
            }
            sql.push(" AS ").push(D::INT).push(") AS ").push(counter);
        }
        if names[0].is_empty() {
            sql.push(", CAST(NULL AS ").push(D::INT).push(")");
        } else {
            sql.push(", MAX(CASE WHEN ");
            push_in_list::<D>(sql, "name", &names[0]);
            sql.push(" THEN last_at END)");
        }
        sql.push(" AS last_click, MAX(last_at) AS last_activity FROM (");
        let narrowing = |sql: &mut Sql| {
            sql.push("customer IN (SELECT f.id FROM ")
                .push(&self.tables.customers)
                .push(" f WHERE ");
            push_customer_filter::<D>(sql, "f", workspace, &query.customers);
            sql.push(")");
        };
        // Listed customers narrow the counted rows by their ids, a range of the rollup's key
        // each (their search and status are the outer filter's): through the subquery
        // MariaDB read every rollup row of the window for one customer's detail (docs/scaling.md,
        // "2026-12-07: one customer's detail and log").
        let ids = query.customers.ids.as_deref().map(raw_ids);
        let narrow = match &ids {
            Some(ids) => Narrow::Customers(ids),
            None if narrows(&query.customers) => Narrow::Where(&narrowing),
            None => Narrow::All,
        };
        self.push_counted_parts(sql, workspace, query.window, ACTIVITY_COLUMNS, narrow);
        sql.push(") u");
        sql.push(" GROUP BY customer) a ON a.customer = c.id WHERE ");
        push_customer_filter::<D>(sql, "c", workspace, &query.customers);
    }
}

fn counter_column(m: Milestone) -> &'static str {
    match m {
        Milestone::Views => COUNTERS[0],
        Milestone::Confirmed => COUNTERS[1],
        Milestone::Verified => COUNTERS[2],
        Milestone::Checkout => COUNTERS[3],
        Milestone::Orders => COUNTERS[4],
    }
}

/// Orders by the instant `column`, rows without one as the smallest value: they come first
/// ascending and last descending (as the reference orders `None` before any instant, even
/// `Timestamp::MIN`, which a stand-in value for the absent one would tie with). The caller
/// pushes `direction` for the column itself.
fn push_absent_smallest(sql: &mut Sql, column: &str, direction: &str) {
    sql.push("CASE WHEN ")
        .push(column)
        .push(" IS NULL THEN 0 ELSE 1 END")
        .push(direction)
        .push(", ")
        .push(column);
}
