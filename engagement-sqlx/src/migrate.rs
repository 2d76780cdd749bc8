//! Our own migrations: embedded per-dialect scripts recorded in our own ledger table
//! (`<prefix>schema_migrations`), so they never touch the host application's `_sqlx_migrations`.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::dialect::{Conn, Dialect, ReadRow};
use crate::engine::Engine;
use crate::error::{SqlError, SqlResult};

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
        let ledger = &*self.tables.ledger;
        let (turn, mut tx) = self.begin_write().await?;
        D::lock_migrations(&mut tx, ledger).await?;
        // Release the lock whatever happened: on MySQL it belongs to the pooled connection.
        let applied = self.apply(&mut tx, migrations).await;
        let unlocked = D::unlock_migrations(&mut tx, ledger).await;
        applied?;
        unlocked?;
        self.commit_write(turn, tx, 0, "commit the migrations")
            .await
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
        for row in &applied {
            let version = row.int(0)?;
            let checksum = row.text(1)?;
            let known = migrations
                .iter()
                .find(|m| m.version == version)
                .ok_or(SqlError::UnknownMigration { version })?;
            if known.checksum() != checksum {
                return Err(SqlError::ChangedMigration { version });
            }
            done.push(version);
        }

        for migration in migrations.iter().filter(|m| !done.contains(&m.version)) {
            for statement in migration.statements(self.tables.prefix.as_str()) {
                let mut sql = D::sql();
                sql.push(&statement).one_off();
                D::execute(conn, sql, "apply a migration").await?;
            }
            let mut record = D::sql();
            record
                .push("INSERT INTO ")
                .push(ledger)
                .push(" (version, description, checksum, applied_at) VALUES (")
                .bind(migration.version)
                .push(", ")
                .bind(migration.description)
                .push(", ")
                .bind(migration.checksum())
                .push(", ")
                .bind(now_micros())
                .push(")");
            D::execute(conn, record, "record a migration").await?;
        }
        Ok(())
    }
}

/// FNV-1a, 64 bits: a stable fingerprint (not a defence against tampering).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A 64-bit key naming the migration lock of a ledger table (PostgreSQL's advisory locks).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn lock_key(name: &str) -> i64 {
    i64::from_ne_bytes(fnv1a(name).to_ne_bytes())
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
