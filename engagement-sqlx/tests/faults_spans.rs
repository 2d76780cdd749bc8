//! The tasks a store starts run in its caller's `tracing` span: on MySQL every call runs on a
//! task of its own, and on PostgreSQL an export's chunks are copied out by tasks of their own.
//! A binary of its own, with one test: its subscriber is that test's thread default, and tests
//! running beside it on other threads hit the driver's event call sites first, which left them
//! disabled for it (tracing's cached interest).
//!
//! Runs each server whose variable (`ENGAGEMENT_TEST_POSTGRES_URL`, `ENGAGEMENT_TEST_MYSQL_URL`)
//! is set and whose feature is on; a test for each other one says it was skipped (and fails
//! when `ENGAGEMENT_REQUIRE_SERVERS` is set).

#[allow(dead_code)]
mod common;
mod reliability;

#[cfg(not(all(engagement_test_mysql, feature = "mysql")))]
#[test]
fn mysql_spans_skipped() {
    reliability::skip_or_fail("ENGAGEMENT_TEST_MYSQL_URL", "mysql", "MySQL/MariaDB span");
}

#[cfg(not(all(engagement_test_postgres, feature = "postgres")))]
#[test]
fn postgres_spans_skipped() {
    reliability::skip_or_fail(
        "ENGAGEMENT_TEST_POSTGRES_URL",
        "postgres",
        "PostgreSQL span",
    );
}

#[cfg(any(
    all(engagement_test_mysql, feature = "mysql"),
    all(engagement_test_postgres, feature = "postgres")
))]
mod spans {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use engagement_core::EventStore;
    use tracing::Instrument;
    use tracing_subscriber::layer::{Context, SubscriberExt};
    use tracing_subscriber::registry::LookupSpan;

    use super::reliability::faults::drain;
    use super::reliability::{views, workspace};

    /// The parent span's name of every `sqlx` event.
    #[derive(Clone, Default)]
    struct Parents(Arc<Mutex<Vec<Option<String>>>>);

    impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Parents {
        fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
            if event.metadata().target().starts_with("sqlx") {
                let parent = ctx.event_span(event).map(|span| span.name().to_owned());
                self.0.lock().expect("not poisoned").push(parent);
            }
        }
    }

    /// The driver's statement events of an append and of an export of 25,000 events (read
    /// ahead by several tasks) made inside a host's span have that span as their parent; the
    /// upkeep the append leaves behind (PostgreSQL's statistics after a bulk write) runs in a
    /// span of its own, `engagement.upkeep`, not in none.
    async fn driver_events_keep_the_callers_span(store: &dyn EventStore, backend: &str) {
        let parents = Parents::default();
        let subscriber = tracing_subscriber::registry().with(parents.clone());
        let _default = tracing::subscriber::set_default(subscriber);
        let ws = workspace(&format!("span-{backend}"));
        let span = tracing::info_span!("host_request");
        store
            .append(&ws, &views("s", 25_000, 0))
            .instrument(span.clone())
            .await
            .expect("append");
        let (events, error) = drain(store, &ws).instrument(span).await;
        assert_eq!((events.len(), error.is_none()), (25_000, true), "{backend}");
        let parents = parents.0.lock().expect("not poisoned").clone();
        assert!(
            parents.iter().any(|p| p.as_deref() == Some("host_request")),
            "{backend}: the driver logged no statement of the calls"
        );
        assert!(
            parents
                .iter()
                .all(|p| matches!(p.as_deref(), Some("host_request" | "engagement.upkeep"))),
            "{backend}: statements outside the caller's span and the upkeep's: {parents:?}"
        );
    }

    /// Every configured server in turn, in one test (see the module's doc).
    #[tokio::test(flavor = "current_thread")]
    async fn a_calls_driver_events_keep_the_callers_span() {
        #[cfg(all(engagement_test_mysql, feature = "mysql"))]
        {
            let store = super::reliability::my::store(1, Duration::from_secs(10)).await;
            driver_events_keep_the_callers_span(&store, "mysql").await;
        }
        #[cfg(all(engagement_test_postgres, feature = "postgres"))]
        {
            // Connections to spare, so the export's chunks are copied by several tasks.
            let store = super::reliability::pg::store(4, Duration::from_secs(10)).await;
            driver_events_keep_the_callers_span(&store, "postgres").await;
        }
    }
}
