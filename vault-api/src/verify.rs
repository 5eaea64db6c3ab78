//! `vault-api audit verify`: recomputes the whole chain (keyed records with the chain
//! key), compares it with every checkpoint anchored outside the database, and names the
//! first bad record: a missing tail, a deleted, edited or reordered record, or a chain
//! recomputed after an edit.

use std::collections::BTreeMap;

use vault_core::{ChainBreak, ChainVerifier};
use vault_store::{KeyedFrom, Store};

use crate::checkpoint::CheckpointFile;
use crate::error::{ApiError, ApiResult};

const PAGE: u32 = 1_000;

/// An intact trail: how many records, and the newest checkpoint they hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intact {
    pub records: u64,
    pub checkpoints: usize,
    pub newest_checkpoint: Option<u64>,
}

/// The first thing wrong with the trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The first bad position (0 when what is wrong is not a record).
    pub seq: u64,
    /// `missing tail`, `deleted`, `deleted or reordered`, `edited`, `recomputed`,
    /// `forged checkpoint`, `keyed-from marker`, `needs the chain key`.
    pub kind: &'static str,
    pub detail: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

/// The number of records checked, or the first break, with the keys the store holds and
/// no checkpoints.
pub async fn verify_chain(store: &Store) -> ApiResult<Result<u64, ChainBreak>> {
    let mut verifier = match store.integrity_keys() {
        Some(keys) => ChainVerifier::keyed(keys.chain.clone(), None),
        None => ChainVerifier::default(),
    };
    let mut after = 0;
    loop {
        let page = store
            .audit_since(after, PAGE)
            .await
            .map_err(ApiError::from)?;
        let Some(last) = page.last().map(|r| r.seq) else {
            return Ok(Ok(verifier.checked()));
        };
        for record in &page {
            if let Err(broken) = verifier.check(record) {
                return Ok(Err(broken));
            }
        }
        after = last;
    }
}

/// Whether any checkpoint at or after `from` disagrees with the record the database
/// holds there: then the chain from `from` on was rebuilt, not edited in place.
async fn rebuilt_after(
    store: &Store,
    anchored: &BTreeMap<u64, String>,
    from: u64,
) -> ApiResult<bool> {
    for (seq, hash) in anchored.range(from..) {
        let held = store.audit_record(*seq).await?;
        if held.is_none_or(|record| hex::encode(record.hash) != *hash) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Verifies the whole trail against `checkpoints`.
pub async fn verify_trail(
    store: &Store,
    checkpoints: &CheckpointFile,
) -> ApiResult<Result<Intact, Finding>> {
    if let Some(first) = checkpoints.forged_lines.first() {
        return Ok(Err(Finding {
            seq: 0,
            kind: "forged checkpoint",
            detail: format!(
                "checkpoint line {first} (of {} such lines) is not signed by this vault",
                checkpoints.forged_lines.len()
            ),
        }));
    }
    let marker = store.audit_keyed_from().await?;
    if marker == Some(KeyedFrom::Tampered) {
        return Ok(Err(Finding {
            seq: 0,
            kind: "keyed-from marker",
            detail: "the marker of where the keyed chain begins is missing or not signed by \
                     this vault"
                .into(),
        }));
    }
    let keyed_from = [
        match marker {
            Some(KeyedFrom::From(seq)) => Some(seq),
            _ => None,
        },
        checkpoints.keyed_from(),
    ]
    .into_iter()
    .flatten()
    .min();
    let mut verifier = match store.integrity_keys() {
        Some(keys) => ChainVerifier::keyed(keys.chain.clone(), keyed_from),
        None => ChainVerifier::default(),
    };
    let anchored: BTreeMap<u64, String> = checkpoints
        .checkpoints
        .iter()
        .map(|c| (c.seq, c.hash.clone()))
        .collect();
    let mut after = 0;
    loop {
        let page = store.audit_since(after, PAGE).await?;
        let Some(last) = page.last().map(|r| r.seq) else {
            break;
        };
        for record in &page {
            if let Err(broken) = verifier.check(record) {
                let seq = broken.seq();
                let kind = match &broken {
                    ChainBreak::Gap { .. } => "deleted",
                    ChainBreak::Unlinked { .. } => "deleted or reordered",
                    ChainBreak::Altered { .. } if rebuilt_after(store, &anchored, seq).await? => {
                        "recomputed"
                    }
                    ChainBreak::Altered { .. } => "edited",
                    ChainBreak::Recomputed { .. } | ChainBreak::Downgraded { .. } => "recomputed",
                    ChainBreak::KeyRequired { .. } => "needs the chain key",
                };
                return Ok(Err(Finding {
                    seq,
                    kind,
                    detail: broken.to_string(),
                }));
            }
            if let Some(hash) = anchored.get(&record.seq)
                && *hash != hex::encode(record.hash)
            {
                return Ok(Err(Finding {
                    seq: record.seq,
                    kind: "recomputed",
                    detail: format!("record {} differs from its checkpoint", record.seq),
                }));
            }
        }
        after = last;
    }
    let records = verifier.checked();
    let newest = checkpoints.newest();
    if let Some(newest) = newest
        && newest.seq > records
    {
        return Ok(Err(Finding {
            seq: records + 1,
            kind: "missing tail",
            detail: format!(
                "records {} to {} are gone; they were checkpointed at {}",
                records + 1,
                newest.seq,
                newest.at.to_rfc3339()
            ),
        }));
    }
    Ok(Ok(Intact {
        records,
        checkpoints: checkpoints.checkpoints.len(),
        newest_checkpoint: newest.map(|c| c.seq),
    }))
}
