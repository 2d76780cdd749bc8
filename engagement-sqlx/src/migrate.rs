//! Our own migrations: embedded per-dialect scripts recorded in our own ledger table
//! (`<prefix>schema_migrations`), so they never touch the host application's `_sqlx_migrations`.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::dialect::{Conn, Dialect, ReadRow};
use crate::engine::Engine;
use crate::error::{SqlError, SqlResult};
use crate::sql::Sql;

/// One embedded migration. `{prefix}` in its script stands for the table prefix; statements are
/// separated by `;` and whole-line `--` comments are dropped (scripts hold no `;` in literals).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) description: &'static str,
    pub(crate) script: &'static str,
}

impl Migration {
    /// A fingerprint of the script as shipped (FNV-1a, 64 bits, hex): a changed script is
    /// refused rather than silently skipped.
    pub(crate) fn checksum(&self) -> String {
        format!("{:016x}", fnv1a(self.script))
    }

    /// The script's statements with the prefix filled in.
    pub(crate) fn statements(&self, prefix: &str) -> impl Iterator<Item = String> {
        let script: String = self
            .script
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .map(|l| format!("{l}\n"))
            .collect();
        script
            .replace("{prefix}", prefix)
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
            .into_iter()
    }
}

impl<D: Dialect> Engine<D> {
    /// Applies the migrations the ledger does not hold yet, under a lock so that concurrent
    /// callers (several processes, or tests) apply each one exactly once.
    pub(crate) async fn migrate(&self, migrations: &[Migration]) -> SqlResult<()> {
        if D::DDL_COMMITS {
            return self.migrate_in_session(migrations).await;
        }
        let ledger = &*self.tables.ledger;
        let (turn, mut tx) = self.begin_write().await?;
        D::lock_migrations(&mut tx, ledger).await?;
        let applied = self.apply(&mut tx, migrations).await;
        let unlocked = D::unlock_migrations(&mut tx, ledger).await;
        applied?;
        unlocked?;
        self.commit_write(turn, tx, 0, "commit the migrations")
            .await
    }

    /// [`Self::migrate`] where each DDL statement commits at once (MySQL), so a transaction
    /// around the migrations would hold nothing back, and the lock belongs to the session: on a
    /// pooled connection that is closed when the migration ends. A migration cancelled while
    /// it waited for the lock (a `migrate` under a timeout) otherwise left the lock to a pooled
    /// connection, idle but holding it once granted, and every other process's `migrate`
    /// waited for it and failed as busy.
    async fn migrate_in_session(&self, migrations: &[Migration]) -> SqlResult<()> {
        let ledger = &*self.tables.ledger;
        let mut conn = self.acquire().await?;
        conn.close_on_drop();
        // A host's pool may turn autocommit off: the last migration's rows (its backfill and
        // its ledger row) would then be rolled back as the connection closes, with no DDL
        // after them to commit them.
        if let Some(statement) = D::AUTOCOMMIT {
            let mut sql = D::sql();
            sql.push(statement).one_off();
            D::execute(&mut conn, sql, "turn autocommit on").await?;
        }
        D::lock_migrations(&mut conn, ledger).await?;
        // Release the lock whatever happened (closing the connection would too, later).
        let applied = self.apply(&mut conn, migrations).await;
        let unlocked = D::unlock_migrations(&mut conn, ledger).await;
        applied?;
        unlocked
    }

    /// Creates the ledger if needed, checks what it records and applies the rest.
    async fn apply(&self, conn: &mut Conn<D>, migrations: &[Migration]) -> SqlResult<()> {
        let ledger = &*self.tables.ledger;
        let mut create = D::sql();
        create
            .push("CREATE TABLE IF NOT EXISTS ")
            .push(ledger)
            .push(
                " (version BIGINT NOT NULL PRIMARY KEY, description VARCHAR(200) NOT NULL, \
             checksum VARCHAR(32) NOT NULL, applied_at BIGINT NOT NULL)",
            );
        D::execute(conn, create, "create the migration ledger").await?;

        let mut select = D::sql();
        select
            .push("SELECT version, checksum FROM ")
            .push(ledger)
            .push(" ORDER BY version");
        let applied = D::fetch_all(conn, select, "read the migration ledger").await?;
        let mut done = Vec::with_capacity(applied.len());
        let mut interrupted = Vec::new();
        for row in &applied {
            let version = row.int(0)?;
            let checksum = row.text(1)?;
            let known = migrations
                .iter()
                .find(|m| m.version == version)
                .ok_or(SqlError::UnknownMigration { version })?;
            match checksum.strip_prefix(STARTED) {
                Some(started) if started == known.checksum() => interrupted.push(version),
                _ if checksum == known.checksum() => done.push(version),
                _ => return Err(SqlError::ChangedMigration { version }),
            }
        }

        for migration in migrations.iter().filter(|m| !done.contains(&m.version)) {
            if interrupted.contains(&migration.version) {
                self.clear_interrupted(conn, migration).await?;
            }
            self.apply_one(conn, migration).await?;
        }
        Ok(())
    }

    /// Takes back what an interrupted run of `migration` left (see [`STARTED`]): the tables
    /// it creates, then its ledger row, so that it is applied again from the start.
    ///
    /// # Errors
    /// The first statement that failed.
    async fn clear_interrupted(&self, conn: &mut Conn<D>, migration: &Migration) -> SqlResult<()> {
        tracing::warn!(
            version = migration.version,
            "a run of this migration was interrupted; dropping what it created and applying it again"
        );
        let created: Vec<_> = migration
            .statements(self.tables.prefix.as_str())
            .filter_map(|statement| created_table(&statement))
            .collect();
        for table in created.iter().rev() {
            let drop = drop_table::<D>(table);
            D::execute(conn, drop, "drop an interrupted migration's table").await?;
        }
        D::execute(
            conn,
            self.unrecord(migration),
            "clear an interrupted migration",
        )
        .await
        .map(drop)
    }

    /// Runs one migration's statements and records it in the ledger. Where each DDL statement
    /// commits at once ([`Dialect::DDL_COMMITS`]), the migration is recorded as started first
    /// ([`STARTED`]), and a failure drops the tables it created and that record, so that the
    /// ledger and the tables agree again and a rerun applies it from the start; elsewhere the
    /// transaction's rollback takes everything back.
    ///
    /// # Errors
    /// The first statement that failed.
    async fn apply_one(&self, conn: &mut Conn<D>, migration: &Migration) -> SqlResult<()> {
        if D::DDL_COMMITS {
            let started = format!("{STARTED}{}", migration.checksum());
            D::execute(
                conn,
                self.record(migration, &started),
                "record a migration as started",
            )
            .await?;
        }
        let mut created = Vec::new();
        let applied = self.run_and_record(conn, migration, &mut created).await;
        if applied.is_err() && D::DDL_COMMITS {
            take_back::<D>(conn, &created, self.unrecord(migration)).await;
        }
        applied
    }

    /// Runs `migration`'s statements, noting in `created` each table they created, then
    /// records it in the ledger as applied.
    async fn run_and_record(
        &self,
        conn: &mut Conn<D>,
        migration: &Migration,
        created: &mut Vec<String>,
    ) -> SqlResult<()> {
        for statement in migration.statements(self.tables.prefix.as_str()) {
            let mut sql = D::sql();
            sql.push(&statement).one_off();
            D::execute(conn, sql, "apply a migration").await?;
            created.extend(created_table(&statement));
        }
        let record = if D::DDL_COMMITS {
            let mut done = D::sql();
            done.push("UPDATE ")
                .push(&self.tables.ledger)
                .push(" SET checksum = ")
                .bind(migration.checksum())
                .push(", applied_at = ")
                .bind(now_micros())
                .push(" WHERE version = ")
                .bind(migration.version);
            done
        } else {
            self.record(migration, &migration.checksum())
        };
        D::execute(conn, record, "record a migration")
            .await
            .map(drop)
    }

    /// The statement recording `migration` in the ledger with `checksum`.
    fn record(&self, migration: &Migration, checksum: &str) -> Sql {
        let mut record = D::sql();
        record
            .push("INSERT INTO ")
            .push(&self.tables.ledger)
            .push(" (version, description, checksum, applied_at) VALUES (")
            .bind(migration.version)
            .push(", ")
            .bind(migration.description)
            .push(", ")
            .bind(checksum)
            .push(", ")
            .bind(now_micros())
            .push(")");
        record
    }

    /// The statement removing `migration` from the ledger.
    fn unrecord(&self, migration: &Migration) -> Sql {
        let mut sql = D::sql();
        sql.push("DELETE FROM ")
            .push(&self.tables.ledger)
            .push(" WHERE version = ")
            .bind(migration.version);
        sql
    }
}

/// Where each DDL statement commits at once, a migration is recorded before its first
/// statement with this before its checksum, and the record completed after its last: a record
/// still holding it names a run interrupted where nothing could take its tables back (its
/// process killed, its connection lost), and the next `migrate` drops them and applies the
/// migration again. A migration that creates no table is simply run again: each must then
/// hold up to a second run after a first one that committed (MySQL's migration 3 drops and
/// re-adds one index in one `ALTER TABLE`, which does).
const STARTED: &str = "started:";

/// The table a migration's statement creates, if it is a `CREATE TABLE`.
fn created_table(statement: &str) -> Option<String> {
    let rest = statement.strip_prefix("CREATE TABLE ")?;
    let name = rest
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .filter(|name| !name.is_empty())?;
    Some(name.to_owned())
}

/// The statement dropping `table`, a migration's, if it exists.
fn drop_table<D: Dialect>(table: &str) -> Sql {
    let mut sql = D::sql();
    sql.push("DROP TABLE IF EXISTS ").push(table).one_off();
    sql
}

/// Drops `tables`, created by a migration that then failed, latest first, then runs
/// `unrecord` (the migration's ledger row). Best effort: the migration's own error is what the
/// caller reports, so a failure here is only logged (and the next `migrate` finds the
/// migration recorded as [`STARTED`]).
async fn take_back<D: Dialect>(conn: &mut Conn<D>, tables: &[String], unrecord: Sql) {
    for table in tables.iter().rev() {
        let drop = drop_table::<D>(table);
        if let Err(error) = D::execute(conn, drop, "drop a failed migration's table").await {
            tracing::warn!(%error, table, "a failed migration's table is left behind");
        }
    }
    if let Err(error) = D::execute(conn, unrecord, "clear a failed migration").await {
        tracing::warn!(%error, "a failed migration stays recorded as started");
    }
}

/// FNV-1a, 64 bits: a stable fingerprint (not a defence against tampering).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: Migration = Migration {
        version: 1,
        description: "test",
        script: "-- a comment; with a semicolon\nCREATE TABLE {prefix}a (x BIGINT);\n\nCREATE INDEX {prefix}a_x ON {prefix}a (x);\n",
    };

    #[test]
    fn statements_are_split_and_prefixed() {
        let statements: Vec<_> = SCRIPT.statements("p_").collect();
        assert_eq!(
            statements,
            [
                "CREATE TABLE p_a (x BIGINT)",
                "CREATE INDEX p_a_x ON p_a (x)"
            ]
        );
    }

    #[test]
    fn created_tables_are_named() {
        let statements: Vec<_> = SCRIPT.statements("p_").collect();
        assert_eq!(created_table(&statements[0]).as_deref(), Some("p_a"));
        assert_eq!(created_table(&statements[1]), None);
        assert_eq!(
            created_table("CREATE TABLE p_b(x BIGINT)").as_deref(),
            Some("p_b")
        );
        assert_eq!(
            created_table("CREATE TABLE p_c\n(x BIGINT)").as_deref(),
            Some("p_c")
        );
    }

    #[test]
    fn checksums_change_with_the_script() {
        let changed = Migration {
            script: "CREATE TABLE {prefix}b (x BIGINT)",
            ..SCRIPT
        };
        assert_eq!(SCRIPT.checksum(), SCRIPT.checksum());
        assert_ne!(SCRIPT.checksum(), changed.checksum());
        assert_eq!(SCRIPT.checksum().len(), 16);
    }
}
