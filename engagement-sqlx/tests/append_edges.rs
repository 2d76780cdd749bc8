//! Appends at their edges, on every backend against the reference: which repeats of an id are
//! duplicates and which conflicts (every field of the payload, `received_at` aside), repeats
//! inside one batch landing in different insert statements, batches spanning many UTC days,
//! customers and names (day edges and instants before 1970 included), and what the rollup, the
//! totals and the log counts then answer; an append whose count upkeep fails stores nothing, and
//! appends racing for ids and rollup rows land or fail as busy (MariaDB's id taken meanwhile
//! among them).
//!
//! SQLite always runs; PostgreSQL and MySQL / MariaDB when `ENGAGEMENT_TEST_POSTGRES_URL` and
//! `ENGAGEMENT_TEST_MYSQL_URL` are set (and their features on), in a schema or database of their
//! own dropped at the end; otherwise one test each says it was skipped (and fails when
//! `ENGAGEMENT_REQUIRE_SERVERS` is set).

// Built with neither SQLite nor a server suite (a server feature alone, its URL unset), the
// cases shared between backends have no caller.
#![cfg_attr(
    not(any(feature = "sqlite", engagement_test_postgres, engagement_test_mysql)),
    allow(dead_code, unused_imports)
)]

#[allow(dead_code)]
mod common;
mod reliability;

use std::collections::BTreeSet;
use std::net::IpAddr;

use engagement_core::conformance::{agree, collect_export};
use engagement_core::{
    Actor, BucketCountsQuery, CustomerId, Device, Event, EventFilter, EventPageQuery, EventStore,
    ReferenceStore, TimeWindow, Timestamp, TopCustomersQuery, WorkspaceId,
};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

const DAY: i64 = 86_400_000_000;

type Outcome = std::result::Result<(), TestCaseError>;

/// An event with every field set.
fn full(id: &str, customer: i64, name: &str, at: i64) -> Event {
    let mut e = Event::new(id, CustomerId(customer), name, Timestamp::from_micros(at));
    e.received_at = Timestamp::from_micros(at.saturating_add(7));
    e.page.url = "https://shop.example.com/p".into();
    e.page.path = "/p".into();
    e.page.domain = "shop.example.com".into();
    e.page.referrer = "https://t.co/x".into();
    e.geo.country = "FR".into();
    e.geo.region = "IDF".into();
    e.geo.city = "Paris".into();
    e.geo.zone = "Europe/Paris".into();
    e.device = Some(Device::Mobile);
    e.ip = Some(IpAddr::from([192, 0, 2, 7]));
    e.metadata = metadata(&[
        ("plan", json!("pro")),
        ("n", json!(3)),
        ("x", json!(0.1)),
        ("nested", json!({"z": [1, 2.5, null], "a": true})),
    ]);
    e
}

fn metadata(fields: &[(&str, Value)]) -> engagement_core::Metadata {
    fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// A named change to an event.
type Change = (&'static str, fn(&mut Event));

/// One change to an event's payload per field (each makes a conflict), named.
fn payload_changes() -> Vec<Change> {
    vec![
        ("customer", |e| {
            e.customer = CustomerId(e.customer.0.wrapping_add(1))
        }),
        ("actor", |e| e.actor = Actor::Staff),
        ("name", |e| e.name.push(' ')),
        ("occurred_at", |e| {
            e.occurred_at = Timestamp::from_micros(e.occurred_at.as_micros() + 1);
        }),
        ("url", |e| e.page.url.clear()),
        ("path", |e| e.page.path = "/P".into()),
        ("domain", |e| e.page.domain = "Shop.example.com".into()),
        ("referrer", |e| e.page.referrer.clear()),
        ("country", |e| e.geo.country = "fr".into()),
        ("region", |e| e.geo.region.push(' ')),
        ("city", |e| e.geo.city.clear()),
        ("zone", |e| e.geo.zone = "UTC".into()),
        ("device none", |e| e.device = None),
        ("device", |e| e.device = Some(Device::Tablet)),
        ("ip none", |e| e.ip = None),
        ("ip v4-mapped", |e| {
            e.ip = e.ip.map(|ip| match ip {
                IpAddr::V4(v4) => IpAddr::V6(v4.to_ipv6_mapped()),
                v6 => v6,
            });
        }),
        ("metadata none", |e| e.metadata.clear()),
        ("metadata int as float", |e| {
            e.metadata.insert("n".into(), json!(3.0));
        }),
        ("metadata float", |e| {
            e.metadata.insert("x".into(), json!(0.1 + f64::EPSILON));
        }),
        ("metadata null", |e| {
            e.metadata.insert("extra".into(), Value::Null);
        }),
        ("metadata empty string", |e| {
            e.metadata.insert("plan".into(), json!(""));
        }),
    ]
}

/// What a store answers about a workspace, read the ways the rollup, the totals and the log
/// counts serve: every event, the log's totals of the whole and of each day, the ranking of the
/// whole and of each day, and the daily buckets of every customer and name.
async fn reads_agree(
    store: &dyn EventStore,
    oracle: &ReferenceStore,
    ws: &WorkspaceId,
    events: &[Event],
) -> Outcome {
    let all = EventFilter::new(TimeWindow::ALL);
    agree(
        "export",
        &"everything",
        collect_export(store, ws, &all).await,
        collect_export(oracle, ws, &all).await,
    )?;
    let ids: BTreeSet<_> = events.iter().map(|e| e.id.clone()).collect();
    for id in &ids {
        agree(
            "event",
            id,
            store.event(ws, id).await,
            oracle.event(ws, id).await,
        )?;
    }
    // Days near 1970 are read whole and in buckets; far ones around each event.
    let near = |at: i64| (-1_000 * DAY..1_000 * DAY).contains(&at);
    let days: BTreeSet<i64> = events
        .iter()
        .map(|e| e.occurred_at.as_micros())
        .filter(|at| near(*at))
        .map(|at| at - at.rem_euclid(DAY))
        .collect();
    let mut windows = vec![TimeWindow::ALL];
    for at in events.iter().map(|e| e.occurred_at.as_micros()) {
        if near(at) {
            continue;
        }
        let day = at.checked_sub(at.rem_euclid(DAY));
        for (from, to) in [
            (Some(at.saturating_sub(DAY)), Some(at.saturating_add(DAY))),
            (day, day.and_then(|d| d.checked_add(DAY))),
            (
                day.and_then(|d| d.checked_sub(DAY)),
                day.and_then(|d| d.checked_add(2 * DAY)),
            ),
        ] {
            if let (Some(from), Some(to)) = (from, to) {
                windows.push(TimeWindow {
                    from: Timestamp::from_micros(from),
                    to: Timestamp::from_micros(to),
                });
            }
        }
    }
    let (first, last) = match (days.first().copied(), days.last().copied()) {
        (Some(first), Some(last)) => (first, last),
        _ => (0, 0),
    };
    if !days.is_empty() {
        windows.push(TimeWindow {
            from: Timestamp::from_micros(first),
            to: Timestamp::from_micros(last + DAY),
        });
    }
    for day in &days {
        windows.push(TimeWindow {
            from: Timestamp::from_micros(*day),
            to: Timestamp::from_micros(day + DAY),
        });
    }
    for window in windows {
        let mut filter = EventFilter::new(window);
        // Pages of none, so that the totals are counted (from the log counts) even where
        // nothing matches: a first page shorter than its limit would be its own total.
        let query = EventPageQuery {
            filter: filter.clone(),
            after: None,
            limit: 0,
        };
        agree(
            "event_page",
            &query,
            store.event_page(ws, &query).await.map(|p| p.total),
            oracle.event_page(ws, &query).await.map(|p| p.total),
        )?;
        let domains: BTreeSet<&str> = events.iter().map(|e| e.page.domain.as_str()).collect();
        for domain in domains {
            filter.domain = Some(domain.to_owned());
            let query = EventPageQuery {
                filter: filter.clone(),
                after: None,
                limit: 0,
            };
            agree(
                "event_page of a domain",
                &query,
                store.event_page(ws, &query).await.map(|p| p.total),
                oracle.event_page(ws, &query).await.map(|p| p.total),
            )?;
        }
        let top = TopCustomersQuery { window, limit: 100 };
        agree(
            "top_customers",
            &top,
            store.top_customers(ws, &top).await,
            oracle.top_customers(ws, &top).await,
        )?;
    }
    if days.is_empty() {
        return Ok(());
    }
    let customers: BTreeSet<CustomerId> = events.iter().map(|e| e.customer).collect();
    let names: BTreeSet<String> = events.iter().map(|e| e.name.clone()).collect();
    let buckets = BucketCountsQuery {
        customers: customers.into_iter().collect(),
        names: names.into_iter().collect(),
        edges: (0..=(last - first) / DAY + 1)
            .map(|i| Timestamp::from_micros(first + i * DAY))
            .collect(),
    };
    agree(
        "bucket_counts",
        &buckets,
        store.bucket_counts(ws, &buckets).await,
        oracle.bucket_counts(ws, &buckets).await,
    )
}

/// Appends `batches` in a fresh workspace of `store` and of a fresh reference; every outcome
/// and then every read must agree.
async fn history_agrees(store: &dyn EventStore, case: &str, batches: &[Vec<Event>]) -> Outcome {
    let ws = reliability::workspace(case);
    let oracle = ReferenceStore::new();
    for batch in batches {
        agree(
            "append",
            &case,
            store.append(&ws, batch).await,
            oracle.append(&ws, batch).await,
        )?;
    }
    let events: Vec<Event> = batches.iter().flatten().cloned().collect();
    reads_agree(store, &oracle, &ws, &events).await
}

fn check(result: Outcome) {
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// A repeat of a stored event is a duplicate whatever its `received_at`, and any other change
/// to any field a conflict; the first write stays.
async fn every_field_decides_duplicate_or_conflict(store: &dyn EventStore) {
    let base = full("e", 5, "Page Viewed", 3 * DAY + 17);
    let mut resent = base.clone();
    resent.received_at = Timestamp::from_micros(9 * DAY);
    let mut batches = vec![vec![base.clone()], vec![resent.clone(), base.clone()]];
    for (_, change) in payload_changes() {
        let mut other = base.clone();
        change(&mut other);
        assert!(!other.same_payload(&base));
        batches.push(vec![other]);
    }
    // The same again in one batch, after the first write.
    let mut one = vec![base.clone()];
    for (_, change) in payload_changes() {
        let mut other = base.clone();
        other.id = "f".into();
        change(&mut other);
        one.push(other);
    }
    let mut first = base.clone();
    first.id = "f".into();
    one.insert(1, first.clone());
    one.push(first);
    batches.push(one);
    check(history_agrees(store, "fields", &batches).await);
}

/// The same payload whatever the metadata's key order and however its numbers were written.
async fn metadata_compares_as_values(store: &dyn EventStore) {
    let mut a = full("m", 1, "X", DAY);
    a.metadata = serde_json::from_str(
        r#"{"z": 1, "a": [0.1, 1e16, 5e-324, -0.0, 18446744073709551615, -9223372036854775808],
           "é": {"b": 1.7976931348623157e308, "a": "\u0000 \" \\"}}"#,
    )
    .expect("metadata");
    let mut b = a.clone();
    b.metadata = serde_json::from_str(
        r#"{"é": {"a": "\u0000 \" \\", "b": 1.7976931348623157E308}, "a": [1e-1, 10000000000000000.0,
           4.9406564584124654e-324, -0e0, 18446744073709551615, -9223372036854775808], "z": 1}"#,
    )
    .expect("metadata");
    assert!(a.same_payload(&b));
    let mut c = a.clone();
    c.metadata.insert("z".into(), json!(1.0));
    check(
        history_agrees(
            store,
            "metadata",
            &[vec![a.clone(), b.clone()], vec![b, c, a]],
        )
        .await,
    );
}

/// Repeats of an id in one batch, their first occurrence early and the repeats in the batch's
/// later insert statements; a batch over many days, customers, names, actors and domains.
async fn repeats_across_statements(store: &dyn EventStore) {
    let mut batch: Vec<Event> = (0..7_000).map(spread).collect();
    // Ids r00000 to r04999 come again later with another payload (conflicts); r05000 on with
    // the same (duplicates, though their received_at differs).
    for i in 0..7_000 {
        let mut e = spread(i);
        if i < 5_000 {
            e.page.path = "/other".into();
        } else {
            e.received_at = Timestamp::from_micros(1);
        }
        batch.push(e);
    }
    check(history_agrees(store, "statements", &[batch.clone(), batch]).await);
}

/// Event `r{i}` of [`repeats_across_statements`]: around midnight of nine days, before 1970
/// too, of 13 customers, 3 names, every actor and 4 domains.
fn spread(i: i64) -> Event {
    let at = (i % 9 - 4) * DAY + [0, -1, 1, DAY - 1][(i % 4) as usize];
    let mut e = full(
        &format!("r{i:05}"),
        i % 13,
        ["A", "B", "c"][(i % 3) as usize],
        at,
    );
    e.actor = [
        Actor::Customer,
        Actor::Customer,
        Actor::Staff,
        Actor::System,
    ][(i % 4) as usize];
    e.page.domain = ["", "a.example", "A.example", &"d".repeat(300)][(i % 5 % 4) as usize].into();
    e
}

/// Events on either side of UTC midnight, before 1970 too, count in their own day.
async fn day_edges(store: &dyn EventStore) {
    let mut batch = Vec::new();
    for (i, at) in [-DAY - 1, -DAY, -1, 0, DAY - 1, DAY, 2 * DAY - 1, 2 * DAY]
        .into_iter()
        .enumerate()
    {
        batch.push(full(&format!("d{i}"), 1, "Edge", at));
        batch.push(full(&format!("s{i}"), 2, "Edge", at));
    }
    check(history_agrees(store, "days", &[batch]).await);
    // The rollup covers ±50,000,000 days; events beyond are read raw.
    let edge = 50_000_000 * DAY;
    let far: Vec<Event> = [i64::MIN, -edge - 1, -edge, edge - 1, edge, i64::MAX]
        .into_iter()
        .enumerate()
        .map(|(i, at)| full(&format!("far{i}"), 1, "Far", at))
        .collect();
    check(history_agrees(store, "far", &[far]).await);
}

/// Events whose metadata alone is near the most one insert carries (4 MiB) go in statements
/// of their own, beside small ones.
async fn large_metadata(store: &dyn EventStore) {
    let batch: Vec<Event> = (0..6)
        .map(|i| {
            let mut e = full(&format!("big{i}"), 1, "Big", DAY + i);
            if i % 2 == 0 {
                let text = "é".repeat((2 << 20) - 10 + usize::try_from(i).expect("small"));
                e.metadata.insert("blob".into(), json!(text));
            }
            e
        })
        .collect();
    let mut again = batch.clone();
    again[2].metadata.insert("more".into(), json!(1));
    check(history_agrees(store, "large", &[batch, again]).await);
}

/// An empty append changes nothing.
async fn empty_batches(store: &dyn EventStore) {
    check(
        history_agrees(
            store,
            "empty",
            &[vec![], vec![full("a", 1, "X", 5)], vec![]],
        )
        .await,
    );
}

async fn deterministic(store: &dyn EventStore) {
    every_field_decides_duplicate_or_conflict(store).await;
    metadata_compares_as_values(store).await;
    day_edges(store).await;
    empty_batches(store).await;
    large_metadata(store).await;
    repeats_across_statements(store).await;
}

/// An append whose rollup upkeep fails (on the event of customer 666, named "Boom") stores
/// nothing: neither its events nor any count; the next append without it stores as usual.
/// The caller makes the statements of `table` fail on that event.
async fn a_failed_upkeep_stores_nothing(store: &dyn EventStore, table: &str) {
    let ws = reliability::workspace(&format!("fails-{table}"));
    let oracle = ReferenceStore::new();
    let fine = full("fine", 1, "Page Viewed", DAY + 5);
    let boom = full("boom", 666, "Boom", DAY + 6);
    let result = store.append(&ws, &[fine.clone(), boom]).await;
    assert!(result.is_err(), "the {table} upkeep failed: {result:?}");
    check(reads_agree(store, &oracle, &ws, std::slice::from_ref(&fine)).await);
    let batch = [fine, full("other", 2, "Page Viewed", DAY + 7)];
    check(
        agree(
            "append after the failure",
            &table,
            store.append(&ws, &batch).await,
            oracle.append(&ws, &batch).await,
        )
        .and(Ok(())),
    );
    check(reads_agree(store, &oracle, &ws, &batch).await);
}

/// The count tables an append writes, each with a condition that refuses the failing event.
const COUNT_TABLES: [(&str, &str); 3] = [
    ("engagement_daily", "customer <> 666"),
    ("engagement_totals", "customer <> 666"),
    ("engagement_log_counts", "name <> 'Boom'"),
];

/// Appends racing for the same ids and the same rollup, totals and log count rows: each
/// succeeds or fails as busy; tried again until it lands, the counts are exact.
#[cfg_attr(
    not(any(
        all(engagement_test_postgres, feature = "postgres"),
        all(engagement_test_mysql, feature = "mysql")
    )),
    allow(dead_code)
)]
async fn racing_appends<S: EventStore + Clone + 'static>(store: &S, what: &str) {
    let ws = reliability::workspace("race");
    let oracle = ReferenceStore::new();
    let mut tasks = Vec::new();
    for round in 0..20_u64 {
        for writer in 0..4_u64 {
            let batch = vec![
                full(&format!("shared-{round}"), 1, "Page Viewed", DAY + 1),
                full(&format!("own-{round}-{writer}"), 1, "Page Viewed", DAY + 2),
            ];
            oracle.append(&ws, &batch).await.expect("the reference");
            let (store, ws) = (store.clone(), ws.clone());
            tasks.push(tokio::spawn(async move {
                let mut busy = 0_u64;
                loop {
                    match store.append(&ws, &batch).await {
                        Ok(_) => return Ok(busy),
                        Err(engagement_core::Error::Busy { .. }) if busy < 20 => {
                            busy += 1;
                            let ms = 5 * busy + 7 * (writer + round) % 20;
                            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                        }
                        Err(e) => return Err(e.to_string()),
                    }
                }
            }));
        }
    }
    for task in tasks {
        if let Err(e) = task.await.expect("the append task") {
            panic!("an append racing others under {what} failed: {e}");
        }
    }
    let events: Vec<Event> = collect_export(&oracle, &ws, &EventFilter::new(TimeWindow::ALL))
        .await
        .expect("the reference's events");
    check(reads_agree(store, &oracle, &ws, &events).await);
}

/// A template event (wider than the shared generators: text fields empty or not, case and
/// trailing spaces, v4-mapped addresses, metadata of every JSON kind, instants either side of
/// midnight before and after 1970).
fn arb_template() -> impl Strategy<Value = Event> {
    let texts = prop::collection::vec(select(vec!["", " ", "a", "A", "a ", "é", "e\u{301}"]), 8);
    let value = select(vec![
        json!(1),
        json!(1.0),
        json!(0.1),
        json!(-0.0),
        json!(1e16),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(""),
        json!(null),
        json!([1, [2.5]]),
        json!({"b": 1, "a": {}}),
        json!(true),
    ]);
    let meta = prop::collection::btree_map(select(vec!["", "a", "B", "é"]), value, 0..3);
    let ip = prop::option::of(select(vec![
        IpAddr::from([1, 2, 3, 4]),
        IpAddr::V6(std::net::Ipv4Addr::new(1, 2, 3, 4).to_ipv6_mapped()),
        IpAddr::from([0, 0, 0, 0, 0, 0, 0, 1]),
    ]));
    (
        select(vec!["a", "A", "a ", "é", "e\u{301}", "x"]),
        select(vec![-1_i64, 0, 1, 2, i64::MAX]),
        select(Actor::ALL.to_vec()),
        select(vec!["Page Viewed", "page viewed", "Page Viewed ", "🦀"]),
        (-2_i64..3, select(vec![0_i64, -1, 1, DAY / 2])),
        texts,
        prop::option::of(select(Device::ALL.to_vec())),
        ip,
        meta,
    )
        .prop_map(
            |(id, customer, actor, name, (day, offset), texts, device, ip, meta)| {
                let at = day * DAY + offset;
                let mut e = Event::new(id, CustomerId(customer), name, Timestamp::from_micros(at));
                e.actor = actor;
                e.page.url = texts[0].into();
                e.page.path = texts[1].into();
                e.page.domain = texts[2].into();
                e.page.referrer = texts[3].into();
                e.geo.country = texts[4].into();
                e.geo.region = texts[5].into();
                e.geo.city = texts[6].into();
                e.geo.zone = texts[7].into();
                e.device = device;
                e.ip = ip;
                e.metadata = meta.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
                e
            },
        )
}

/// Batches of templates, each taken as it is, resent (another `received_at`) or with one field
/// changed: ids repeat with the same payload and with others, within and across batches.
fn arb_history() -> impl Strategy<Value = Vec<Vec<Event>>> {
    let change_count = payload_changes().len();
    prop::collection::vec(arb_template(), 1..6).prop_flat_map(move |templates| {
        let picks = prop::collection::vec(
            (
                0..templates.len(),
                prop_oneof![3 => Just(None), 2 => (0..=change_count).prop_map(Some)],
            ),
            0..10,
        );
        prop::collection::vec(picks, 1..4).prop_map(move |batches| {
            let changes = payload_changes();
            batches
                .into_iter()
                .map(|picks| {
                    picks
                        .into_iter()
                        .map(|(t, change)| {
                            // Shrinking may leave fewer templates than picked.
                            let mut e = templates[t % templates.len()].clone();
                            match change {
                                None => {}
                                Some(c) if c == changes.len() => {
                                    e.received_at = Timestamp::from_micros(42);
                                }
                                Some(c) => (changes[c].1)(&mut e),
                            }
                            e
                        })
                        .collect()
                })
                .collect()
        })
    })
}

fn properties<S: EventStore>(runtime: &tokio::runtime::Runtime, store: &S) {
    let cases = engagement_core::conformance::proptest_cases(48);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(failure) = runner.run(&arb_history(), |batches| {
        runtime.block_on(history_agrees(store, "prop", &batches))
    }) {
        panic!("{failure}");
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime")
}

/// Runs `work`, then `cleanup` whether `work` panicked or not, then goes on panicking: a server
/// test's scratch schema or database is dropped either way.
#[cfg(any(
    all(engagement_test_postgres, feature = "postgres"),
    all(engagement_test_mysql, feature = "mysql")
))]
fn then_clean_up(
    runtime: &tokio::runtime::Runtime,
    work: impl FnOnce(),
    cleanup: impl std::future::Future<Output = ()>,
) {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    runtime.block_on(cleanup);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// A check constraint (added and dropped on `pool`, the store's) refuses the failing event's
/// row in each count table in turn.
#[cfg(any(
    all(engagement_test_postgres, feature = "postgres"),
    all(engagement_test_mysql, feature = "mysql")
))]
async fn failed_upkeeps_under_constraints<DB>(
    store: &dyn EventStore,
    pool: &engagement_sqlx::sqlx::Pool<DB>,
) where
    DB: engagement_sqlx::sqlx::Database,
    for<'p> &'p engagement_sqlx::sqlx::Pool<DB>: engagement_sqlx::sqlx::Executor<'p, Database = DB>,
{
    use engagement_sqlx::sqlx::{AssertSqlSafe, raw_sql};
    let exec = async |sql: String| {
        raw_sql(AssertSqlSafe(sql.clone()))
            .execute(pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    };
    for (table, allowed) in COUNT_TABLES {
        exec(format!(
            "ALTER TABLE {table} ADD CONSTRAINT refuse CHECK ({allowed})"
        ))
        .await;
        a_failed_upkeep_stores_nothing(store, table).await;
        exec(format!("ALTER TABLE {table} DROP CONSTRAINT refuse")).await;
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use std::time::Duration;

    use engagement_sqlx::sqlx::{AssertSqlSafe, raw_sql};

    #[test]
    fn sqlite_append_edges_agree_with_the_reference() {
        let runtime = super::runtime();
        let store = runtime.block_on(super::reliability::sqlite_store(
            "append-edges",
            4,
            Duration::from_secs(30),
            Duration::from_secs(30),
        ));
        runtime.block_on(super::deterministic(&store));
    }

    /// A trigger refuses the failing event's row in each count table in turn.
    #[test]
    fn sqlite_a_failed_upkeep_stores_nothing() {
        let runtime = super::runtime();
        let store = runtime.block_on(super::reliability::sqlite_store(
            "append-edges-fails",
            4,
            Duration::from_secs(30),
            Duration::from_secs(30),
        ));
        for (table, allowed) in super::COUNT_TABLES {
            runtime.block_on(async {
                // A trigger of its own per table: a pooled connection may still hold the
                // schema from before the last one was dropped, and CREATE checks the name
                // against it.
                let refuse = format!(
                    "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} WHEN NOT (NEW.{allowed}) \
                     BEGIN SELECT RAISE(ABORT, 'refused'); END"
                );
                raw_sql(AssertSqlSafe(refuse))
                    .execute(store.pool())
                    .await
                    .expect("create the trigger");
                super::a_failed_upkeep_stores_nothing(&store, table).await;
                raw_sql(AssertSqlSafe(format!("DROP TRIGGER refuse_{table}")))
                    .execute(store.pool())
                    .await
                    .expect("drop the trigger");
            });
        }
    }

    #[test]
    fn sqlite_append_histories_agree_with_the_reference() {
        let runtime = super::runtime();
        let store = runtime.block_on(super::reliability::sqlite_store(
            "append-edges-prop",
            4,
            Duration::from_secs(30),
            Duration::from_secs(30),
        ));
        super::properties(&runtime, &store);
    }
}

#[cfg(not(all(engagement_test_postgres, feature = "postgres")))]
#[test]
fn postgres_append_edges_skipped() {
    reliability::skip_or_fail(
        "ENGAGEMENT_TEST_POSTGRES_URL",
        "postgres",
        "PostgreSQL append",
    );
}

#[cfg(all(engagement_test_postgres, feature = "postgres"))]
mod postgres {
    use std::str::FromStr;

    use engagement_sqlx::PostgresStore;
    use engagement_sqlx::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    use engagement_sqlx::sqlx::{AssertSqlSafe, raw_sql};

    fn url() -> String {
        std::env::var("ENGAGEMENT_TEST_POSTGRES_URL").expect("ENGAGEMENT_TEST_POSTGRES_URL")
    }

    /// Runs `work` on a store in a schema of its own, dropped afterwards.
    fn with_store(tag: &str, work: impl FnOnce(&tokio::runtime::Runtime, &PostgresStore)) {
        with_store_options(tag, &[], work);
    }

    /// [`with_store`] with the sessions' `settings` (beside the search path).
    fn with_store_options(
        tag: &str,
        settings: &[(&str, &str)],
        work: impl FnOnce(&tokio::runtime::Runtime, &PostgresStore),
    ) {
        let runtime = super::runtime();
        let schema = format!("{}_app{tag}", super::common::run_name());
        let admin = runtime.block_on(async {
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect(&url())
                .await
                .expect("connect to ENGAGEMENT_TEST_POSTGRES_URL");
            raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&admin)
                .await
                .expect("create the test schema");
            admin
        });
        let store = runtime.block_on(async {
            let options = PgConnectOptions::from_str(&url())
                .expect("parse ENGAGEMENT_TEST_POSTGRES_URL")
                .options([("search_path", schema.as_str())])
                .options(settings.iter().copied());
            let pool = PgPoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await
                .expect("connect");
            let store = PostgresStore::new(pool);
            store.migrate().await.expect("migrate the test schema");
            store
        });
        super::then_clean_up(&runtime, || work(&runtime, &store), async {
            store.pool().close().await;
            raw_sql(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&admin)
                .await
                .expect("drop the test schema");
        });
    }

    #[test]
    fn postgres_append_edges_agree_with_the_reference() {
        with_store("d", |runtime, store| {
            runtime.block_on(super::deterministic(store));
        });
    }

    /// See [`super::failed_upkeeps_under_constraints`].
    #[test]
    fn postgres_a_failed_upkeep_stores_nothing() {
        with_store("f", |runtime, store| {
            runtime.block_on(super::failed_upkeeps_under_constraints(store, store.pool()));
        });
    }

    /// Appends racing for the same ids and rollup rows succeed or fail as busy (to be tried
    /// again).
    #[test]
    fn postgres_racing_appends_fail_only_as_busy() {
        with_store("rc", |runtime, store| {
            runtime.block_on(super::racing_appends(store, "the default isolation"));
        });
    }

    /// The same where the host's sessions default to a stricter isolation than PostgreSQL's
    /// (`ALTER DATABASE … SET default_transaction_isolation`): the write transactions began
    /// under it, and a race for an id or a rollup row failed as a backend error ("could not
    /// serialize access due to concurrent update", 40001) that callers do not try again.
    #[test]
    fn postgres_racing_appends_fail_only_as_busy_under_a_stricter_default_isolation() {
        for (tag, level) in [("rr", "repeatable read"), ("se", "serializable")] {
            with_store_options(
                tag,
                &[("default_transaction_isolation", level)],
                |runtime, store| {
                    runtime.block_on(super::racing_appends(store, level));
                },
            );
        }
    }

    #[test]
    fn postgres_append_histories_agree_with_the_reference() {
        with_store("p", super::properties);
    }
}

#[cfg(not(all(engagement_test_mysql, feature = "mysql")))]
#[test]
fn mysql_append_edges_skipped() {
    reliability::skip_or_fail("ENGAGEMENT_TEST_MYSQL_URL", "mysql", "MySQL/MariaDB append");
}

#[cfg(all(engagement_test_mysql, feature = "mysql"))]
mod mysql {
    use engagement_core::{
        CustomerId, CustomerScore, Error, EventStore, TimeWindow, Timestamp, TopCustomersQuery,
    };
    use engagement_sqlx::MySqlStore;
    use engagement_sqlx::sqlx::mysql::MySqlPoolOptions;
    use engagement_sqlx::sqlx::{
        AssertSqlSafe, Connection, MySqlConnection, query, query_scalar, raw_sql,
    };

    use super::reliability::my;

    /// Runs `work` on a store in a database of its own, dropped afterwards.
    pub(super) fn with_store(tag: &str, work: impl FnOnce(&tokio::runtime::Runtime, &MySqlStore)) {
        with_store_isolation(tag, None, work);
    }

    /// [`with_store`] with the sessions' default isolation `level`, if one is given.
    fn with_store_isolation(
        tag: &str,
        level: Option<&'static str>,
        work: impl FnOnce(&tokio::runtime::Runtime, &MySqlStore),
    ) {
        let runtime = super::runtime();
        let database = format!("{}_app{tag}", super::common::run_name());
        let admin = runtime.block_on(async {
            let admin = my::admin().await;
            raw_sql(AssertSqlSafe(format!(
                "CREATE DATABASE {database} CHARACTER SET utf8mb4"
            )))
            .execute(&admin)
            .await
            .expect("create the test database");
            admin
        });
        let store = runtime.block_on(async {
            let pool = MySqlPoolOptions::new()
                .max_connections(4)
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        if let Some(level) = level {
                            let set = format!("SET SESSION TRANSACTION ISOLATION LEVEL {level}");
                            raw_sql(AssertSqlSafe(set)).execute(conn).await?;
                        }
                        Ok(())
                    })
                })
                .connect_with(my::server().database(&database))
                .await
                .expect("connect");
            let store = MySqlStore::new(pool);
            store.migrate().await.expect("migrate the test database");
            store
        });
        super::then_clean_up(&runtime, || work(&runtime, &store), async {
            store.pool().close().await;
            raw_sql(AssertSqlSafe(format!("DROP DATABASE {database}")))
                .execute(&admin)
                .await
                .expect("drop the test database");
        });
    }

    #[test]
    fn mysql_append_edges_agree_with_the_reference() {
        with_store("d", |runtime, store| {
            runtime.block_on(super::deterministic(store));
        });
    }

    /// See [`super::failed_upkeeps_under_constraints`].
    #[test]
    fn mysql_a_failed_upkeep_stores_nothing() {
        with_store("f", |runtime, store| {
            runtime.block_on(super::failed_upkeeps_under_constraints(store, store.pool()));
        });
    }

    /// An append that finds an id it read as absent taken by a concurrent append meanwhile fails
    /// as busy, writing nothing; tried again, it lands once.
    #[test]
    fn mysql_an_id_taken_meanwhile_fails_the_append_as_busy() {
        with_store("b", |runtime, store| {
            runtime.block_on(async {
                let ws = super::reliability::workspace("busy");
                let taken = super::full("taken", 3, "Page Viewed", super::DAY + 1);
                let new = super::full("new", 4, "Page Viewed", super::DAY + 2);
                let mut other = MySqlConnection::connect_with(
                    &my::server().database(
                        &query_scalar::<_, String>("SELECT DATABASE()")
                            .fetch_one(store.pool())
                            .await
                            .expect("the database"),
                    ),
                )
                .await
                .expect("connect");
                raw_sql("START TRANSACTION")
                    .execute(&mut other)
                    .await
                    .expect("begin");
                // The concurrent append's row, not committed yet (no counts: a staff event in
                // a day the checks below do not read).
                query(
                    "INSERT INTO engagement_events (workspace, id, customer, actor, name, \
                     occurred_at, received_at, url, path, domain, referrer, country, region, \
                     city, zone, device, ip, metadata) \
                     VALUES (?, 'taken', 3, 1, 'Page Viewed', 0, 0, '', '', '', '', '', '', '', \
                     '', NULL, NULL, '{}')",
                )
                .bind(ws.as_str())
                .execute(&mut other)
                .await
                .expect("insert the concurrent row");
                let append = {
                    let (store, ws) = (store.clone(), ws.clone());
                    let batch = [taken.clone(), new.clone()];
                    tokio::spawn(async move { store.append(&ws, &batch).await })
                };
                // Let the append read the ids and wait on the row's lock, then commit it.
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                raw_sql("COMMIT").execute(&mut other).await.expect("commit");
                let result = append.await.expect("the append task");
                assert!(
                    matches!(result, Err(Error::Busy { .. })),
                    "expected busy, got {result:?}"
                );
                assert_eq!(store.event(&ws, &new.id).await.expect("read"), None);
                let outcome = store
                    .append(&ws, &[taken.clone(), new.clone()])
                    .await
                    .expect("the retry");
                assert_eq!(outcome.inserted, 1);
                assert_eq!(outcome.conflicts, std::slice::from_ref(&taken.id));
                let window = TimeWindow {
                    from: Timestamp::from_micros(super::DAY),
                    to: Timestamp::from_micros(2 * super::DAY),
                };
                let top = store
                    .top_customers(&ws, &TopCustomersQuery { window, limit: 10 })
                    .await
                    .expect("ranking");
                assert_eq!(
                    top,
                    [CustomerScore {
                        customer: CustomerId(4),
                        score: 1
                    }]
                );
            });
        });
    }

    /// Appends racing for the same ids and rollup rows succeed or fail as busy (to be tried
    /// again), whatever isolation level the host's sessions default to.
    #[test]
    fn mysql_racing_appends_fail_only_as_busy_under_any_default_isolation() {
        for (tag, level) in [
            ("rc", "READ COMMITTED"),
            ("rr", "REPEATABLE READ"),
            ("sz", "SERIALIZABLE"),
        ] {
            with_store_isolation(tag, Some(level), |runtime, store| {
                runtime.block_on(super::racing_appends(store, level));
            });
        }
    }

    #[test]
    fn mysql_append_histories_agree_with_the_reference() {
        with_store("p", super::properties);
    }
}
