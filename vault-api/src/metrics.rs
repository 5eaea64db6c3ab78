//! Prometheus metrics: requests and latency by route and status, resolutions by
//! outcome, the candidate cache's hits and misses, and the keyring's counters (KEK
//! cache hits and misses, root provider calls) read at scrape time. Labels are route
//! templates, never concrete paths.

use std::sync::Arc;

use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use vault_kms::Keyring;

use crate::candidates::CandidateCache;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

/// A refused anonymous request: the route template and the refusal's code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    pub route: String,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RequestLabels, Histogram>,
    pub resolutions: Family<OutcomeLabels, Counter>,
    pub anonymous_refusals: Family<RefusalLabels, Counter>,
}

#[derive(Debug)]
struct KeyringCollector(Arc<Keyring>);

impl prometheus_client::collector::Collector for KeyringCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let m = self.0.metrics();
        let counters = [
            (
                "vault_kek_cache_hits",
                "Opens that found their KEK unwrapped in memory.",
                m.kek_cache_hits,
            ),
            (
                "vault_kek_cache_misses",
                "Opens that had to unwrap their KEK.",
                m.kek_cache_misses,
            ),
            (
                "vault_root_unwraps",
                "KEK unwraps by the root key provider.",
                m.root_unwraps,
            ),
            (
                "vault_root_wraps",
                "KEK wraps by the root key provider.",
                m.root_wraps,
            ),
            ("vault_seals", "Secret versions sealed.", m.seals),
            ("vault_opens", "Secret versions opened.", m.opens),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            let metric = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
            counter.encode(metric)?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new(keyring: Arc<Keyring>, candidates: &CandidateCache) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            // 0.1 ms to about 3 s.
            Histogram::new(exponential_buckets(0.0001, 2.0, 16))
        });
        let resolutions = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "vault_http_requests",
            "HTTP requests by method, route and status.",
            requests.clone(),
        );
        registry.register(
            "vault_http_request_duration_seconds",
            "HTTP request latency by method, route and status.",
            latency.clone(),
        );
        registry.register(
            "vault_resolutions",
            "Resolutions by outcome.",
            resolutions.clone(),
        );
        registry.register(
            "vault_candidate_cache_hits",
            "Resolutions whose candidates were still current in memory.",
            candidates.hits.clone(),
        );
        registry.register(
            "vault_candidate_cache_misses",
            "Resolutions that read their candidates from the database.",
            candidates.misses.clone(),
        );
        let anonymous_refusals = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "vault_anonymous_refusals",
            "Requests refused before any token was accepted (unauthenticated, or throttled \
             after too many failed authentications), by route template and outcome.",
            anonymous_refusals.clone(),
        );
        registry.register_collector(Box::new(KeyringCollector(keyring)));
        Metrics {
            registry,
            requests,
            latency,
            resolutions,
            anonymous_refusals,
        }
    }

    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}
