//! What a ranking reads with its rows (their records, one customer's standing), from the same
//! state as the rows.

use std::sync::Arc;

use super::support::{
    HOUR, Writer, append, base, customer, day, ev, fresh_workspace, micros, ok, upsert,
};
use crate::{
    Customer, CustomerId, Event, EventStore, RankedScore, Ranking, RankingQuery, ReferenceStore,
    TimeWindow, TopCustomersQuery, names,
};

/// `n` events of `customer` in the test day, their ids starting with `tag`.
fn events_of(tag: &str, customer: i64, n: i64) -> Vec<Event> {
    (0..n)
        .map(|i| {
            ev(
                &format!("{tag}-{customer}-{i}"),
                customer,
                names::PAGE_VIEWED,
                micros(base(), HOUR + i),
            )
        })
        .collect()
}

fn query(window: TimeWindow, limit: usize) -> RankingQuery {
    RankingQuery::new(TopCustomersQuery { window, limit })
}

/// A ranking reads its rows as `top_customers` does, the records of exactly its customers
/// when asked (ordered by id), and a standing as `customer_rank` does, however far down, as
/// the reference does; a placeholder has no standing and an empty window or a limit of 0 no
/// rows.
pub async fn ranking_reads_records_and_a_standing_with_its_rows(store: &dyn EventStore) {
    let ws = fresh_workspace("ranking_reads_records_and_a_standing_with_its_rows");
    let oracle = ReferenceStore::new();
    let events: Vec<Event> = [(1, 5), (2, 4), (3, 3), (4, 2), (5, 1), (6, 3)]
        .into_iter()
        .flat_map(|(c, n)| events_of("e", c, n))
        .collect();
    let mut ops = customer(6, "Ops", "Account");
    ops.is_admin_placeholder = true;
    let records = [
        customer(3, "Grace", "Hopper"),
        customer(1, "Ada", "Lovelace"),
        customer(5, "Alan", "Turing"),
        ops,
    ];
    for s in [store, &oracle as &dyn EventStore] {
        append(s, &ws, &events).await;
        upsert(s, &ws, &records).await;
    }
    let empty = TimeWindow {
        from: base(),
        to: base(),
    };
    let asked = [
        query(day(), 3),
        query(day(), 3).with_records(),
        query(day(), 3)
            .with_records()
            .with_standing_of(CustomerId(5)),
        query(day(), 3).with_standing_of(CustomerId(2)),
        query(day(), 3).with_standing_of(CustomerId(6)),
        query(day(), 3).with_standing_of(CustomerId(9)),
        query(day(), 0)
            .with_records()
            .with_standing_of(CustomerId(4)),
        query(empty, 3)
            .with_records()
            .with_standing_of(CustomerId(1)),
    ];
    for q in &asked {
        let got = ok("ranking", store.ranking(&ws, q).await);
        let want = ok("the reference's ranking", oracle.ranking(&ws, q).await);
        assert_eq!(got, want, "{q:?}: the ranking and the reference's");
        let scores = ok("top_customers", store.top_customers(&ws, &q.top).await);
        let ids: Vec<CustomerId> = scores.iter().map(|s| s.customer).collect();
        let records = if q.records {
            ok("customers", store.customers(&ws, &ids).await)
        } else {
            Vec::new()
        };
        let standing = match q.standing_of {
            Some(c) => ok(
                "customer_rank",
                store.customer_rank(&ws, q.top.window, c).await,
            ),
            None => None,
        };
        let apart = Ranking {
            scores,
            records,
            standing,
        };
        assert_eq!(got, apart, "{q:?}: the ranking and its parts read apart");
    }
    let full = ok("ranking", store.ranking(&ws, &asked[2]).await);
    let ranked: Vec<(i64, u64)> = full
        .scores
        .iter()
        .map(|s| (s.customer.0, s.score))
        .collect();
    let named: Vec<i64> = full.records.iter().map(|c| c.id.0).collect();
    assert_eq!(
        (ranked, named, full.standing),
        (
            vec![(1, 5), (2, 4), (3, 3)],
            vec![1, 3],
            Some(RankedScore { rank: 5, score: 1 })
        ),
        "the top 3 but the placeholder, the records of those with one, customer 5 fifth"
    );
}

/// Rankings read while another thread flags and unflags the top customer an admin placeholder
/// and appends events of a customer climbing from nowhere: every ranking's records are of
/// customers it ranks and none is a placeholder's, and the climber's standing is their row's
/// whenever they have one (read apart, a flag or an append between the reads would show in one
/// part and not the next).
pub async fn ranking_reads_its_rows_and_what_goes_with_them_from_one_state<S: EventStore>(
    store: S,
) {
    const RANKINGS: usize = 100;
    const MAX_WRITES: i64 = 2_000;
    const CLIMBER: i64 = 99;
    let ws = fresh_workspace("ranking_reads_from_one_state");
    let store: Arc<dyn EventStore> = Arc::new(store);
    let steady: Vec<Event> = [(1, 40), (2, 30), (3, 20), (4, 10)]
        .into_iter()
        .flat_map(|(c, n)| events_of("steady", c, n))
        .collect();
    append(store.as_ref(), &ws, &steady).await;
    let records: Vec<Customer> = [1, 2, 3, 4, CLIMBER]
        .into_iter()
        .map(|c| customer(c, "Customer", &c.to_string()))
        .collect();
    upsert(store.as_ref(), &ws, &records).await;
    let writer = {
        let (store, ws) = (Arc::clone(&store), ws.clone());
        Writer::start(MAX_WRITES, move |i| {
            let (store, ws) = (Arc::clone(&store), ws.clone());
            let mut top = customer(1, "Customer", "1");
            top.is_admin_placeholder = i % 2 == 0;
            let climb = ev(
                &format!("climb-{i}"),
                CLIMBER,
                names::PAGE_VIEWED,
                micros(base(), 2 * HOUR),
            );
            async move {
                ok("upsert", store.upsert_customers(&ws, &[top]).await);
                ok("append", store.append(&ws, &[climb]).await);
            }
        })
    };
    let asked = query(day(), 3)
        .with_records()
        .with_standing_of(CustomerId(CLIMBER));
    for _ in 0..RANKINGS {
        let ranking = ok("ranking", store.ranking(&ws, &asked).await);
        let ranked: Vec<CustomerId> = ranking.scores.iter().map(|s| s.customer).collect();
        let named: Vec<CustomerId> = ranking.records.iter().map(|c| c.id).collect();
        let mut sorted = ranked.clone();
        sorted.sort_unstable();
        assert_eq!(
            named, sorted,
            "the records of exactly the ranked customers: {ranking:?}"
        );
        assert!(
            ranking.records.iter().all(|c| !c.is_admin_placeholder),
            "a placeholder's record beside its rows: {ranking:?}"
        );
        let row = ranking
            .scores
            .iter()
            .zip(1_u64..)
            .find(|(s, _)| s.customer == CustomerId(CLIMBER))
            .map(|(s, rank)| RankedScore {
                rank,
                score: s.score,
            });
        let within = ranking.standing.filter(|s| s.rank <= 3);
        assert_eq!(
            row, within,
            "the climber's row and their standing within the rows: {ranking:?}"
        );
        tokio::task::yield_now().await;
    }
    writer.stop().await;
}
