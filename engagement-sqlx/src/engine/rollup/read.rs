//! Reading the rollup: a window's counted events as its whole days' rollup rows and its edges'
//! raw events, in one statement.

use engagement_core::{TimeWindow, WorkspaceId};

use super::Split;
use crate::dialect::Dialect;
use crate::engine::Engine;
use crate::filter::push_counted;
use crate::sql::{Arg, Sql};

/// The most customers whose rollup rows are read one customer at a time by the key
/// ([`Engine::push_days_by_customer`]); a longer list is left to the planner. Each read costs
/// ~9 µs on PostgreSQL at 10M events; the 4,001 customers of a 24-hour ranking's second
/// statement took 36–64 ms that way, 16–23 ms as the planner's scan of the day through the day
/// index (index-only, with fresh statistics).
const KEY_READS_AT_MOST: usize = 1_000;

/// What a union of rollup rows and raw events selects: the same columns from both.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Columns {
    /// The select list over the rollup (`customer`, `day`, `name`, `n`, `last_at`).
    pub(crate) rollup: &'static str,
    /// The same list over the events (`customer`, `occurred_at`, `name`, `1`, `occurred_at`).
    pub(crate) raw: &'static str,
}

/// Which of a window's counted events a read takes.
#[derive(Clone, Copy)]
pub(crate) enum Narrow<'a> {
    /// All of them.
    All,
    /// Those meeting a condition over `customer` and `name`.
    Where(&'a dyn Fn(&mut Sql)),
    /// Those of these customers.
    Customers(&'a [i64]),
}

impl Narrow<'_> {
    /// Appends ` AND <the condition>`, if any.
    fn push_and<D: Dialect>(self, sql: &mut Sql) {
        match self {
            Self::All => {}
            Self::Where(condition) => {
                sql.push(" AND ");
                condition(sql);
            }
            Self::Customers(ids) => {
                sql.push(" AND ");
                D::push_in_ids(sql, "customer", ids);
            }
        }
    }
}

impl<D: Dialect> Engine<D> {
    /// Appends `SELECT <columns> FROM daily … UNION ALL SELECT <columns> FROM events …`: the
    /// counted events of `window`, whole days from the rollup and the edges raw, each part
    /// narrowed by `narrow`.
    pub(crate) fn push_counted_parts(
        &self,
        sql: &mut Sql,
        workspace: &WorkspaceId,
        window: TimeWindow,
        columns: Columns,
        narrow: Narrow<'_>,
    ) {
        let split = Split::new(window);
        let mut first = true;
        if let Some(days) = split.days {
            match narrow {
                Narrow::Customers(ids) if !D::ROWS_IN_TEXT && ids.len() <= KEY_READS_AT_MOST => {
                    self.push_days_by_customer(sql, columns.rollup, workspace, days, ids);
                }
                _ => {
                    push_days(sql, columns.rollup, &self.tables.daily, workspace, days);
                    narrow.push_and::<D>(sql);
                }
            }
            first = false;
        }
        // An empty window still yields a statement (that matches nothing).
        let edges = if split.edges.is_empty() && first {
            vec![window]
        } else {
            split.edges
        };
        for edge in edges {
            if !first {
                sql.push(" UNION ALL ");
            }
            first = false;
            sql.push("SELECT ")
                .push(columns.raw)
                .push(" FROM ")
                .push(&self.tables.events)
                .push(" WHERE ");
            push_counted(sql, workspace, edge);
            narrow.push_and::<D>(sql);
        }
    }

    /// Appends the rollup rows of `days` of each of `customers`, `select`ed, read from the list:
    /// one read of the rollup's key per customer (a lateral subquery, kept apart by `OFFSET 0`
    /// so the planner cannot merge it into a join). PostgreSQL, given the same as
    /// `customer = ANY(…)`, read a day its statistics did not know yet (estimated at one row)
    /// whole through the day index: 20 ms for the 200 customers a 24-hour ranking scores first,
    /// 1.9 ms this way (12 ms through the key with heap fetches, as it planned it once
    /// analysed). The list is read in key order, each customer once (a repeated one would
    /// otherwise be read, and counted, again).
    fn push_days_by_customer(
        &self,
        sql: &mut Sql,
        select: &str,
        workspace: &WorkspaceId,
        days: (i64, i64),
        customers: &[i64],
    ) {
        let mut listed = customers.to_vec();
        listed.sort_unstable();
        listed.dedup();
        sql.push("SELECT d.* FROM UNNEST(")
            .bind(Arg::Ints(listed))
            .push(") AS listed (customer) CROSS JOIN LATERAL (");
        push_days(sql, select, &self.tables.daily, workspace, days);
        sql.push(" AND customer = listed.customer OFFSET 0) AS d");
    }
}

/// Appends `SELECT <select> FROM <table> WHERE workspace = ? AND day >= ? AND day < ?`: a
/// per-day table's rows of the days `[from, to)`.
pub(crate) fn push_days(
    sql: &mut Sql,
    select: &str,
    table: &str,
    workspace: &WorkspaceId,
    (from, to): (i64, i64),
) {
    sql.push("SELECT ")
        .push(select)
        .push(" FROM ")
        .push(table)
        .push(" WHERE workspace = ")
        .bind(workspace.as_str())
        .push(" AND day >= ")
        .bind(from)
        .push(" AND day < ")
        .bind(to);
}
