//! A realistic demo workspace: customers (a few admin placeholders among them), thirty days of
//! events with a daily rhythm, milestone progressions, funnel journeys, staff actions, and a
//! launch spike in the last hour.

use std::collections::HashSet;

use chrono::TimeDelta;
use engagement_core::{
    Actor, Customer, CustomerId, CustomerStatus, Device, Event, EventFilter, EventPageQuery,
    EventStore, Limits, Result, TimeWindow, Timestamp, WorkspaceId, names,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

const FIRST: [&str; 16] = [
    "Anna",
    "Brian",
    "Chloe",
    "Daniel",
    "Emma",
    "Felix",
    "Grace",
    "Hugo",
    "Isla",
    "Jonas",
    "Kira",
    "Liam",
    "Mia",
    "Noah",
    "Olivia",
    "Sebastián",
];
const LAST: [&str; 12] = [
    "Smith", "García", "Müller", "Nguyen", "Okafor", "Rossi", "Tanaka", "Dubois", "Kowalski",
    "Silva", "Berg", "Khan",
];
const PATHS: [&str; 8] = [
    "/",
    "/pricing",
    "/blog/launch",
    "/docs/start",
    "/cart",
    "/checkout",
    "/account",
    "/products/42",
];
const DOMAINS: [&str; 3] = ["www.acme.test", "shop.acme.test", "blog.acme.test"];
const REFERRERS: [&str; 4] = [
    "",
    "https://www.google.com/",
    "https://news.ycombinator.com/",
    "https://t.co/",
];
const COUNTRIES: [&str; 6] = ["US", "DE", "GB", "BR", "IN", "JP"];

/// How much demo data to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoSize {
    /// Customers in the directory.
    pub customers: u32,
    /// Browsing events per customer per day, on average.
    pub daily_events: u32,
}

impl Default for DemoSize {
    fn default() -> Self {
        Self {
            customers: 300,
            daily_events: 3,
        }
    }
}

/// The demo customers: ids 1.., every 97th an admin placeholder, every 9th inactive.
pub fn customers(size: DemoSize) -> Vec<Customer> {
    (1..=i64::from(size.customers))
        .map(|id| {
            let i = id as usize;
            let mut c = Customer::new(
                CustomerId(id),
                FIRST[i % FIRST.len()],
                LAST[(i * 7) % LAST.len()],
            );
            c.code = format!("C{id:05}");
            c.email = format!(
                "{}.{}{id}@example.com",
                c.first_name.to_lowercase(),
                c.last_name.to_lowercase()
            );
            c.status = if id % 9 == 0 {
                CustomerStatus::Inactive
            } else {
                CustomerStatus::Active
            };
            if id % 97 == 0 {
                c.first_name = "adminplaceholder".into();
                c.is_admin_placeholder = true;
            }
            c
        })
        .collect()
}

/// Thirty days of events ending at `now`, deterministic for a given `seed`, sorted by time.
pub fn events(size: DemoSize, now: Timestamp, seed: u64) -> Vec<Event> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    let start = now
        .checked_sub(TimeDelta::days(30))
        .unwrap_or(Timestamp::EPOCH);
    for id in 1..=i64::from(size.customers) {
        // A skewed appetite: a few heavy users, a long tail.
        let appetite = (f64::from(size.daily_events) * 3.0 / (1.0 + (id as f64 / 20.0))).max(0.2);
        let sessions = (appetite * 30.0) as u32 + rng.random_range(0..3);
        for _ in 0..sessions {
            let at = session_start(&mut rng, start, now);
            session(&mut rng, &mut out, CustomerId(id), at, now);
        }
    }
    launch_spike(&mut rng, &mut out, size, now);
    out.retain(|e| e.occurred_at < now);
    out.sort_by_key(Event::key);
    for (n, e) in out.iter_mut().enumerate() {
        e.id = format!("demo-{seed}-{n:07}").into();
    }
    out
}

/// Loads the demo workspace into `store`, or tops it up (see [`load_with_progress`]).
///
/// # Errors
/// Validation or store errors.
pub async fn load(
    store: &dyn EventStore,
    workspace: &WorkspaceId,
    size: DemoSize,
    now: Timestamp,
) -> Result<u64> {
    load_with_progress(store, workspace, size, now, |_| {}).await
}

/// The seed of a load at `now`: one per microsecond, so that the events a load adds never
/// reuse the ids (`demo-{seed}-{n}`) an earlier load gave to other events, as they did when
/// two loads in one clock hour shared a seed (the second added nothing, every event a conflict).
pub fn seed_for(now: Timestamp) -> u64 {
    now.as_micros().unsigned_abs()
}

/// Progress of [`load_with_progress`], reported after the customers and after every batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadProgress {
    /// Events written so far (new or already there).
    pub done: u64,
    /// Events to write in all.
    pub total: u64,
    /// Events that were new so far.
    pub inserted: u64,
    /// Demo customers written: those the workspace had no record of.
    pub customers: u64,
}

/// Events per appended batch.
pub const BATCH: usize = 5_000;

/// Loads the demo workspace into `store` like [`load`], calling `progress` as it goes.
///
/// A reload tops the workspace up: of the thirty days ending at `now` it adds only the events
/// after the newest one the workspace holds, so the demo carries on where it left off. Counts
/// over any window stay one set's worth (a whole second set, with other ids, doubled them),
/// and nothing stored is changed or removed, events imported into the workspace included: the
/// demo customers fill only the ids the workspace has no record of.
///
/// # Errors
/// Validation or store errors.
pub async fn load_with_progress(
    store: &dyn EventStore,
    workspace: &WorkspaceId,
    size: DemoSize,
    now: Timestamp,
    mut progress: impl FnMut(LoadProgress),
) -> Result<u64> {
    // An event stored after `now` (within the clock skew events may have, or from before the
    // clock was set back) must not keep the demo from loading up to `now`.
    let newest = newest_event_before(store, workspace, now).await?;
    // The demo directory fills only the ids the workspace has no record of: a stored customer
    // (renamed, or imported by the host) stays as it is.
    let directory = customers(size);
    let ids: Vec<CustomerId> = directory.iter().map(|c| c.id).collect();
    let stored: HashSet<CustomerId> = store
        .customers(workspace, &ids)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let missing: Vec<Customer> = directory
        .into_iter()
        .filter(|c| !stored.contains(&c.id))
        .collect();
    if !missing.is_empty() {
        store.upsert_customers(workspace, &missing).await?;
    }
    let mut events = events(size, now, seed_for(now));
    if let Some(newest) = newest {
        events.retain(|e| e.occurred_at > newest);
    }
    let mut state = LoadProgress {
        done: 0,
        total: events.len() as u64,
        inserted: 0,
        customers: missing.len() as u64,
    };
    progress(state);
    let limits = Limits::default();
    for chunk in events.chunks(BATCH) {
        limits.validate_batch(chunk, now)?;
        state.inserted += store.append(workspace, chunk).await?.inserted;
        state.done += chunk.len() as u64;
        progress(state);
    }
    Ok(state.inserted)
}

/// When the newest event of `workspace` before `now` occurred, if it has one.
async fn newest_event_before(
    store: &dyn EventStore,
    workspace: &WorkspaceId,
    now: Timestamp,
) -> Result<Option<Timestamp>> {
    let query = EventPageQuery {
        filter: EventFilter::new(TimeWindow::new(Timestamp::EPOCH, now)?),
        after: None,
        limit: 1,
    };
    let page = store.event_page(workspace, &query).await?;
    Ok(page.events.first().map(|e| e.occurred_at))
}

/// Whether the workspace has any event in the hour before `now` (else the demo loads data).
///
/// # Errors
/// Store errors.
pub async fn is_fresh(
    store: &dyn EventStore,
    workspace: &WorkspaceId,
    now: Timestamp,
) -> Result<bool> {
    let hour_ago = now
        .checked_sub(TimeDelta::hours(1))
        .unwrap_or(Timestamp::EPOCH);
    let newest = newest_event_before(store, workspace, now).await?;
    Ok(newest.is_some_and(|at| at >= hour_ago))
}

/// A start time with a daily rhythm (busier 9:00–21:00 UTC).
fn session_start(rng: &mut StdRng, start: Timestamp, now: Timestamp) -> Timestamp {
    let span = now.since(start).num_microseconds().unwrap_or(0).max(1);
    loop {
        let at = Timestamp::from_micros(start.as_micros() + rng.random_range(0..span));
        let hour = (at.as_micros() / 3_600_000_000).rem_euclid(24);
        if (9..21).contains(&hour) || rng.random_bool(0.3) {
            return at;
        }
    }
}

/// One visit: page views, sometimes the order-portal milestones, sometimes a funnel journey.
fn session(
    rng: &mut StdRng,
    out: &mut Vec<Event>,
    customer: CustomerId,
    mut at: Timestamp,
    now: Timestamp,
) {
    let device = [Device::Desktop, Device::Mobile, Device::Tablet][rng.random_range(0..3)];
    let country = COUNTRIES[customer.0 as usize % COUNTRIES.len()];
    let mut push = |rng: &mut StdRng, at: Timestamp, name: &str| {
        let mut e = Event::new("", customer, name, at);
        let domain = DOMAINS[rng.random_range(0..DOMAINS.len())];
        let path = PATHS[rng.random_range(0..PATHS.len())];
        e.page.domain = domain.into();
        e.page.path = path.into();
        e.page.url = format!("https://{domain}{path}");
        e.page.referrer = REFERRERS[rng.random_range(0..REFERRERS.len())].into();
        e.geo.country = country.into();
        e.device = Some(device);
        e.ip = Some(std::net::IpAddr::from([
            203,
            0,
            113,
            (customer.0 % 250) as u8,
        ]));
        if name == names::MODAL_DISPLAYED {
            e.metadata
                .insert(names::MODAL_NAME_KEY.into(), json!("newsletter"));
        }
        out.push(e);
    };
    let step = |rng: &mut StdRng, at: Timestamp| {
        at.checked_add(TimeDelta::seconds(rng.random_range(5..600)))
            .unwrap_or(now)
    };
    for _ in 0..rng.random_range(1..6) {
        push(rng, at, names::PAGE_VIEWED);
        at = step(rng, at);
    }
    if rng.random_bool(0.4) {
        for name in [
            names::LINK_OPENED,
            names::CONFIRMED,
            names::VERIFIED,
            names::CHECKOUT_STARTED,
            names::ORDER_SUBMITTED,
        ] {
            push(rng, at, name);
            at = step(rng, at);
            if rng.random_bool(0.35) {
                break;
            }
        }
    }
    if rng.random_bool(0.08) {
        push(rng, at, names::MODAL_DISPLAYED);
        at = step(rng, at);
        push(rng, at, names::REGISTERED);
        if rng.random_bool(0.4) {
            let later = at
                .checked_add(TimeDelta::hours(rng.random_range(1..200)))
                .unwrap_or(now);
            push(rng, later, names::SUBSCRIBED);
        }
    }
    if rng.random_bool(0.05) {
        let mut e = Event::new("", customer, "Account Updated", at);
        e.actor = Actor::Staff;
        e.metadata
            .insert("note".into(), json!("address corrected by support"));
        out.push(e);
    }
}

/// A launch in the last hour: a burst from a handful of customers, one of them automated.
fn launch_spike(rng: &mut StdRng, out: &mut Vec<Event>, size: DemoSize, now: Timestamp) {
    let hour_ago = now.checked_sub(TimeDelta::hours(1)).unwrap_or(now);
    for n in 0..12 {
        let customer = CustomerId(i64::from(rng.random_range(1..=size.customers.max(1))));
        let bursts = if n == 0 {
            1_200
        } else {
            rng.random_range(10..80)
        };
        for _ in 0..bursts {
            let at =
                Timestamp::from_micros(hour_ago.as_micros() + rng.random_range(0..3_600_000_000));
            let mut e = Event::new("", customer, names::PAGE_VIEWED, at);
            e.page.domain = "shop.acme.test".into();
            e.page.path = "/launch".into();
            out.push(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_data_is_deterministic_valid_and_sorted() {
        let now: Timestamp = "2026-11-20T12:00:00Z".parse().unwrap();
        let size = DemoSize {
            customers: 40,
            daily_events: 2,
        };
        let a = events(size, now, 7);
        assert_eq!(a, events(size, now, 7));
        assert!(a.windows(2).all(|w| w[0].key() < w[1].key()));
        assert!(Limits::default().validate_batch(&a, now).is_ok());
        assert!(a.iter().any(|e| e.actor == Actor::Staff));
        assert!(a.iter().any(|e| e.name == names::SUBSCRIBED));
        assert!(
            customers(size)
                .iter()
                .all(|c| c.is_admin_placeholder == (c.id.0 % 97 == 0))
        );
    }

    /// How many events `workspace` of `store` holds from the epoch to `until`.
    async fn events_until(
        store: &dyn EventStore,
        workspace: &WorkspaceId,
        until: Timestamp,
    ) -> u64 {
        let query = EventPageQuery {
            filter: EventFilter::new(TimeWindow::new(Timestamp::EPOCH, until).unwrap()),
            after: None,
            limit: 1,
        };
        store.event_page(workspace, &query).await.unwrap().total
    }

    /// A load into a workspace with records of its own fills only the ids it has no record of:
    /// the host's customer keeps its name, email and flags.
    #[tokio::test]
    async fn a_load_leaves_the_stored_customers_as_they_were() {
        let store = engagement_memory::MemoryStore::new();
        let ws = WorkspaceId::new("acme").unwrap();
        let mut mine = Customer::new(CustomerId(97), "Real", "Customer");
        mine.email = "real@host.example".into();
        store.upsert_customers(&ws, &[mine.clone()]).await.unwrap();
        let now: Timestamp = "2026-11-20T12:00:00Z".parse().unwrap();
        let size = DemoSize {
            customers: 100,
            daily_events: 1,
        };
        load(&store, &ws, size, now).await.unwrap();
        let ids = [CustomerId(97), CustomerId(98)];
        let after = store.customers(&ws, &ids).await.unwrap();
        assert_eq!(after[0], mine, "the stored customer was changed");
        assert_eq!(after[1], customers(size)[97], "a missing one is filled");
    }

    /// A reload keeps every event of the first load and adds only the later set's events
    /// after the newest one stored, two and a half hours later or in the same clock hour.
    /// (It added a whole second set, with other ids: views over 30 days doubled; and then, in
    /// the same hour, nothing, the ids taken.)
    #[tokio::test]
    async fn a_reload_tops_the_demo_up_after_its_newest_event() {
        for later in ["2026-11-20T14:30:00Z", "2026-11-20T12:50:00Z"] {
            tops_up_after_the_newest_event(later.parse().unwrap()).await;
        }
    }

    /// A small demo, the workspace it goes to, and an empty store for it.
    fn small_demo() -> (DemoSize, WorkspaceId, engagement_memory::MemoryStore) {
        let size = DemoSize {
            customers: 40,
            daily_events: 2,
        };
        let ws = WorkspaceId::new("demo").unwrap();
        (size, ws, engagement_memory::MemoryStore::new())
    }

    async fn tops_up_after_the_newest_event(later: Timestamp) {
        let (size, ws, store) = small_demo();
        let first: Timestamp = "2026-11-20T12:00:00Z".parse().unwrap();
        let loaded = load(&store, &ws, size, first).await.unwrap();
        let newest = newest_event_before(&store, &ws, first)
            .await
            .unwrap()
            .unwrap();
        let added = load(&store, &ws, size, later).await.unwrap();
        let after_newest = events(size, later, seed_for(later))
            .into_iter()
            .filter(|e| e.occurred_at > newest)
            .count() as u64;
        assert!(
            after_newest > 0,
            "the later set has events after the first's"
        );
        assert_eq!(added, after_newest);
        let through_newest = Timestamp::from_micros(newest.as_micros() + 1);
        assert_eq!(
            events_until(&store, &ws, through_newest).await,
            loaded,
            "the first load is kept"
        );
        assert_eq!(events_until(&store, &ws, later).await, loaded + added);
    }

    /// An event stored after `now` (a clock set back) does not keep the demo from loading up
    /// to `now`: it added nothing before, and as nothing came from the last hour, every start
    /// tried again.
    #[tokio::test]
    async fn an_event_after_now_does_not_stop_the_top_up() {
        let (size, ws, store) = small_demo();
        let now: Timestamp = "2026-11-20T12:00:00Z".parse().unwrap();
        let ahead = Event::new(
            "ahead",
            CustomerId(1),
            names::PAGE_VIEWED,
            now.checked_add(TimeDelta::minutes(10)).unwrap(),
        );
        store.append(&ws, &[ahead]).await.unwrap();
        let loaded = load(&store, &ws, size, now).await.unwrap();
        assert_eq!(loaded, events(size, now, seed_for(now)).len() as u64);
        assert!(is_fresh(&store, &ws, now).await.unwrap());
    }
}
