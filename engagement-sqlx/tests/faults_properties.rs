//! Property tests on every backend (issue 7, parts 4 and 5): tenant isolation over interleaved
//! workspaces that share event and customer ids (cases 6 and 10's "exactly once"), and
//! arbitrary filter values — search terms, paths, referrers, domains — matched literally
//! (cases 28 and 16's byte-exact round trip of 4-byte UTF-8).
//!
//! Memory and SQLite always run; PostgreSQL and MariaDB when their URL is set. `PROPTEST_CASES`
//! changes the number of cases.

#[allow(dead_code)]
mod common;
mod reliability;

use reliability::props::{Isolation, LiteralFilters, arb_literals, arb_tenants, check};

/// Cases per property and backend: enough to meet every generator branch, few enough for CI.
const CASES: u32 = 24;

#[test]
fn tenants_are_isolated_on_memory() {
    check(
        || async { engagement_memory::MemoryStore::new() },
        CASES,
        arb_tenants(),
        Isolation,
    );
}

#[test]
fn filter_values_are_literal_on_memory() {
    check(
        || async { engagement_memory::MemoryStore::new() },
        CASES * 4,
        arb_literals(),
        LiteralFilters,
    );
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use std::time::Duration;

    use super::reliability::props::{Isolation, LiteralFilters, arb_literals, arb_tenants, check};
    use super::reliability::sqlite_store;

    const PATIENT: Duration = Duration::from_secs(10);

    #[test]
    fn tenants_are_isolated_on_sqlite() {
        check(
            || sqlite_store("isolation", 2, PATIENT, PATIENT),
            super::CASES,
            arb_tenants(),
            Isolation,
        );
    }

    #[test]
    fn filter_values_are_literal_on_sqlite() {
        check(
            || sqlite_store("literal", 2, PATIENT, PATIENT),
            super::CASES * 4,
            arb_literals(),
            LiteralFilters,
        );
    }
}

#[cfg(all(engagement_test_postgres, feature = "postgres"))]
mod postgres {
    use std::time::Duration;

    use super::reliability::pg;
    use super::reliability::props::{Isolation, LiteralFilters, arb_literals, arb_tenants, check};

    #[test]
    fn tenants_are_isolated_on_postgres() {
        check(
            || pg::store(2, Duration::from_secs(10)),
            super::CASES,
            arb_tenants(),
            Isolation,
        );
    }

    #[test]
    fn filter_values_are_literal_on_postgres() {
        check(
            || pg::store(2, Duration::from_secs(10)),
            super::CASES * 4,
            arb_literals(),
            LiteralFilters,
        );
    }
}

#[cfg(not(all(engagement_test_postgres, feature = "postgres")))]
#[test]
fn postgres_properties_skipped() {
    reliability::skip_or_fail(
        "ENGAGEMENT_TEST_POSTGRES_URL",
        "postgres",
        "PostgreSQL property",
    );
}

#[cfg(all(engagement_test_mysql, feature = "mysql"))]
mod mysql {
    use std::time::Duration;

    use super::reliability::my;
    use super::reliability::props::{Isolation, LiteralFilters, arb_literals, arb_tenants, check};

    #[test]
    fn tenants_are_isolated_on_mysql() {
        check(
            || my::store(2, Duration::from_secs(10)),
            super::CASES,
            arb_tenants(),
            Isolation,
        );
    }

    #[test]
    fn filter_values_are_literal_on_mysql() {
        check(
            || my::store(2, Duration::from_secs(10)),
            super::CASES * 4,
            arb_literals(),
            LiteralFilters,
        );
    }
}

#[cfg(not(all(engagement_test_mysql, feature = "mysql")))]
#[test]
fn mysql_properties_skipped() {
    reliability::skip_or_fail(
        "ENGAGEMENT_TEST_MYSQL_URL",
        "mysql",
        "MySQL/MariaDB property",
    );
}
