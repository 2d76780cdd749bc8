//! Retention: purges before a cutoff and erasure of one customer.

use super::support::{
    DAY, HOUR, append, base, by, customer, ev, export_all, fresh_workspace, ids_of, micros, ok,
    upsert,
};
use crate::{Actor, CustomerId, EventStore, PurgeOutcome, PurgeScope, names};

/// Retention: an event at cutoff − 1µs is deleted, one at the cutoff kept, a dry run only
/// counts, a rerun is a no-op, another workspace is untouched.
pub async fn purge_before_cutoff(store: &dyn EventStore) {
    let ws = fresh_workspace("purge_before_cutoff");
    let other = fresh_workspace("purge_before_cutoff-other");
    let cut = micros(base(), 12 * HOUR);
    // In (time, id) order, as an export returns them.
    let events = vec![
        ev("p-day-before", 2, names::PAGE_VIEWED, micros(cut, -DAY)),
        by(
            Actor::Staff,
            ev("p-staff", 3, names::PAGE_VIEWED, micros(cut, -2)),
        ),
        ev("p-minus-1", 1, names::PAGE_VIEWED, micros(cut, -1)),
        ev("p-at", 1, names::PAGE_VIEWED, cut),
        ev("p-plus-1", 2, names::PAGE_VIEWED, micros(cut, 1)),
    ];
    append(store, &ws, &events).await;
    append(store, &other, &events).await;
    upsert(store, &ws, &[customer(1, "A", "B")]).await;
    let scope = PurgeScope::Before { cutoff: cut };
    let want = PurgeOutcome {
        events: 3,
        customers: 0,
    };
    assert_eq!(
        ok("purge", store.purge(&ws, scope, true).await),
        want,
        "dry run"
    );
    assert_eq!(
        export_all(store, &ws).await,
        events,
        "a dry run deletes nothing"
    );
    assert_eq!(
        ok("purge", store.purge(&ws, scope, false).await),
        want,
        "purge"
    );
    assert_eq!(
        ids_of(&export_all(store, &ws).await),
        vec!["p-at", "p-plus-1"],
        "what is kept"
    );
    assert_eq!(
        ok("purge", store.purge(&ws, scope, false).await),
        PurgeOutcome::default(),
        "rerun"
    );
    assert_eq!(
        export_all(store, &other).await,
        events,
        "the other workspace"
    );
    assert_eq!(
        ok("customers", store.customers(&ws, &[CustomerId(1)]).await).len(),
        1,
        "records stay"
    );
}

/// Erasure: every event (any actor) and the record of the customer go, only in that workspace.
pub async fn purge_customer_erases_only_that_workspace(store: &dyn EventStore) {
    let ws = fresh_workspace("purge_customer_erases-a");
    let other = fresh_workspace("purge_customer_erases-b");
    let events = vec![
        ev("q1", 5, names::PAGE_VIEWED, micros(base(), 1)),
        by(
            Actor::Staff,
            ev("q2", 5, names::PAGE_VIEWED, micros(base(), 2)),
        ),
        ev("q3", 6, names::PAGE_VIEWED, micros(base(), 3)),
        ev("q4", 5, names::LINK_OPENED, micros(base(), 4)),
    ];
    for w in [&ws, &other] {
        append(store, w, &events).await;
        upsert(
            store,
            w,
            &[customer(5, "Erase", "Me"), customer(6, "Keep", "Me")],
        )
        .await;
    }
    let scope = PurgeScope::Customer {
        customer: CustomerId(5),
    };
    let want = PurgeOutcome {
        events: 3,
        customers: 1,
    };
    assert_eq!(
        ok("purge", store.purge(&ws, scope, true).await),
        want,
        "dry run"
    );
    assert_eq!(
        export_all(store, &ws).await.len(),
        4,
        "a dry run deletes nothing"
    );
    assert_eq!(
        ok("purge", store.purge(&ws, scope, false).await),
        want,
        "purge"
    );
    assert_eq!(
        ids_of(&export_all(store, &ws).await),
        vec!["q3"],
        "events left"
    );
    let left = ok(
        "customers",
        store.customers(&ws, &[CustomerId(5), CustomerId(6)]).await,
    );
    assert_eq!(
        left.iter().map(|c| c.id.0).collect::<Vec<_>>(),
        vec![6],
        "records left"
    );
    assert_eq!(
        ok("purge", store.purge(&ws, scope, false).await),
        PurgeOutcome::default(),
        "rerun"
    );
    assert_eq!(
        export_all(store, &other).await,
        events,
        "the other workspace's events"
    );
    assert_eq!(
        ok("customers", store.customers(&other, &[CustomerId(5)]).await).len(),
        1
    );
    let nobody = PurgeScope::Customer {
        customer: CustomerId(77),
    };
    assert_eq!(
        ok("purge", store.purge(&ws, nobody, false).await),
        PurgeOutcome::default()
    );
}
