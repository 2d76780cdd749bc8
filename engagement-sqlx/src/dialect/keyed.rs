//! Statements that find a table's rows by a table of their keys, each row by its key, shaped
//! as each database plans them best ([`KeyedRows`]).

use engagement_core::WorkspaceId;

use super::Dialect;
use crate::sql::{Keys, Sql};

/// How a database's `UPDATE` and `DELETE` find the rows a table of keys names, each row by its
/// key, so that no other row is read or locked.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeyedRows {
    /// `WHERE (<key>) IN (SELECT … FROM <keys>)`, which SQLite reads key by key (its
    /// `UPDATE … FROM` scanned the workspace's rows instead, testing each against the keys).
    InSubquery,
    /// `UPDATE … SET … FROM <keys>` and `DELETE … USING <keys>` (PostgreSQL).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    FromAndUsing,
    /// The keys read first, then the table through its primary key, in a multi-table `UPDATE`
    /// or `DELETE` (MySQL): MariaDB plans a single-table one with `IN (SELECT …)` as a scan
    /// testing each row, which under REPEATABLE READ also locks every row it scans; and left
    /// to its estimates (`JSON_TABLE` counts as 40 rows) it read a small workspace's rollup
    /// whole, and the totals' emptied rows through `(workspace, n)`, locking every emptied
    /// total of the workspace (another purge's too, not yet committed: two such purges
    /// deadlocked).
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    MultiTable,
}

/// Appends an `UPDATE` of the rows of `table` (as `d`) of `workspace` that `keys` name and that
/// meet `filter` (a condition on `d`), with the assignments `set` appends: one statement
/// whatever the number of keys, shaped as [`Dialect::KEYED_ROWS`] says.
pub(crate) fn push_keyed_update<D: Dialect>(
    sql: &mut Sql,
    (table, workspace): (&str, &WorkspaceId),
    keys: &Keys,
    set: impl FnOnce(&mut Sql),
    filter: &str,
) {
    match D::KEYED_ROWS {
        KeyedRows::InSubquery => {
            sql.push("UPDATE ").push(table).push(" AS d SET ");
            set(sql);
            push_key_in::<D>(sql, workspace, keys, filter);
        }
        KeyedRows::FromAndUsing => {
            sql.push("UPDATE ").push(table).push(" AS d SET ");
            set(sql);
            sql.push(" FROM ");
            D::push_keys(sql, keys);
            push_keyed_rows(sql, workspace, keys, filter);
        }
        KeyedRows::MultiTable => {
            sql.push("UPDATE ");
            push_keys_then_table::<D>(sql, keys, table);
            sql.push(" SET ");
            set(sql);
            push_keyed_rows(sql, workspace, keys, filter);
        }
    }
}

/// Appends a `DELETE` of the rows of `table` (as `d`) of `workspace` that `keys` name and that
/// meet `filter` (a condition on `d`), as [`push_keyed_update`] finds them.
pub(crate) fn push_keyed_delete<D: Dialect>(
    sql: &mut Sql,
    (table, workspace): (&str, &WorkspaceId),
    keys: &Keys,
    filter: &str,
) {
    match D::KEYED_ROWS {
        KeyedRows::InSubquery => {
            sql.push("DELETE FROM ").push(table).push(" AS d");
            push_key_in::<D>(sql, workspace, keys, filter);
        }
        KeyedRows::FromAndUsing => {
            sql.push("DELETE FROM ").push(table).push(" AS d USING ");
            D::push_keys(sql, keys);
            push_keyed_rows(sql, workspace, keys, filter);
        }
        KeyedRows::MultiTable => {
            sql.push("DELETE d FROM ");
            push_keys_then_table::<D>(sql, keys, table);
            push_keyed_rows(sql, workspace, keys, filter);
        }
    }
}

/// Appends a `SELECT` of `columns` (of `d`) of the rows of `table` (as `d`) of `workspace`
/// that `keys` name and that meet `filter`, as [`push_keyed_update`] finds them.
pub(crate) fn push_keyed_select<D: Dialect>(
    sql: &mut Sql,
    (table, workspace): (&str, &WorkspaceId),
    keys: &Keys,
    columns: &str,
    filter: &str,
) {
    sql.push("SELECT ").push(columns).push(" FROM ");
    match D::KEYED_ROWS {
        KeyedRows::InSubquery => {
            sql.push(table).push(" AS d");
            push_key_in::<D>(sql, workspace, keys, filter);
        }
        KeyedRows::FromAndUsing => {
            sql.push(table).push(" AS d, ");
            D::push_keys(sql, keys);
            push_keyed_rows(sql, workspace, keys, filter);
        }
        KeyedRows::MultiTable => {
            push_keys_then_table::<D>(sql, keys, table);
            push_keyed_rows(sql, workspace, keys, filter);
        }
    }
}

/// Appends `<keys> STRAIGHT_JOIN <table> AS d FORCE INDEX (PRIMARY)`: the keys read first,
/// then `table` through its primary key ([`KeyedRows::MultiTable`]).
fn push_keys_then_table<D: Dialect>(sql: &mut Sql, keys: &Keys, table: &str) {
    D::push_keys(sql, keys);
    sql.push(" STRAIGHT_JOIN ")
        .push(table)
        .push(" AS d FORCE INDEX (PRIMARY)");
}

/// Appends ` WHERE d.workspace = ? AND d.<key> = t.<key> AND <filter>`: the rows of `d` that
/// the keys `t`, joined beside it, name.
fn push_keyed_rows(sql: &mut Sql, workspace: &WorkspaceId, keys: &Keys, filter: &str) {
    sql.push(" WHERE d.workspace = ")
        .bind(workspace.as_str())
        .push(" AND ")
        .push(&keys.matching())
        .push(" AND ")
        .push(filter);
}

/// Appends ` WHERE d.workspace = ? AND (d.<key>) IN (SELECT t.<key> FROM <keys>) AND <filter>`.
fn push_key_in<D: Dialect>(sql: &mut Sql, workspace: &WorkspaceId, keys: &Keys, filter: &str) {
    let columns = |table: &str| {
        keys.columns
            .iter()
            .map(|c| format!("{table}.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    sql.push(" WHERE d.workspace = ")
        .bind(workspace.as_str())
        .push(" AND (")
        .push(&columns("d"))
        .push(") IN (SELECT ")
        .push(&columns("t"))
        .push(" FROM ");
    D::push_keys(sql, keys);
    sql.push(") AND ").push(filter);
}
