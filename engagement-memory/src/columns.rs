//! [`Columns`]: one workspace's events, time-ordered, one vector per field.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::ops::Range;

use engagement_core::{Actor, Device};

use crate::arena::StrArena;
use crate::grow;
use crate::ids::IdColumn;

/// One event in encoded form, as it moves in and out of the columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row<'a> {
    /// `occurred_at` in microseconds.
    pub(crate) at: i64,
    /// `received_at` in microseconds.
    pub(crate) received: i64,
    /// Dense customer index.
    pub(crate) customer: u32,
    /// Interned event name.
    pub(crate) name: u32,
    /// Actor, device and IP kind (see [`Flags`]).
    pub(crate) flags: Flags,
    /// Interned (url, path, domain, referrer).
    pub(crate) page: u32,
    /// Interned (country, region, city, zone).
    pub(crate) geo: u32,
    /// An IPv4 address, or the number of an interned IPv6 address (see [`Flags::ip_kind`]).
    pub(crate) ip: u32,
    /// Interned compact metadata JSON.
    pub(crate) meta: u32,
    /// The event id (borrowed from an incoming event, owned when moved out of the columns).
    pub(crate) id: Cow<'a, str>,
    /// The event's number in the id index (see [`IdColumn`]).
    pub(crate) number: u32,
}

impl Row<'_> {
    /// The log order: (occurred_at, id byte-wise).
    pub(crate) fn key_cmp(&self, other: &Self) -> Ordering {
        self.at
            .cmp(&other.at)
            .then_with(|| self.id.as_bytes().cmp(other.id.as_bytes()))
    }
}

/// What kind of IP an event carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IpKind {
    /// No IP.
    None,
    /// An IPv4 address stored inline.
    V4,
    /// An IPv6 address stored by its interned number.
    V6,
}

/// Actor (2 bits), device (2 bits, 0 = unknown) and IP kind (2 bits) in one byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flags(pub(crate) u8);

impl Flags {
    /// Packs the three small fields.
    pub(crate) fn new(actor: Actor, device: Option<Device>, ip: IpKind) -> Self {
        let device = device.map_or(0, |d| d as u8 + 1);
        let ip = match ip {
            IpKind::None => 0,
            IpKind::V4 => 1,
            IpKind::V6 => 2,
        };
        Self(actor.code() | (device << 2) | (ip << 4))
    }

    /// The actor's code (0 customer, 1 staff, 2 system).
    pub(crate) fn actor_code(self) -> u8 {
        self.0 & 3
    }

    /// Whether the customer acted.
    pub(crate) fn by_customer(self) -> bool {
        self.actor_code() == Actor::Customer.code()
    }

    /// The actor.
    pub(crate) fn actor(self) -> Actor {
        Actor::from_code(self.actor_code()).unwrap_or(Actor::System)
    }

    /// The device.
    pub(crate) fn device(self) -> Option<Device> {
        Device::ALL
            .get(usize::from((self.0 >> 2) & 3).checked_sub(1)?)
            .copied()
    }

    /// The IP kind.
    pub(crate) fn ip_kind(self) -> IpKind {
        match (self.0 >> 4) & 3 {
            1 => IpKind::V4,
            2 => IpKind::V6,
            _ => IpKind::None,
        }
    }
}

/// A workspace's events in `(occurred_at, id)` order, column by column.
#[derive(Debug, Default)]
pub(crate) struct Columns {
    pub(crate) at: Vec<i64>,
    pub(crate) received: Vec<i64>,
    pub(crate) customer: Vec<u32>,
    pub(crate) name: Vec<u32>,
    pub(crate) flags: Vec<u8>,
    pub(crate) page: Vec<u32>,
    pub(crate) geo: Vec<u32>,
    pub(crate) ip: Vec<u32>,
    pub(crate) meta: Vec<u32>,
    pub(crate) ids: IdColumn,
}

/// Applies the same statement to every plain column (`mut self` to change them).
macro_rules! each_column {
    (mut $self:ident, $c:ident => $body:expr) => {
        each_column!(@[mut] $self, $c => $body)
    };
    ($self:ident, $c:ident => $body:expr) => {
        each_column!(@[] $self, $c => $body)
    };
    (@[$($m:tt)?] $self:ident, $c:ident => $body:expr) => {{
        { let $c = &$($m)? $self.at; $body; }
        { let $c = &$($m)? $self.received; $body; }
        { let $c = &$($m)? $self.customer; $body; }
        { let $c = &$($m)? $self.name; $body; }
        { let $c = &$($m)? $self.flags; $body; }
        { let $c = &$($m)? $self.page; $body; }
        { let $c = &$($m)? $self.geo; $body; }
        { let $c = &$($m)? $self.ip; $body; }
        { let $c = &$($m)? $self.meta; $body; }
    }};
}

impl Columns {
    /// How many events are stored.
    pub(crate) fn len(&self) -> usize {
        self.at.len()
    }

    /// The flags of the event at `pos`.
    pub(crate) fn flags(&self, pos: usize) -> Flags {
        Flags(self.flags[pos])
    }

    /// Reserves room for `additional` more events.
    pub(crate) fn reserve(&mut self, additional: usize) {
        each_column!(mut self, c => grow::reserve(c, additional));
        self.ids.reserve(additional);
    }

    /// Appends a row at the end (its id claimed before, or moved).
    pub(crate) fn push(&mut self, row: &Row<'_>) {
        self.at.push(row.at);
        self.received.push(row.received);
        self.customer.push(row.customer);
        self.name.push(row.name);
        self.flags.push(row.flags.0);
        self.page.push(row.page);
        self.geo.push(row.geo);
        self.ip.push(row.ip);
        self.meta.push(row.meta);
        self.ids.push(&row.id, row.number);
    }

    /// Removes the events at `from..` and returns them as rows, in order; their ids go to
    /// `ids` (replacing what it held), which the rows borrow. Their id index entries stay, for
    /// the rows to be pushed again.
    pub(crate) fn split_off<'a>(&mut self, from: usize, ids: &'a mut StrArena) -> Vec<Row<'a>> {
        let numbers;
        (*ids, numbers) = self.ids.take_from(from);
        let ids: &'a StrArena = ids;
        let rows = (0..ids.len())
            .map(|i| {
                let p = from + i;
                Row {
                    at: self.at[p],
                    received: self.received[p],
                    customer: self.customer[p],
                    name: self.name[p],
                    flags: Flags(self.flags[p]),
                    page: self.page[p],
                    geo: self.geo[p],
                    ip: self.ip[p],
                    meta: self.meta[p],
                    id: Cow::Borrowed(ids.get(i)),
                    number: numbers[i],
                }
            })
            .collect();
        each_column!(mut self, c => c.truncate(from));
        rows
    }

    /// Keeps the events whose position passes `keep`, in order.
    pub(crate) fn retain(&mut self, keep: &dyn Fn(usize) -> bool) {
        each_column!(mut self, c => {
            let mut pos = 0;
            c.retain(|_| {
                pos += 1;
                keep(pos - 1)
            });
            grow::shrink_after_removal(c);
        });
        self.ids.retain(keep);
    }

    /// How the event at `pos` orders against the key `(at, id)`.
    pub(crate) fn cmp_key(&self, pos: usize, at: i64, id: &str) -> Ordering {
        self.at[pos]
            .cmp(&at)
            .then_with(|| self.ids.get(pos).as_bytes().cmp(id.as_bytes()))
    }

    /// The first position whose key is not less than `(at, id)`.
    pub(crate) fn lower_bound(&self, at: i64, id: &str) -> usize {
        partition_point(0..self.len(), |p| self.cmp_key(p, at, id).is_lt())
    }

    /// The positions of events with `from <= occurred_at < to`.
    pub(crate) fn time_range(&self, from: i64, to: i64) -> Range<usize> {
        let start = self.at.partition_point(|&t| t < from);
        let end = self.at.partition_point(|&t| t < to).max(start);
        start..end
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        let mut total = 0;
        each_column!(self, c => total += grow::heap_bytes(c));
        total + self.ids.heap_bytes()
    }
}

/// The first index in `range` for which `less` is false (`less` must be true on a prefix).
pub(crate) fn partition_point(range: Range<usize>, mut less: impl FnMut(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (range.start, range.end);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if less(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row whose customer number is also its event number.
    fn row(at: i64, id: &str, customer: u32) -> Row<'static> {
        Row {
            at,
            received: at + 1,
            customer,
            name: 0,
            flags: Flags::new(Actor::Staff, Some(Device::Tablet), IpKind::V4),
            page: 1,
            geo: 2,
            ip: 3,
            meta: 4,
            id: Cow::Owned(id.into()),
            number: customer,
        }
    }

    #[test]
    fn flags_round_trip() {
        for actor in Actor::ALL {
            for device in [
                None,
                Some(Device::Desktop),
                Some(Device::Mobile),
                Some(Device::Tablet),
            ] {
                for ip in [IpKind::None, IpKind::V4, IpKind::V6] {
                    let f = Flags::new(actor, device, ip);
                    assert_eq!((f.actor(), f.device(), f.ip_kind()), (actor, device, ip));
                    assert_eq!(f.by_customer(), actor == Actor::Customer);
                }
            }
        }
    }

    #[test]
    fn keys_search_and_rows_move() {
        let mut c = Columns::default();
        let rows = [
            row(1, "b", 0),
            row(2, "a", 1),
            row(2, "c", 2),
            row(5, "d", 3),
        ];
        c.reserve(rows.len());
        for r in &rows {
            assert_eq!(
                c.ids.claim(&r.id, c.ids.hash(&r.id), r.number, |_| ""),
                None
            );
            c.push(r);
        }
        assert_eq!(c.lower_bound(2, "b"), 2);
        assert_eq!(c.lower_bound(2, "a"), 1);
        assert_eq!(c.lower_bound(0, "z"), 0);
        assert_eq!(c.lower_bound(9, ""), 4);
        assert_eq!(c.time_range(2, 5), 1..3);
        assert_eq!(c.time_range(6, 1), 4..4);
        let mut tail_ids = StrArena::default();
        let tail = c.split_off(2, &mut tail_ids);
        assert_eq!(tail, rows[2..]);
        assert_eq!(c.len(), 2);
        // Pushed back in the other order: each id is found where it lands, under its number.
        for r in tail.iter().rev() {
            c.push(r);
        }
        assert_eq!((c.ids.find("c"), c.ids.find("d")), (Some(3), Some(2)));
        c.retain(&|p| p == 1);
        assert_eq!(c.len(), 1);
        assert_eq!(c.ids.find("a"), Some(0));
        assert_eq!(c.customer, [1]);
        assert!(c.heap_bytes() > 0);
    }
}
