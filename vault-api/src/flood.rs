//! Flood resistance. Failed authentications are rate-limited per source address (429
//! with `Retry-After` once a source has failed too often), and refused anonymous
//! requests are counted and summarised: one audit record per source and interval with
//! a count per route template, never one chained record (or the raw path) each. A
//! request with a valid token never consults the limiter, so an attacker behind the
//! orchestrator's NAT cannot lock it out.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use serde::Serialize;

/// The longest path an audit record keeps; the rest is counted, not kept.
pub const MAX_RECORDED_PATH: usize = 256;

/// Sources summarised one by one per interval; the rest are folded into one line.
pub const MAX_SUMMARISED_SOURCES: usize = 1024;

/// The default: a source may fail this many times at once, then once per
/// `60 / n` seconds.
pub const DEFAULT_AUTH_FAILURES_PER_MINUTE: NonZeroU32 = match NonZeroU32::new(60) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};

pub const DEFAULT_SUMMARY_INTERVAL: Duration = Duration::from_secs(60);

/// Where a request came from, as the limiter and the summaries count it: an IPv4
/// address, or an IPv6 /64 (one host's usual allocation, so rotating through it buys
/// an attacker nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source(IpAddr);

impl Source {
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Source(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    Source(IpAddr::V6(prefix.into()))
                }
            },
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// `path`, or its first `MAX_RECORDED_PATH` bytes (at a character boundary) and how
/// many were left out.
pub fn bounded_path(path: &str) -> String {
    if path.len() <= MAX_RECORDED_PATH {
        return path.to_owned();
    }
    let mut end = MAX_RECORDED_PATH;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…(+{} bytes)", &path[..end], path.len() - end)
}

/// A budget per key, spent one unit per event and refilled at a steady rate: failed
/// authentications per source (`FailureLimiter`), value comparisons per principal
/// (`ComparisonBudget`).
pub struct KeyedBudget<K: std::hash::Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    clock: DefaultClock,
}

/// Failed authentications per source address.
pub type FailureLimiter = KeyedBudget<Source>;

/// Value comparisons per principal (a user, or a token of any other kind): each one
/// tests a guess, so a run of them is an attack on the value, slowed to this rate.
pub type ComparisonBudget = KeyedBudget<String>;

/// The default: a principal may compare this many values at once, then one per
/// `60 / n` seconds. An import of a few hundred names waits a little; a guesser gets
/// two guesses a second, each one audited.
pub const DEFAULT_COMPARISONS_PER_MINUTE: NonZeroU32 = match NonZeroU32::new(120) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};

impl<K: std::hash::Hash + Eq + Clone> KeyedBudget<K> {
    pub fn per_minute(events: NonZeroU32) -> Self {
        KeyedBudget {
            limiter: DefaultKeyedRateLimiter::hashmap(Quota::per_minute(events)),
            clock: DefaultClock::default(),
        }
    }

    /// Spends one unit of `key`'s budget: `Ok` while it is within it, else the whole
    /// seconds until it may spend again.
    pub fn spend(&self, key: &K) -> Result<(), u64> {
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            // Rounded up: a client that waits exactly this long is let through.
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Forgets keys whose budget is whole again, so memory follows live callers.
    pub fn forget_recovered(&self) {
        self.limiter.retain_recent();
    }

    pub fn tracked(&self) -> usize {
        self.limiter.len()
    }
}

#[derive(Default)]
struct SourceTally {
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    by_route: BTreeMap<(String, &'static str), u64>,
}

/// Refused anonymous requests since the last summary.
#[derive(Default)]
pub struct RefusalTally {
    sources: Mutex<HashMap<Option<Source>, SourceTally>>,
}

/// One source's refusals over an interval, as the audit record's target holds them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RefusalSummary {
    /// The address (or /64), `unknown` when the connection named none, `other` for
    /// the sources past `MAX_SUMMARISED_SOURCES`.
    pub source: String,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub refused: u64,
    pub routes: Vec<RouteCount>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RouteCount {
    /// The route template (`/v1/secrets/{id}`), never the path asked for.
    pub route: String,
    pub outcome: &'static str,
    pub count: u64,
}

impl RefusalTally {
    /// Counts one refusal of `route` (a template) from `source` at `at`.
    pub fn note(
        &self,
        source: Option<Source>,
        route: &str,
        outcome: &'static str,
        at: DateTime<Utc>,
    ) {
        let Ok(mut sources) = self.sources.lock() else {
            return;
        };
        // Past the cap, new sources share one tally: memory stays bounded whatever the
        // number of addresses an attacker has.
        let key = if sources.contains_key(&source) || sources.len() < MAX_SUMMARISED_SOURCES {
            source
        } else {
            None
        };
        let tally = sources.entry(key).or_default();
        tally.first.get_or_insert(at);
        tally.last = Some(at);
        *tally
            .by_route
            .entry((route.to_owned(), outcome))
            .or_default() += 1;
    }

    /// Every source's summary since the last call, busiest first, and a fresh start.
    pub fn take(&self) -> Vec<RefusalSummary> {
        let taken = match self.sources.lock() {
            Ok(mut sources) => std::mem::take(&mut *sources),
            Err(_) => return Vec::new(),
        };
        let full = taken.len() >= MAX_SUMMARISED_SOURCES;
        let mut summaries: Vec<RefusalSummary> = taken
            .into_iter()
            .filter_map(|(source, tally)| {
                let (from, until) = (tally.first?, tally.last?);
                let routes: Vec<RouteCount> = tally
                    .by_route
                    .into_iter()
                    .map(|((route, outcome), count)| RouteCount {
                        route,
                        outcome,
                        count,
                    })
                    .collect();
                Some(RefusalSummary {
                    source: match source {
                        Some(source) => source.to_string(),
                        None if full => "other".into(),
                        None => "unknown".into(),
                    },
                    from,
                    until,
                    refused: routes.iter().map(|r| r.count).sum(),
                    routes,
                })
            })
            .collect();
        summaries.sort_by(|a, b| b.refused.cmp(&a.refused).then(a.source.cmp(&b.source)));
        summaries
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    #[test]
    fn ipv6_sources_are_counted_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a: Ipv6Addr = "2001:db8:1:2:aaaa::1".parse().expect("v6");
        let b: Ipv6Addr = "2001:db8:1:2:ffff::9".parse().expect("v6");
        let c: Ipv6Addr = "2001:db8:1:3::1".parse().expect("v6");
        assert_eq!(Source::of(a.into()), Source::of(b.into()));
        assert_ne!(Source::of(a.into()), Source::of(c.into()));
        assert_eq!(Source::of(a.into()).to_string(), "2001:db8:1:2::/64");
        let mapped = Ipv4Addr::new(10, 1, 2, 3).to_ipv6_mapped();
        assert_eq!(Source::of(mapped.into()).to_string(), "10.1.2.3");
    }

    #[test]
    fn paths_are_kept_whole_up_to_the_bound_and_cut_at_a_character_after_it() {
        assert_eq!(bounded_path("/v1/secrets/sec_1"), "/v1/secrets/sec_1");
        let exact = "a".repeat(MAX_RECORDED_PATH);
        assert_eq!(bounded_path(&exact), exact);
        let long = format!("/v1/secrets/{}", "é".repeat(3000));
        let kept = bounded_path(&long);
        assert!(kept.len() < MAX_RECORDED_PATH + 32, "{}", kept.len());
        assert!(kept.ends_with(&format!(
            "…(+{} bytes)",
            long.len() - (kept.find('…').unwrap_or(0))
        )));
    }

    #[test]
    fn a_source_fails_its_budget_then_waits_and_others_are_untouched() {
        let limiter = FailureLimiter::per_minute(NonZeroU32::new(3).expect("non-zero"));
        let attacker = Source::of(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
        let neighbour = Source::of(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)));
        for _ in 0..3 {
            assert_eq!(limiter.spend(&attacker), Ok(()));
        }
        let wait = limiter.spend(&attacker).expect_err("over budget");
        assert!((1..=20).contains(&wait), "{wait}");
        assert_eq!(limiter.spend(&neighbour), Ok(()));
        assert_eq!(limiter.tracked(), 2);
    }

    #[test]
    fn refusals_are_tallied_per_source_and_route_and_bounded_in_sources() {
        let tally = RefusalTally::default();
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let one = Some(Source::of(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))));
        for _ in 0..5 {
            tally.note(one, "/v1/secrets/{id}", "unauthenticated", at);
        }
        tally.note(one, "/v1/resolve", "too_many_failed_authentications", at);
        for n in 0..(MAX_SUMMARISED_SOURCES as u32 + 10) {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n));
            tally.note(Some(Source::of(ip)), "/v1/secrets", "unauthenticated", at);
        }
        let summaries = tally.take();
        assert_eq!(summaries.len(), MAX_SUMMARISED_SOURCES + 1);
        // Busiest first: the overflow holds the most.
        assert_eq!(
            (summaries[0].source.as_str(), summaries[0].refused),
            ("other", 11)
        );
        let first = &summaries[1];
        assert_eq!((first.source.as_str(), first.refused), ("192.0.2.1", 6));
        assert_eq!(
            first.routes,
            vec![
                RouteCount {
                    route: "/v1/resolve".into(),
                    outcome: "too_many_failed_authentications",
                    count: 1
                },
                RouteCount {
                    route: "/v1/secrets/{id}".into(),
                    outcome: "unauthenticated",
                    count: 5
                },
            ]
        );
        assert!(tally.take().is_empty(), "a summary is taken once");
    }
}
