//! Compiles the PostgreSQL and MySQL test suites in only when their server URL is set
//! (`ENGAGEMENT_TEST_POSTGRES_URL`, `ENGAGEMENT_TEST_MYSQL_URL`); without it each suite is a
//! single test that says it was skipped. Changing either variable rebuilds the tests. The library
//! itself does not look at these settings.

fn main() {
    for (var, cfg) in [
        ("ENGAGEMENT_TEST_POSTGRES_URL", "engagement_test_postgres"),
        ("ENGAGEMENT_TEST_MYSQL_URL", "engagement_test_mysql"),
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        println!("cargo::rerun-if-env-changed={var}");
        if std::env::var_os(var).is_some_and(|v| !v.is_empty()) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
