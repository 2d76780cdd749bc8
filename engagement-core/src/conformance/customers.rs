//! The customer directory: upserts and lookups.

use super::support::{customer, fresh_workspace, ok, upsert};
use crate::{CustomerId, CustomerStatus, Error, EventStore, Limits};

/// Upserts replace whole records, the last write winning (also within one call), and every
/// field round-trips.
pub async fn upsert_customers_last_write_wins(store: &dyn EventStore) {
    let ws = fresh_workspace("upsert_customers_last_write_wins");
    upsert(store, &ws, &[customer(1, "Old", "Name")]).await;
    let mut full = customer(1, "Zoë 🦀", "O'Brien-Łukasz");
    full.code = "C-1_%".into();
    full.email = "zoe@example.com".into();
    full.status = CustomerStatus::Inactive;
    full.is_admin_placeholder = true;
    let first = customer(3, "First", "Write");
    let last = customer(3, "Last", "Write");
    upsert(
        store,
        &ws,
        &[full.clone(), customer(2, "Two", "T"), first, last.clone()],
    )
    .await;
    let got = ok(
        "customers",
        store
            .customers(&ws, &[CustomerId(1), CustomerId(2), CustomerId(3)])
            .await,
    );
    assert_eq!(
        got,
        vec![full, customer(2, "Two", "T"), last],
        "records after the upserts"
    );
}

/// `customers` returns each existing record once, ordered by id, whatever the order asked.
pub async fn customers_returns_found_in_id_order(store: &dyn EventStore) {
    let ws = fresh_workspace("customers_returns_found_in_id_order");
    upsert(
        store,
        &ws,
        &[
            customer(5, "E", "E"),
            customer(1, "A", "A"),
            customer(3, "C", "C"),
        ],
    )
    .await;
    let asked = [
        CustomerId(3),
        CustomerId(99),
        CustomerId(1),
        CustomerId(5),
        CustomerId(1),
    ];
    let got = ok("customers", store.customers(&ws, &asked).await);
    assert_eq!(
        got.iter().map(|c| c.id.0).collect::<Vec<_>>(),
        vec![1, 3, 5]
    );
    assert!(
        ok("customers", store.customers(&ws, &[]).await).is_empty(),
        "no ids, no records"
    );
}

/// A batch holding an invalid record (a NUL, a control character, text over the limit) is
/// refused as a whole with a typed error naming the record and its field: nothing of it is
/// written and the stored records stay as they were.
pub async fn upsert_customers_refuses_invalid_records(store: &dyn EventStore) {
    let ws = fresh_workspace("upsert_customers_refuses_invalid_records");
    upsert(store, &ws, &[customer(1, "Kept", "Record")]).await;
    let mut nul = customer(3, "Ada", "Lovelace");
    nul.email = "ada\0@example.com".into();
    let mut control = customer(3, "Ada\u{7}", "Lovelace");
    control.code = "A-3".into();
    let mut long = customer(3, "Ada", "Lovelace");
    long.code = "x".repeat(Limits::default().max_text_bytes + 1);
    for (bad, field) in [(nul, "email"), (control, "first_name"), (long, "code")] {
        let batch = [
            customer(1, "Replaced", "Record"),
            customer(2, "New", "Record"),
            bad,
        ];
        match store.upsert_customers(&ws, &batch).await {
            Err(Error::InvalidEvent {
                index: 2,
                field: got,
                ..
            }) => assert_eq!(got, field, "the refused field"),
            other => panic!("an invalid {field} gave {other:?}, not InvalidEvent at index 2"),
        }
        let stored = ok(
            "customers",
            store
                .customers(&ws, &[CustomerId(1), CustomerId(2), CustomerId(3)])
                .await,
        );
        assert_eq!(
            stored,
            vec![customer(1, "Kept", "Record")],
            "nothing of a refused batch is written (invalid {field})"
        );
    }
}
