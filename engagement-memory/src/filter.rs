//! [`Compiled`]: an [`EventFilter`] resolved against a workspace's dictionaries, and the two
//! ways of finding its events (scanning the window, or walking the named customers' postings).

use std::net::IpAddr;
use std::ops::Range;

use engagement_core::EventFilter;

use crate::columns::IpKind;
use crate::dict::{DOMAIN, PATH, REFERRER};
use crate::parallel::scan_parts;
use crate::workspace::Workspace;

/// Events a count marks at a time (the marks stay in the first-level cache).
const BLOCK: usize = 4096;

/// An event filter in terms of interned numbers. Values the workspace has never seen match
/// nothing, exactly as [`EventFilter::matches`] would find no event equal to them.
#[derive(Debug)]
pub(crate) struct Compiled {
    /// Positions of the window.
    pub(crate) range: Range<usize>,
    /// Matches no event at all.
    nothing: bool,
    /// Accepted names, by name number (`None`: any).
    names: Option<Vec<bool>>,
    /// The named customers that exist, ascending dense numbers (`None`: any).
    customers: Option<Vec<u32>>,
    /// Accepted actor codes as bits.
    actors: u8,
    /// The IP, as stored.
    ip: Option<(IpKind, u32)>,
    /// Wanted text numbers by page-tuple slot.
    page: Vec<(usize, u32)>,
    /// The page tuples that pass `page`, one bit each, when the window is long enough to
    /// repay checking every tuple once (a bit test per event instead of a tuple lookup).
    page_set: Option<Vec<u64>>,
}

impl Compiled {
    /// Resolves `filter` against `ws`.
    pub(crate) fn new(ws: &Workspace, filter: &EventFilter) -> Self {
        let mut nothing = false;
        let names = filter.names.as_ref().map(|wanted| {
            let mut set = vec![false; ws.dict.names.len()];
            for name in wanted {
                if let Some(i) = ws.dict.names.lookup(name) {
                    set[i as usize] = true;
                }
            }
            nothing |= !set.contains(&true);
            set
        });
        let customers = filter.customers.as_ref().map(|ids| {
            let mut dense: Vec<u32> = ids.iter().filter_map(|&c| ws.dir.dense(c)).collect();
            dense.sort_unstable();
            dense.dedup();
            nothing |= dense.is_empty();
            dense
        });
        let actors = filter.actors.as_ref().map_or(0b111, |actors| {
            actors.iter().fold(0, |bits, a| bits | 1 << a.code())
        });
        nothing |= actors == 0;
        let ip = filter.ip.map(|ip| match ip {
            IpAddr::V4(v4) => Some((IpKind::V4, u32::from(v4))),
            IpAddr::V6(v6) => ws.dict.ipv6.lookup(&v6.octets()).map(|i| (IpKind::V6, i)),
        });
        nothing |= ip == Some(None);
        let mut page = Vec::new();
        for (slot, wanted) in [
            (PATH, &filter.path),
            (DOMAIN, &filter.domain),
            (REFERRER, &filter.referrer),
        ] {
            if let Some(text) = wanted {
                match ws.dict.text.lookup(text) {
                    Some(i) => page.push((slot, i)),
                    None => nothing = true,
                }
            }
        }
        let range = if nothing {
            0..0
        } else {
            ws.window(filter.window)
        };
        let tuples = ws.dict.pages.len();
        let page_set = (!page.is_empty() && range.len() >= tuples / 4).then(|| {
            let mut set = vec![0u64; tuples.div_ceil(64)];
            for t in 0..tuples {
                let tuple = ws.dict.pages.get(t as u32);
                if page.iter().all(|&(slot, want)| tuple[slot] == want) {
                    set[t / 64] |= 1 << (t % 64);
                }
            }
            set
        });
        Self {
            range,
            nothing,
            names,
            customers,
            actors,
            ip: ip.flatten(),
            page,
            page_set,
        }
    }

    /// Whether the event at `pos` passes every part but the customer list.
    ///
    /// Every part present is tested, without stopping at the first that fails: on a long
    /// scan, a few table lookups cost less than the mispredicted branches of stopping early.
    fn passes(&self, ws: &Workspace, pos: usize) -> bool {
        let cols = &ws.cols;
        let flags = cols.flags(pos);
        let mut ok = self.actors & (1 << flags.actor_code()) != 0;
        if let Some(names) = &self.names {
            ok &= names.get(cols.name[pos] as usize).copied().unwrap_or(false);
        }
        if let Some(set) = &self.page_set {
            let t = cols.page[pos] as usize;
            ok &= set
                .get(t / 64)
                .is_some_and(|bits| bits & (1 << (t % 64)) != 0);
        } else if !self.page.is_empty() {
            let tuple = ws.dict.page_of(cols, pos);
            ok &= self.page.iter().all(|&(slot, want)| tuple[slot] == want);
        }
        if let Some((kind, raw)) = self.ip {
            ok &= flags.ip_kind() == kind && cols.ip[pos] == raw;
        }
        ok
    }

    /// Whether to walk postings rather than scan `span`.
    fn via_postings(&self, ws: &Workspace, span: &Range<usize>) -> Option<&[u32]> {
        let customers = self.customers.as_deref()?;
        let mut candidates = 0;
        for &d in customers {
            candidates += ws.postings_in(d, span).len();
            if candidates >= span.len() {
                return None;
            }
        }
        Some(customers)
    }

    /// A membership table of the named customers, for scanning.
    fn customer_set(&self, ws: &Workspace) -> Option<Vec<bool>> {
        self.customers.as_ref().map(|list| {
            let mut set = vec![false; ws.dir.len()];
            for &d in list {
                set[d as usize] = true;
            }
            set
        })
    }

    /// How many events in `span` match.
    pub(crate) fn count(&self, ws: &Workspace, span: Range<usize>) -> u64 {
        if self.nothing || span.is_empty() {
            return 0;
        }
        if let Some(customers) = self.via_postings(ws, &span) {
            return customers
                .iter()
                .flat_map(|&d| ws.postings_in(d, &span))
                .filter(|&&p| self.passes(ws, p as usize))
                .count() as u64;
        }
        let set = self.customer_set(ws);
        let set = set.as_deref();
        scan_parts(span, |part| {
            let mut count = 0;
            let mut mask = [0u8; BLOCK];
            for start in part.clone().step_by(BLOCK) {
                let block = start..(start + BLOCK).min(part.end);
                let mask = &mut mask[..block.len()];
                self.mark_block(ws, set, block, mask);
                count += mask.iter().map(|&m| u64::from(m)).sum::<u64>();
            }
            count
        })
        .into_iter()
        .sum()
    }

    /// Sets `mask[i]` to 1 when the event at `block.start + i` matches, else 0: one tight loop
    /// per part of the filter over its column (the same test as [`passes`](Self::passes) and
    /// the customer set, without a call or a branch per event).
    fn mark_block(
        &self,
        ws: &Workspace,
        customers: Option<&[bool]>,
        block: Range<usize>,
        mask: &mut [u8],
    ) {
        let cols = &ws.cols;
        for (m, &f) in mask.iter_mut().zip(&cols.flags[block.clone()]) {
            *m = (self.actors >> (f & 3)) & 1;
        }
        if let Some(names) = &self.names {
            for (m, &n) in mask.iter_mut().zip(&cols.name[block.clone()]) {
                *m &= u8::from(names.get(n as usize).copied().unwrap_or(false));
            }
        }
        if let Some(set) = &self.page_set {
            for (m, &t) in mask.iter_mut().zip(&cols.page[block.clone()]) {
                let t = t as usize;
                let bits = set.get(t / 64).copied().unwrap_or(0);
                *m &= ((bits >> (t % 64)) & 1) as u8;
            }
        } else if !self.page.is_empty() {
            for (m, p) in mask.iter_mut().zip(block.clone()) {
                let tuple = ws.dict.page_of(cols, p);
                *m &= u8::from(self.page.iter().all(|&(slot, want)| tuple[slot] == want));
            }
        }
        if let Some((kind, raw)) = self.ip {
            for (m, p) in mask.iter_mut().zip(block.clone()) {
                *m &= u8::from(cols.flags(p).ip_kind() == kind && cols.ip[p] == raw);
            }
        }
        if let Some(set) = customers {
            for (m, &c) in mask.iter_mut().zip(&cols.customer[block]) {
                *m &= u8::from(set.get(c as usize).copied().unwrap_or(false));
            }
        }
    }

    fn scan_match(&self, ws: &Workspace, set: Option<&[bool]>, pos: usize) -> bool {
        set.is_none_or(|s| s[ws.cols.customer[pos] as usize]) & self.passes(ws, pos)
    }

    /// The first `limit` matching positions of `span`, newest first or oldest first.
    pub(crate) fn positions(
        &self,
        ws: &Workspace,
        span: Range<usize>,
        limit: usize,
        newest_first: bool,
    ) -> Vec<usize> {
        if self.nothing || span.is_empty() || limit == 0 {
            return Vec::new();
        }
        if let Some(customers) = self.via_postings(ws, &span) {
            let mut found = Vec::new();
            for &d in customers {
                let list = ws.postings_in(d, &span).iter().map(|&p| p as usize);
                let matching = |p: &usize| self.passes(ws, *p);
                if newest_first {
                    found.extend(list.rev().filter(matching).take(limit));
                } else {
                    found.extend(list.filter(matching).take(limit));
                }
            }
            found.sort_unstable();
            if newest_first {
                found.reverse();
            }
            found.truncate(limit);
            return found;
        }
        let set = self.customer_set(ws);
        let matching = |p: &usize| self.scan_match(ws, set.as_deref(), *p);
        if newest_first {
            span.rev().filter(matching).take(limit).collect()
        } else {
            span.filter(matching).take(limit).collect()
        }
    }
}
