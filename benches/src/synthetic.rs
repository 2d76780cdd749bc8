//! A small synthetic data set built in memory, shaped like `gen.py`'s (skewed customers, the
//! same event-name mix, 500 paths, 5 domains, 50 referrers, per-customer home IPs), for the
//! criterion benches: no files, deterministic for a given size.

use std::net::{IpAddr, Ipv4Addr};

use engagement_core::{Customer, CustomerId, CustomerStatus, Device, Event, Timestamp};

use crate::dataset::event_id;
use crate::workloads::NOW_MICROS;

/// Event names and their shares in thousandths, as `gen.py` draws them.
const NAMES: [(&str, u64); 9] = [
    ("Page Viewed", 550),
    ("Link Opened", 200),
    ("Confirmed", 60),
    ("Verified", 40),
    ("Checkout Started", 50),
    ("Order Submitted", 20),
    ("Registered", 30),
    ("Subscribed", 20),
    ("Modal Displayed", 30),
];

const DOMAINS: [&str; 5] = [
    "www.acme.test",
    "shop.acme.test",
    "blog.acme.test",
    "docs.acme.test",
    "app.acme.test",
];

const FIRST: [&str; 8] = [
    "Anna", "Brian", "Susan", "Oliver", "Mary", "Ivan", "Lucy", "Paul",
];
const LAST: [&str; 8] = [
    "Smith", "Jones", "Garcia", "Lee", "Brown", "Morgan", "Young", "Hill",
];

/// The span the events cover: 30 days ending at [`NOW_MICROS`].
const SPAN_MICROS: u64 = 30 * 86_400_000_000;

/// A splitmix64 stream: deterministic, fast and good enough for benchmark data.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// A number in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A data set: customers and their events in time order.
#[derive(Debug, Clone)]
pub struct Synthetic {
    /// Customer records (ids `1..=customers`).
    pub customers: Vec<Customer>,
    /// Events in `(occurred_at, id)` order.
    pub events: Vec<Event>,
}

impl Synthetic {
    /// `events` events of `customers` customers.
    pub fn new(events: usize, customers: usize) -> Self {
        let mut rng = Rng(20_261_120);
        let customers = customers.max(1);
        let records = (1..=customers as i64)
            .map(|id| {
                let mut c = Customer::new(
                    CustomerId(id),
                    FIRST[rng.below(8) as usize],
                    LAST[rng.below(8) as usize],
                );
                c.code = format!("C{id:07}");
                c.email = format!("c{id}@example.com");
                if rng.below(100) >= 85 {
                    c.status = CustomerStatus::Inactive;
                }
                c.is_admin_placeholder = rng.below(200) == 0;
                c
            })
            .collect();
        let paths: Vec<String> = (0..500).map(|i| format!("/section/{i:04}")).collect();
        let referrers: Vec<String> = (0..50)
            .map(|i| {
                if i == 0 {
                    String::new()
                } else {
                    format!("https://ref{i:02}.example.org/")
                }
            })
            .collect();
        let start = NOW_MICROS as u64 - SPAN_MICROS;
        let mut times: Vec<u64> = (0..events)
            .map(|_| start + rng.below(SPAN_MICROS))
            .collect();
        times.sort_unstable();
        let events = times
            .into_iter()
            .enumerate()
            .map(|(i, at)| {
                // Skewed activity: a few customers have most events.
                let customer = 1 + (customers as f64 * rng.unit().powi(3)) as i64;
                let mut pick = rng.below(1000);
                let name = NAMES
                    .iter()
                    .find(|(_, share)| {
                        let hit = pick < *share;
                        pick = pick.saturating_sub(*share);
                        hit
                    })
                    .map_or("Page Viewed", |(n, _)| n);
                let mut e = Event::new(
                    event_id(i as u64 + 1),
                    CustomerId(customer),
                    name,
                    Timestamp::from_micros(at as i64),
                );
                let popular = (500.0 * rng.unit().powi(2)) as usize;
                e.page.path = paths[popular.min(499)].clone();
                e.page.domain = DOMAINS[rng.below(5) as usize].into();
                if rng.below(100) >= 45 {
                    e.page.referrer = referrers[1 + rng.below(49) as usize].clone();
                }
                let home =
                    0x0B00_0000 + (customer as u32).wrapping_mul(2_654_435_761) % 0xD000_0000;
                let ip = if rng.below(5) == 0 {
                    rng.next() as u32
                } else {
                    home
                };
                e.ip = Some(IpAddr::V4(Ipv4Addr::from(ip)));
                e.geo.country = ["US", "GB", "DE", "FR", "NL"][customer as usize % 5].into();
                e.device = Some(Device::ALL[rng.below(3) as usize]);
                e
            })
            .collect();
        Self {
            customers: records,
            events,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_ordered_and_skewed() {
        let a = Synthetic::new(5_000, 500);
        let b = Synthetic::new(5_000, 500);
        assert_eq!(a.events, b.events);
        assert_eq!(a.customers.len(), 500);
        assert!(a.events.is_sorted_by_key(|e| (e.occurred_at, e.id.clone())));
        let top = a
            .events
            .iter()
            .filter(|e| e.customer == CustomerId(1))
            .count();
        assert!(top > 5_000 / 500 * 5, "customer 1 has {top} events");
        let views = a.events.iter().filter(|e| e.name == "Page Viewed").count();
        assert!((2_500..3_000).contains(&views), "{views} page views");
    }
}
