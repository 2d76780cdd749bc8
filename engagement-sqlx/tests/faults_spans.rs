//! The tasks a store starts run in its caller's `tracing` span (on MySQL every call runs on a
//! task of its own). A binary of its own: its subscriber is this thread's default, and tests
//! running beside it on other threads hit the driver's event call sites first, which left
//! them disabled for it (tracing's cached interest).
//!
//! Runs when `ENGAGEMENT_TEST_MYSQL_URL` is set and the `mysql` feature is on; otherwise one
//! test says it was skipped (and fails when `ENGAGEMENT_REQUIRE_SERVERS` is set).

#[allow(dead_code)]
mod common;
mod reliability;

#[cfg(not(all(engagement_test_mysql, feature = "mysql")))]
#[test]
fn mysql_spans_skipped() {
    reliability::skip_or_fail("ENGAGEMENT_TEST_MYSQL_URL", "mysql", "MySQL/MariaDB span");
}

#[cfg(all(engagement_test_mysql, feature = "mysql"))]
mod spans {
    use std::time::Duration;

    use engagement_core::EventStore;

    use super::reliability::faults::drain;
    use super::reliability::{my, views, workspace};

    /// A call runs on a task of its own (`Dialect::CANCEL_SAFE`), still in its caller's span:
    /// the driver's statement events of an append and of an export of 25,000 events (read
    /// ahead by several tasks) made inside a host's span have that span as their parent.
    #[tokio::test(flavor = "current_thread")]
    async fn a_calls_driver_events_keep_the_callers_span() {
        use std::sync::{Arc, Mutex};
        use tracing::Instrument;
        use tracing_subscriber::layer::{Context, SubscriberExt};
        use tracing_subscriber::registry::LookupSpan;

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

        let store = my::store(1, Duration::from_secs(10)).await;
        let parents = Parents::default();
        let subscriber = tracing_subscriber::registry().with(parents.clone());
        let _default = tracing::subscriber::set_default(subscriber);
        let ws = workspace("span");
        let span = tracing::info_span!("host_request");
        store
            .append(&ws, &views("s", 25_000, 0))
            .instrument(span.clone())
            .await
            .expect("append");
        let (events, error) = drain(&store, &ws).instrument(span).await;
        assert_eq!((events.len(), error.is_none()), (25_000, true));
        let parents = parents.0.lock().expect("not poisoned").clone();
        assert!(!parents.is_empty(), "the driver logged no statement");
        assert!(
            parents.iter().all(|p| p.as_deref() == Some("host_request")),
            "statements outside the caller's span: {parents:?}"
        );
    }
}
