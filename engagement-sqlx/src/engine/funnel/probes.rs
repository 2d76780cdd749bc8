//! A round's probes: the first step-1 event of a customer between two places in (time, id)
//! order, each one descent of the customer index.

use engagement_core::{Actor, WorkspaceId};

use super::paths::{Key, Probe};
use super::readers::Readers;
use super::{Snapshot, read_in};
use crate::chunk::rows_per_statement;
use crate::dialect::{Dialect, ReadRow};
use crate::encode::actor_code;
use crate::engine::Engine;
use crate::engine::log::Direction;
use crate::error::{SqlError, SqlResult};
use crate::sql::{Arg, Sql};

/// Most probes one statement asks (where each binds its values, fewer: the bind limit).
const PROBES_PER_STATEMENT: usize = 10_000;

/// Values a probe binds where the probes are a table of bound rows: its index, the customer
/// and the two bounds' instants and ids.
const PROBE_BINDS: usize = 6;

impl<D: Dialect> Engine<D> {
    /// [`Self::probe_on`], the probes split between the two readers where there are two.
    pub(super) async fn probe(
        &self,
        readers: Readers<D>,
        workspace: &WorkspaceId,
        step1: &str,
        mut probes: Vec<Probe>,
        direction: Direction,
    ) -> SqlResult<(Readers<D>, Vec<Option<Key>>)> {
        match readers.second {
            Some(second) if probes.len() > 1 => {
                let rest = probes.split_off(probes.len() / 2);
                let ((main, mut found), (second, rest)) = futures::try_join!(
                    self.probe_on(readers.main, workspace, step1, probes, direction),
                    self.probe_on(second, workspace, step1, rest, direction),
                )?;
                found.extend(rest);
                let readers = Readers {
                    main,
                    second: Some(second),
                };
                Ok((readers, found))
            }
            second => {
                let (main, found) = self
                    .probe_on(readers.main, workspace, step1, probes, direction)
                    .await?;
                Ok((Readers { main, second }, found))
            }
        }
    }

    /// Answers `probes` in the snapshot of `tx`, in their order: each probe's first step-1
    /// event in `direction` (`Newer`: the earliest), `None` where there is none.
    async fn probe_on(
        &self,
        mut tx: Snapshot<D>,
        workspace: &WorkspaceId,
        step1: &str,
        probes: Vec<Probe>,
        direction: Direction,
    ) -> SqlResult<(Snapshot<D>, Vec<Option<Key>>)> {
        let mut found = vec![None; probes.len()];
        let per_statement = if !D::ROWS_IN_TEXT {
            PROBES_PER_STATEMENT
        } else {
            PROBES_PER_STATEMENT.min(rows_per_statement(D::MAX_BINDS, PROBE_BINDS, 8))
        };
        for (chunk, part) in probes.chunks(per_statement).enumerate() {
            let first = chunk * per_statement;
            let mut sql = D::sql();
            self.push_probes(&mut sql, workspace, step1, part, direction);
            let (back, fetched) = read_in::<D>(tx, sql, "probe a funnel's step-1 events").await?;
            tx = back;
            for row in fetched.rows().iter() {
                let n = usize::try_from(row.int(0)?)
                    .ok()
                    .filter(|n| *n < part.len());
                let n = n.ok_or_else(|| SqlError::Corrupt {
                    column: "n",
                    reason: "a probe answered that was not asked".to_owned(),
                })?;
                found[first + n] = Some(Key {
                    at: row.int(1)?,
                    id: row.text(2)?,
                });
            }
        }
        Ok((tx, found))
    }

    /// `SELECT n, occurred_at, id` of the first step-1 event in `direction` strictly between
    /// each probe's bounds, `n` the probe's index in `probes`: one descent of the customer
    /// index a probe (`LIMIT 1`). Where the dialect binds rows as one array a column (PostgreSQL), the
    /// probes are unnested and each joined laterally, reading the event from the index alone;
    /// elsewhere they are a table of bound rows, each probe a correlated subquery for the
    /// event's id, and the event is joined by its id.
    fn push_probes(
        &self,
        sql: &mut Sql,
        workspace: &WorkspaceId,
        step1: &str,
        probes: &[Probe],
        direction: Direction,
    ) {
        if !D::ROWS_IN_TEXT {
            sql.push("SELECT probe.n - 1, found.occurred_at, found.id FROM UNNEST(")
                .bind(Arg::Ints(probes.iter().map(|p| p.customer).collect()))
                .push(", ")
                .bind(Arg::Ints(probes.iter().map(|p| p.after.at).collect()))
                .push(", ")
                .bind(Arg::Texts(
                    probes.iter().map(|p| p.after.id.clone()).collect(),
                ))
                .push(", ")
                .bind(Arg::Ints(probes.iter().map(|p| p.before.at).collect()))
                .push(", ")
                .bind(Arg::Texts(
                    probes.iter().map(|p| p.before.id.clone()).collect(),
                ))
                .push(
                    ") WITH ORDINALITY AS probe (customer, after_at, after_id, before_at, \
                     before_id, n) CROSS JOIN LATERAL (",
                );
            self.push_probe(sql, workspace, step1, direction, "s.occurred_at, s.id");
            sql.push(") AS found");
        } else {
            let (start, between, end) = D::ROWS_TABLE;
            sql.push("WITH probe (n, customer, after_at, after_id, before_at, before_id) AS (")
                .push(start);
            for (n, probe) in probes.iter().enumerate() {
                if n > 0 {
                    sql.push(between);
                }
                sql.bind(i64::try_from(n).unwrap_or(i64::MAX))
                    .push(", ")
                    .bind(probe.customer)
                    .push(", ")
                    .bind(probe.after.at)
                    .push(", ")
                    .bind(probe.after.id.as_str())
                    .push(", ")
                    .bind(probe.before.at)
                    .push(", ")
                    .bind(probe.before.id.as_str());
            }
            sql.push(end)
                .push(") SELECT found.n, e.occurred_at, e.id FROM (SELECT probe.n AS n, (");
            self.push_probe(sql, workspace, step1, direction, "s.id");
            sql.push(") AS id FROM probe) AS found JOIN ")
                .push(&self.tables.events)
                .push(" AS e ON e.workspace = ")
                .bind(workspace.as_str())
                .push(" AND e.id = found.id");
        }
        sql.one_off();
    }

    /// Appends the `SELECT columns` of the first counted step-1 event (as `s`) in `direction`
    /// strictly between the bounds of the correlated `probe`.
    fn push_probe(
        &self,
        sql: &mut Sql,
        workspace: &WorkspaceId,
        step1: &str,
        direction: Direction,
        columns: &str,
    ) {
        let order = match direction {
            Direction::Older => " DESC",
            Direction::Newer => " ASC",
        };
        sql.push("SELECT ")
            .push(columns)
            .push(" FROM ")
            .push(&self.tables.events)
            .push(" AS s");
        D::push_index_hint(sql, &self.tables.events_by_customer);
        sql.push(" WHERE s.workspace = ")
            .bind(workspace.as_str())
            .push(" AND ")
            .push(D::PROBE_CUSTOMER)
            .push(" AND s.name = ")
            .bind(step1)
            .push(" AND s.actor = ")
            .bind(actor_code(Actor::Customer))
            .push(
                " AND s.occurred_at >= probe.after_at AND s.occurred_at <= probe.before_at \
                 AND (s.occurred_at > probe.after_at OR s.id > probe.after_id) \
                 AND (s.occurred_at < probe.before_at OR s.id < probe.before_id) \
                 ORDER BY s.customer",
            )
            .push(order)
            .push(", s.occurred_at")
            .push(order)
            .push(", s.id")
            .push(order)
            .push(" LIMIT 1");
    }
}
