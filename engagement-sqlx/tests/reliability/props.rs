//! Property tests run on every backend: tenant isolation over interleaved workspaces, and
//! arbitrary filter values matched literally.

use std::fmt::Debug;
use std::future::Future;

use chrono::TimeDelta;
use engagement_core::conformance::{
    agree, arb_batches, arb_customers, arb_filter, arb_instant, collect_export, pages_agree,
};
use engagement_core::{
    ActivityQuery, ActivitySort, ActivitySortKey, BucketCountsQuery, Customer, CustomerFilter,
    CustomerId, Event, EventFilter, EventId, EventPageQuery, EventStore, FunnelQuery, Milestones,
    PurgeMode, PurgeScope, ReferenceStore, Result, TimeWindow, Timestamp, TopCustomersQuery,
    WorkspaceId, names,
};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

type Outcome = std::result::Result<(), TestCaseError>;

/// Runs `property` on `cases` random inputs against the store `setup` builds, all on one
/// current-thread runtime (a pool must stay on the runtime that opened it).
pub(crate) fn check<S, Fut, T, P>(
    setup: impl FnOnce() -> Fut,
    cases: u32,
    strategy: impl Strategy<Value = T>,
    property: P,
) where
    S: EventStore,
    Fut: Future<Output = S>,
    T: Debug,
    P: AsyncProperty<S, T>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let store = runtime.block_on(setup());
    let cases = engagement_core::conformance::proptest_cases(cases);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(failure) = runner.run(&strategy, |input| {
        runtime.block_on(property.check(&store, &input))
    }) {
        panic!("{failure}");
    }
}

/// An async property over a store and one generated input.
pub(crate) trait AsyncProperty<S, T> {
    /// Checks the property on one input.
    fn check(&self, store: &S, input: &T) -> impl Future<Output = Outcome>;
}

fn activity_all(customers: CustomerFilter) -> ActivityQuery {
    ActivityQuery {
        window: TimeWindow::ALL,
        customers,
        milestones: Milestones::default(),
        sort: ActivitySort {
            key: ActivitySortKey::CustomerId,
            descending: false,
        },
        offset: 0,
        limit: 100,
        row_buckets: None,
        latest: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Tenant isolation.

/// Histories of two or three workspaces that share event ids and customer ids, a log filter,
/// and a purge applied to the first workspace.
#[derive(Debug, Clone)]
pub(crate) struct Tenants {
    histories: Vec<(Vec<Vec<Event>>, Vec<Customer>)>,
    filter: EventFilter,
    purge: PurgeScope,
}

pub(crate) fn arb_tenants() -> impl Strategy<Value = Tenants> {
    let purge = prop_oneof![
        arb_instant().prop_map(|cutoff| PurgeScope::Before { cutoff }),
        (1..=6_i64).prop_map(|c| PurgeScope::Customer {
            customer: CustomerId(c)
        }),
    ];
    (
        proptest::collection::vec((arb_batches(), arb_customers()), 2..=3),
        arb_filter(),
        purge,
    )
        .prop_map(|(histories, filter, purge)| Tenants {
            histories,
            filter,
            purge,
        })
}

/// Every primitive of `ws` on the backend answers what a reference holding only that
/// workspace's history answers.
async fn workspace_agrees(
    store: &dyn EventStore,
    oracle: &ReferenceStore,
    ws: &WorkspaceId,
    filter: &EventFilter,
) -> Outcome {
    let all = EventFilter::new(TimeWindow::ALL);
    agree(
        "export",
        &all,
        collect_export(store, ws, &all).await,
        collect_export(oracle, ws, &all).await,
    )?;
    agree(
        "export",
        filter,
        collect_export(store, ws, filter).await,
        collect_export(oracle, ws, filter).await,
    )?;
    let first = EventPageQuery {
        filter: filter.clone(),
        after: None,
        limit: 5,
    };
    pages_agree(store, oracle, ws, &first, 64).await?;
    let top = TopCustomersQuery {
        window: TimeWindow::ALL,
        limit: 100,
    };
    agree(
        "top_customers",
        &top,
        store.top_customers(ws, &top).await,
        oracle.top_customers(ws, &top).await,
    )?;
    let everyone: Vec<CustomerId> = (0..=7).map(CustomerId).collect();
    for &c in &everyone {
        agree(
            "customer_rank",
            &c,
            store.customer_rank(ws, TimeWindow::ALL, c).await,
            oracle.customer_rank(ws, TimeWindow::ALL, c).await,
        )?;
    }
    let activity = activity_all(CustomerFilter::default());
    agree(
        "activity_page",
        &activity,
        store.activity_page(ws, &activity).await,
        oracle.activity_page(ws, &activity).await,
    )?;
    let buckets = BucketCountsQuery {
        customers: everyone.clone(),
        names: [
            names::PAGE_VIEWED,
            names::LINK_OPENED,
            names::ORDER_SUBMITTED,
        ]
        .map(String::from)
        .to_vec(),
        edges: {
            let mut edges = vec![Timestamp::EPOCH, filter.window.from, filter.window.to];
            edges.sort();
            edges.dedup();
            edges
        },
    };
    agree(
        "bucket_counts",
        &buckets,
        store.bucket_counts(ws, &buckets).await,
        oracle.bucket_counts(ws, &buckets).await,
    )?;
    let funnel = FunnelQuery {
        window: TimeWindow::ALL,
        steps: [
            names::LINK_OPENED,
            names::CHECKOUT_STARTED,
            names::ORDER_SUBMITTED,
        ]
        .map(String::from)
        .to_vec(),
        conversion_window: TimeDelta::hours(1),
        open_since: Some(filter.window.from),
    };
    agree(
        "funnel_input",
        &funnel,
        store.funnel_input(ws, &funnel).await,
        oracle.funnel_input(ws, &funnel).await,
    )?;
    for n in 0..33 {
        let id = EventId::from(format!("e{n:02}"));
        agree(
            "event",
            &id,
            store.event(ws, &id).await,
            oracle.event(ws, &id).await,
        )?;
    }
    agree(
        "customers",
        &everyone,
        store.customers(ws, &everyone).await,
        oracle.customers(ws, &everyone).await,
    )
}

/// The isolation property: workspaces written in interleaved batches with the same ids never
/// see each other, before and after a purge of one of them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Isolation;

impl<S: EventStore> AsyncProperty<S, Tenants> for Isolation {
    async fn check(&self, store: &S, t: &Tenants) -> Outcome {
        let wss: Vec<WorkspaceId> = (0..t.histories.len())
            .map(|i| super::workspace(&format!("tenant{i}")))
            .collect();
        let oracles: Vec<ReferenceStore> =
            t.histories.iter().map(|_| ReferenceStore::new()).collect();
        let rounds = t.histories.iter().map(|(b, _)| b.len()).max().unwrap_or(0);
        for round in 0..rounds {
            for ((ws, oracle), (batches, _)) in wss.iter().zip(&oracles).zip(&t.histories) {
                if let Some(batch) = batches.get(round) {
                    agree(
                        "append",
                        batch,
                        store.append(ws, batch).await,
                        oracle.append(ws, batch).await,
                    )?;
                }
            }
        }
        for ((ws, oracle), (_, records)) in wss.iter().zip(&oracles).zip(&t.histories) {
            agree(
                "upsert_customers",
                records,
                store.upsert_customers(ws, records).await,
                oracle.upsert_customers(ws, records).await,
            )?;
        }
        for (ws, oracle) in wss.iter().zip(&oracles) {
            workspace_agrees(store, oracle, ws, &t.filter).await?;
        }
        let asked = t.purge;
        agree(
            "purge",
            &asked,
            store.purge(&wss[0], t.purge, PurgeMode::Delete).await,
            oracles[0].purge(&wss[0], t.purge, PurgeMode::Delete).await,
        )?;
        for (ws, oracle) in wss.iter().zip(&oracles) {
            workspace_agrees(store, oracle, ws, &t.filter).await?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Filter values are literal.

/// Terms that mean something to SQL, LIKE, regular expressions or our escape character.
const NASTY: [&str; 22] = [
    "50%",
    "a_b",
    "\\",
    "'",
    "'; DROP TABLE events;--",
    "\"",
    "!",
    "!%",
    "%!",
    "!!",
    "[a]",
    "^",
    "*",
    "\\%",
    "\\_",
    "%%",
    "__",
    "a%b",
    "'); DROP TABLE engagement_customers;--",
    "🦀",
    "İ",
    "\u{212A}",
];

/// Text a validated event or customer may hold: no control characters.
fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        select(NASTY.to_vec()).prop_map(String::from),
        "[aAbB%_!'\";=/ \\\\\\-éÉİß🦀\\[\\]^*.?()$|{}]{0,8}",
        "\\PC{0,6}",
    ]
}

/// A query value: storable text, or anything at all (control characters and NUL included).
fn arb_term() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => arb_text(),
        2 => any::<String>(),
        1 => select(vec!["\0", "a\0%", "\u{1f}", "\t", "\r\n", "\u{7f}"]).prop_map(String::from),
    ]
}

/// Customers and events whose text is [`arb_text`], and terms to look them up with.
#[derive(Debug, Clone)]
pub(crate) struct Literals {
    customers: Vec<Customer>,
    events: Vec<Event>,
    searches: Vec<String>,
    values: Vec<String>,
}

pub(crate) fn arb_literals() -> impl Strategy<Value = Literals> {
    let customer = (1..=4_i64, arb_text(), arb_text(), arb_text(), arb_text()).prop_map(
        |(id, first, last, code, email)| {
            let mut c = Customer::new(CustomerId(id), first, last);
            c.code = code;
            c.email = email;
            c
        },
    );
    let event = (1..=4_i64, arb_text(), arb_text(), arb_text(), 0..1_000_i64);
    (
        proptest::collection::vec(customer, 1..5),
        proptest::collection::vec(event, 1..8),
        proptest::collection::vec(arb_term(), 1..4),
        proptest::collection::vec(arb_term(), 1..4),
        any::<bool>(),
    )
        .prop_map(|(customers, events, mut searches, mut values, upper)| {
            let events: Vec<Event> = events
                .into_iter()
                .enumerate()
                .map(|(i, (c, path, referrer, domain, at))| {
                    let mut e = Event::new(
                        format!("e{i}"),
                        CustomerId(c),
                        names::LINK_OPENED,
                        Timestamp::from_micros(at),
                    );
                    e.page.path = path;
                    e.page.referrer = referrer;
                    e.page.domain = domain;
                    e
                })
                .collect();
            // Terms that do match: a stored name in another case, a stored path.
            let name = &customers[0].first_name;
            searches.push(if upper {
                name.to_uppercase()
            } else {
                name.clone()
            });
            values.push(events[0].page.path.clone());
            Literals {
                customers,
                events,
                searches,
                values,
            }
        })
}

/// Whether a backend may refuse `term` with a typed error instead of answering: only a term
/// holding NUL, which no database takes in text and no stored value can contain.
fn may_refuse(term: &str) -> bool {
    term.contains('\0')
}

/// Same answer as the reference, or — for a term [`may_refuse`] allows — a typed error.
fn literal<T: PartialEq + Debug>(
    what: &str,
    term: &str,
    got: Result<T>,
    want: Result<T>,
) -> Outcome {
    match got {
        Err(
            engagement_core::Error::Backend { .. }
            | engagement_core::Error::Refused { .. }
            | engagement_core::Error::InvalidQuery { .. },
        ) if may_refuse(term) => Ok(()),
        got => agree(what, &term, got, want),
    }
}

/// The literal-match property: every search term and path, referrer or domain value selects
/// exactly what the reference's plain substring or equality match selects, and every table is
/// intact afterwards.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LiteralFilters;

impl<S: EventStore> AsyncProperty<S, Literals> for LiteralFilters {
    async fn check(&self, store: &S, l: &Literals) -> Outcome {
        let ws = super::workspace("literal");
        let oracle = ReferenceStore::new();
        agree(
            "append",
            &l.events,
            store.append(&ws, &l.events).await,
            oracle.append(&ws, &l.events).await,
        )?;
        agree(
            "upsert_customers",
            &l.customers,
            store.upsert_customers(&ws, &l.customers).await,
            oracle.upsert_customers(&ws, &l.customers).await,
        )?;
        for term in &l.searches {
            let query = activity_all(CustomerFilter {
                search: Some(term.clone()),
                ..CustomerFilter::default()
            });
            literal(
                "activity search",
                term,
                store.activity_page(&ws, &query).await,
                oracle.activity_page(&ws, &query).await,
            )?;
        }
        for value in &l.values {
            for field in 0..3 {
                let mut filter = EventFilter::new(TimeWindow::ALL);
                let slot = [&mut filter.path, &mut filter.referrer, &mut filter.domain];
                *slot.into_iter().nth(field).expect("three fields") = Some(value.clone());
                literal(
                    "export",
                    value,
                    collect_export(store, &ws, &filter).await,
                    collect_export(&oracle, &ws, &filter).await,
                )?;
                let query = EventPageQuery {
                    filter,
                    after: None,
                    limit: 100,
                };
                literal(
                    "event_page",
                    value,
                    store.event_page(&ws, &query).await,
                    oracle.event_page(&ws, &query).await,
                )?;
            }
        }
        let all = EventFilter::new(TimeWindow::ALL);
        agree(
            "export after the searches",
            &all,
            collect_export(store, &ws, &all).await,
            collect_export(&oracle, &ws, &all).await,
        )?;
        let ids: Vec<CustomerId> = (1..=4).map(CustomerId).collect();
        agree(
            "customers after the searches",
            &ids,
            store.customers(&ws, &ids).await,
            oracle.customers(&ws, &ids).await,
        )
    }
}
