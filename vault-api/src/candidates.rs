//! The candidates of recently resolved contexts, kept sealed (envelopes, parsed once,
//! and metadata; never a plaintext) and trusted only while their owners' generations in
//! the database are unchanged. Every write to a secret, its targets or its versions bumps those
//! generations in its own transaction (a trigger), so a resolution checks one small row
//! set instead of reading every candidate again, and a rotation through any replica is
//! seen by the next resolution on every other.

use std::sync::Arc;

use moka::future::Cache;
use prometheus_client::metrics::counter::Counter;
use vault_core::{Candidate, ResolutionContext};
use vault_kms::{Envelope, KmsError};
use vault_store::{Generations, Sealed, Store, StoreResult};

/// Bytes of candidates kept at most across every context, unless configured.
const DEFAULT_CAPACITY_BYTES: u64 = 64 * 1024 * 1024;
/// A context nobody resolved for this long is dropped.
const IDLE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// A candidate's envelope as the cache keeps it: parsed when loaded, so a resolution
/// never parses it again. A stored envelope that does not parse is kept as its error:
/// it fails only a resolution it would win, as it did before it was cached.
pub type Seal = Result<Envelope, KmsError>;

/// Candidates as resolutions share them: cloning is a reference count, not a copy.
pub type SharedCandidates = Arc<[Candidate<Seal>]>;

struct Stamped {
    generations: Generations,
    candidates: SharedCandidates,
    /// The stored bytes behind `candidates`, for the cache's capacity.
    weight: u32,
}

/// Metadata is small next to envelopes; this stands for it in the weight.
const METADATA_WEIGHT: usize = 256;

fn parsed(stored: Vec<Candidate<Sealed>>) -> (SharedCandidates, u32) {
    let bytes: usize = stored
        .iter()
        .map(|c| c.payload.envelope.len() + METADATA_WEIGHT)
        .sum();
    let candidates = stored
        .into_iter()
        .map(|Candidate { meta, payload }| Candidate {
            meta,
            payload: Envelope::from_bytes(&payload.envelope),
        })
        .collect();
    (candidates, u32::try_from(bytes).unwrap_or(u32::MAX))
}

#[derive(Clone)]
pub struct CandidateCache {
    /// None when configured off: every resolution reads its candidates.
    entries: Option<Cache<ResolutionContext, Arc<Stamped>>>,
    pub hits: Counter,
    pub misses: Counter,
}

impl Default for CandidateCache {
    fn default() -> Self {
        CandidateCache::new(DEFAULT_CAPACITY_BYTES)
    }
}

impl CandidateCache {
    /// At most `capacity_bytes` of candidates; 0 turns the cache off.
    pub fn new(capacity_bytes: u64) -> Self {
        let entries = (capacity_bytes > 0).then(|| {
            Cache::builder()
                .max_capacity(capacity_bytes)
                .weigher(|_, stamped: &Arc<Stamped>| stamped.weight)
                .time_to_idle(IDLE)
                .build()
        });
        CandidateCache {
            entries,
            hits: Counter::default(),
            misses: Counter::default(),
        }
    }

    /// What `store.candidates(context)` would return now.
    pub async fn candidates(
        &self,
        store: &Store,
        context: &ResolutionContext,
    ) -> StoreResult<SharedCandidates> {
        let Some(entries) = &self.entries else {
            self.misses.inc();
            return Ok(parsed(store.candidates(context.clone()).await?).0);
        };
        if let Some(cached) = entries.get(context).await {
            let current = store.generations(context.clone()).await?;
            if current == cached.generations {
                self.hits.inc();
                return Ok(Arc::clone(&cached.candidates));
            }
        }
        self.misses.inc();
        let (generations, stored) = store.stamped_candidates(context.clone()).await?;
        let (candidates, weight) = parsed(stored);
        entries
            .insert(
                context.clone(),
                Arc::new(Stamped {
                    generations,
                    candidates: Arc::clone(&candidates),
                    weight,
                }),
            )
            .await;
        Ok(candidates)
    }
}
