//! Filters as SQL conditions, every value bound.

use std::collections::BTreeSet;

use engagement_core::{
    CustomerFilter, CustomerId, EventFilter, Limits, SEARCH_SEPARATOR, TimeWindow, Timestamp,
    WorkspaceId, search_words,
};

use crate::dialect::Dialect;
use crate::encode::{actor_code, status_code};
use crate::sql::{Sql, contains_pattern};

/// Appends `workspace = ? AND occurred_at >= ? AND occurred_at < ?` over unqualified columns.
pub(crate) fn push_scope(sql: &mut Sql, workspace: &WorkspaceId, window: TimeWindow) {
    push_workspace(sql, workspace);
    push_window(sql, window);
}

/// Appends `workspace = ?`.
pub(crate) fn push_workspace(sql: &mut Sql, workspace: &WorkspaceId) {
    sql.push("workspace = ").bind(workspace.as_str());
}

/// Appends ` AND occurred_at >= ? AND occurred_at < ?`.
pub(crate) fn push_window(sql: &mut Sql, window: TimeWindow) {
    push_since(sql, window.from);
    push_until(sql, window.to);
}

/// Appends ` AND occurred_at >= ?`.
pub(crate) fn push_since(sql: &mut Sql, from: Timestamp) {
    sql.push(" AND occurred_at >= ").bind(from.as_micros());
}

/// Appends ` AND occurred_at < ?`.
pub(crate) fn push_until(sql: &mut Sql, to: Timestamp) {
    sql.push(" AND occurred_at < ").bind(to.as_micros());
}

/// Appends the scope and ` AND actor = <customer>`: the events the aggregates count.
pub(crate) fn push_counted(sql: &mut Sql, workspace: &WorkspaceId, window: TimeWindow) {
    push_scope(sql, workspace, window);
    sql.push(" AND actor = ")
        .bind(actor_code(engagement_core::Actor::Customer));
}

/// The database's integers of `ids`, for [`Dialect::push_in_ids`].
pub(crate) fn raw_ids(ids: &[CustomerId]) -> Vec<i64> {
    ids.iter().map(|c| c.0).collect()
}

/// Appends ` AND …` for every field of `filter` but its window, over columns named as in the
/// events (the log counts name theirs alike).
pub(crate) fn push_event_conditions<D: Dialect>(sql: &mut Sql, filter: &EventFilter) {
    if let Some(names) = &filter.names {
        push_in_texts::<D>(sql, "name", names);
    }
    if let Some(customers) = &filter.customers {
        sql.push(" AND ");
        D::push_in_ids(sql, "customer", &raw_ids(customers));
    }
    if let Some(actors) = &filter.actors {
        // At most three distinct codes, however long the list.
        let codes: BTreeSet<i64> = actors.iter().map(|a| actor_code(*a)).collect();
        if codes.is_empty() {
            sql.push(" AND 1 = 0");
        } else {
            sql.push(" AND actor IN ").bind_list(codes);
        }
    }
    if let Some(ip) = filter.ip {
        sql.push(" AND ip = ").bind(ip.to_string());
    }
    for (column, value) in [
        ("path", &filter.path),
        ("domain", &filter.domain),
        ("referrer", &filter.referrer),
    ] {
        if let Some(value) = value {
            sql.push(" AND ")
                .push(column)
                .push(" = ")
                .bind(value.as_str());
        }
    }
}

/// Longest list of texts or ids bound a placeholder a value; a longer one is bound as one
/// argument ([`Dialect::push_in_texts`], [`Dialect::push_in_id_set`]), so that no list meets a
/// database's bind limit. The few names or customers a report filters on keep their
/// placeholders, on which the planners estimate best.
pub(crate) const LISTED: usize = 64;

/// Appends ` AND column IN <values>`, or a condition that is never true for an empty list.
pub(crate) fn push_in_texts<D: Dialect>(sql: &mut Sql, column: &str, values: &[String]) {
    sql.push(" AND ");
    push_in_list::<D>(sql, column, values);
}

/// Appends `column IN <values>` (see [`LISTED`]), or `1 = 0` for an empty list.
pub(crate) fn push_in_list<D: Dialect>(sql: &mut Sql, column: &str, values: &[String]) {
    if values.is_empty() {
        sql.push("1 = 0");
    } else if values.len() > LISTED {
        D::push_in_texts(sql, column, values);
    } else {
        sql.push(column)
            .push(" IN ")
            .bind_list(values.iter().map(String::as_str));
    }
}

/// Whether a customer filter narrows anything.
pub(crate) fn narrows(filter: &CustomerFilter) -> bool {
    filter.search.is_some() || filter.status.is_some() || filter.ids.is_some()
}

/// Appends `<alias>.workspace = ?` and the conditions of a [`CustomerFilter`] on the customers
/// table under `alias`, exactly as [`CustomerFilter::matches`] defines them.
pub(crate) fn push_customer_filter<D: Dialect>(
    sql: &mut Sql,
    alias: &str,
    workspace: &WorkspaceId,
    filter: &CustomerFilter,
) {
    sql.push(alias)
        .push(".workspace = ")
        .bind(workspace.as_str());
    if let Some(status) = filter.status {
        sql.push(" AND ")
            .push(alias)
            .push(".status = ")
            .bind(status_code(status));
    }
    if let Some(ids) = &filter.ids {
        sql.push(" AND ");
        D::push_in_ids(sql, &format!("{alias}.id"), &raw_ids(ids));
    }
    // Every word of the term, in any order (`search_words`).
    for word in filter
        .search
        .as_deref()
        .map(search_words)
        .unwrap_or_default()
    {
        // Stored text never holds NUL (validation refuses it), so such a word matches nothing;
        // SQLite's LIKE would stop reading the pattern at the NUL and match everything. Nor
        // does a word longer than any stored search text, whose pattern SQLite would refuse
        // past 50,000 bytes ("pattern too complex") where the reference finds nothing.
        if word.contains('\0') || word.len() > longest_search_text() {
            sql.push(" AND 1 = 0");
            return;
        }
        sql.push(" AND ")
            .push(alias)
            .push(".search_text LIKE ")
            .bind(contains_pattern(&word))
            .push(" ESCAPE '!'");
    }
}

/// The most bytes a stored search text holds: [`Customer::search_text`] of a record within the
/// default limits (which `upsert_customers` checks), five fields of which the full name is two
/// and a space, lower-cased (which makes a text half as long again at most), and four
/// separators. Its escaped pattern (twice as long at most) stays under SQLite's 50,000 bytes.
///
/// [`Customer::search_text`]: engagement_core::Customer::search_text
fn longest_search_text() -> usize {
    let field = Limits::default().max_text_bytes;
    (6 * field + 1) * 3 / 2 + 4 * SEARCH_SEPARATOR.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use engagement_core::{Customer, CustomerId};

    #[test]
    fn the_longest_search_text_bounds_every_record_and_its_pattern_sqlites_limit() {
        let field = "İ".repeat(Limits::default().max_text_bytes / "İ".len());
        let mut widest = Customer::new(CustomerId(1), field.clone(), field.clone());
        widest.code = field.clone();
        widest.email = field;
        assert!(
            Limits::default()
                .validate_customers(&[widest.clone()])
                .is_ok()
        );
        assert!(widest.search_text().len() <= longest_search_text());
        assert!(contains_pattern(&"!".repeat(longest_search_text())).len() < 50_000);
    }
}
