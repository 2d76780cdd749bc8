//! The shared backend test suite: one `pub async fn` per case of the
//! [`EventStore`](crate::EventStore) contract, differential property tests against
//! [`ReferenceStore`](crate::ReferenceStore), and [`conformance_tests!`](crate::conformance_tests) to run them all.
//!
//! The cases sit in one module per part of the contract (appends, rankings, the event log …)
//! rather than in this file beside the macro, as the architecture first had them, so that
//! each stays short; the macro below lists every one.
//!
//! Every case works in its own fresh workspace (named after the case plus a nonce), never
//! assumes the store is empty, and panics with a message saying what went wrong, so one database
//! can be shared by every case and every test run. A backend runs the whole suite in one line,
//! handing over an async constructor:
//!
//! ```
//! use engagement_core::{ReferenceStore, conformance_tests};
//!
//! // In a backend's `tests/conformance.rs`; a SQL backend would connect and migrate here.
//! conformance_tests!(|| async { ReferenceStore::default() });
//!
//! // A store behind `Arc<dyn EventStore>` works the same.
//! mod shared {
//!     use std::sync::Arc;
//!     use engagement_core::{EventStore, ReferenceStore, conformance_tests};
//!     conformance_tests!(|| async { Arc::new(ReferenceStore::default()) as Arc<dyn EventStore> });
//! }
//! # fn main() {}
//! ```
//!
//! The macro stamps out plain `#[test]` functions that each build a Tokio current-thread
//! runtime through [`run`] (what `#[tokio::test]` does), so a backend's tests need no direct
//! Tokio dependency and no crate-path attribute.
//!
//! A single case can also be called directly:
//!
//! ```
//! use engagement_core::{ReferenceStore, conformance};
//!
//! conformance::run(async {
//!     conformance::append_is_idempotent(&ReferenceStore::default()).await;
//! });
//! ```
//!
//! The [`differential()`] test plays 24 random scenarios on the backend and on the reference
//! (set `PROPTEST_CASES` to change the number). Its generators (`arb_*`) are public, so other
//! property tests can reuse them.

use std::future::Future;

mod activity;
mod append;
mod customers;
mod differential;
mod event_log;
mod funnel;
mod generators;
mod limits;
mod process_tz;
mod purge;
mod ranking;
mod ranking_with;
mod support;
mod tenancy;
mod with_rows;

pub use activity::*;
pub use append::*;
pub use customers::*;
pub use differential::{agree, collect_export, differential, pages_agree, proptest_cases};
pub use event_log::*;
pub use funnel::*;
pub use generators::{arb_batches, arb_customers, arb_events, arb_filter, arb_instant, arb_window};
pub use limits::*;
pub use process_tz::{PROCESS_ZONES, TIME_CASES, rerun_under_process_zones};
pub use purge::*;
pub use ranking::*;
pub use ranking_with::*;
pub use tenancy::*;
pub use with_rows::*;

/// Stamps out one named test per conformance case, plus the differential property test, for
/// the store that `$setup` builds.
///
/// `$setup` is anything callable with no arguments that returns a future of the store (any type
/// implementing [`EventStore`](crate::EventStore), including `Arc<dyn EventStore>`), typically
/// `|| async { MyStore::connect(url).await.expect("connect") }`. It is called once per test,
/// inside a fresh Tokio current-thread runtime (see [`conformance::run`](crate::conformance::run)).
#[macro_export]
macro_rules! conformance_tests {
    ($setup:expr) => {
        $crate::conformance_tests!(@cases $setup;
            append_is_idempotent,
            append_conflict_keeps_first_write,
            every_field_round_trips,
            metadata_numbers_round_trip_exactly,
            tenants_are_isolated,
            placeholders_are_their_workspaces_own,
            windows_are_half_open,
            ranking_ties_break_by_customer_id,
            ranking_counts_only_customers_own_events,
            ranking_top_ignores_activity_outside_the_window,
            placeholders_are_recognised_by_name,
            customer_rank_agrees_with_ranking,
            customer_rank_counts_every_customer_ahead,
            ranking_reads_records_and_a_standing_with_its_rows,
            activity_counts_milestones,
            activity_search_is_literal,
            activity_filters_status_and_ids,
            activity_sorts_by_every_key,
            activity_sorts_absent_instants_below_the_earliest,
            activity_pages_concatenate,
            bucket_counts_follow_local_days,
            event_page_keyset_survives_appends,
            event_page_filters_every_field,
            event_log_totals_stay_exact_over_whole_days,
            event_page_totals_count_past_a_full_page,
            event_page_resumes_after_keys_past_the_window,
            event_by_id_is_scoped,
            export_streams_everything_in_order,
            large_export_is_complete_and_in_order,
            dropped_export_leaves_store_usable,
            funnel_input_follows_its_definition,
            funnel_input_of_many_journeys_matches_the_reference,
            purge_before_cutoff,
            purge_customer_erases_only_that_workspace,
            purge_takes_any_name_off_the_aggregates,
            retention_policy_purges_from_the_first_local_instant,
            erasure_leaves_no_trace_in_the_reports,
            large_batch_appends_atomically,
            huge_id_lists_work,
            huge_name_lists_work,
            many_buckets_count_exactly,
            activity_reads_buckets_and_latest_events_with_its_rows,
            upsert_customers_last_write_wins,
            customers_returns_found_in_id_order,
            upsert_customers_refuses_invalid_records,
            texts_at_every_limit_round_trip,
        );
        $crate::conformance_tests!(@owned $setup;
            ingestor_concurrent_senders_count_exactly,
            ingestor_keeps_the_first_payload_sent_under_an_id,
            activity_reads_its_rows_and_what_goes_with_them_from_one_state,
            ranking_reads_its_rows_and_what_goes_with_them_from_one_state,
        );

        #[test]
        fn differential_against_reference() {
            $crate::conformance::differential($setup);
        }

        #[test]
        fn time_cases_ignore_the_process_tz() {
            $crate::conformance::rerun_under_process_zones(&$crate::conformance::TIME_CASES);
        }
    };
    (@cases $setup:expr; $($case:ident),+ $(,)?) => {$(
        #[test]
        fn $case() {
            $crate::conformance::run(async {
                let store = ($setup)().await;
                $crate::conformance::$case(&store).await;
            });
        }
    )+};
    (@owned $setup:expr; $($case:ident),+ $(,)?) => {$(
        #[test]
        fn $case() {
            $crate::conformance::run(async {
                let store = ($setup)().await;
                $crate::conformance::$case(store).await;
            });
        }
    )+};
}

/// Runs a future to completion on a fresh Tokio current-thread runtime with time and I/O
/// enabled: what `#[tokio::test]` does, without the attribute's crate-path requirement.
///
/// # Panics
/// When the runtime cannot be built, or when the future panics.
pub fn run<F: Future>(future: F) -> F::Output {
    runtime().block_on(future)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot build a Tokio runtime for the conformance suite: {e}"))
}
