//! Anchoring the audit chain outside the database. Every few seconds (and at
//! shutdown) the chain's head, its position and hash, is appended to a checkpoint file
//! as one JSON line signed with the checkpoint key, and written to the log stream. A
//! database-only attacker can delete the newest records or rebuild the chain, but
//! cannot change what was already anchored: `audit verify` compares the chain with
//! every checkpoint, and `serve` refuses to start on a chain that no longer holds its
//! newest one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use vault_core::{AuditHash, IntegrityKeys};
use vault_store::Store;

use crate::error::{ApiError, ApiResult};

const CHECKPOINT_LABEL: &[u8] = b"vault-audit-checkpoint/v1";

/// One anchored head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: u64,
    /// The record's hash, hex.
    pub hash: String,
    /// Where the keyed chain begins, when it is keyed.
    pub keyed_from: Option<u64>,
    pub at: DateTime<Utc>,
    /// HMAC under the checkpoint key over the fields above, hex.
    pub mac: String,
}

fn mac_of(
    keys: &IntegrityKeys,
    seq: u64,
    hash: &str,
    keyed_from: Option<u64>,
    at: &DateTime<Utc>,
) -> String {
    hex::encode(keys.checkpoints.mac(CHECKPOINT_LABEL, |fields| {
        fields
            .field(&seq.to_be_bytes())
            .field(hash.as_bytes())
            .field(&keyed_from.map_or([0; 9], |k| {
                let mut bytes = [1; 9];
                bytes[1..].copy_from_slice(&k.to_be_bytes());
                bytes
            }))
            .field(&at.timestamp_micros().to_be_bytes());
    }))
}

impl Checkpoint {
    fn signed(
        keys: &IntegrityKeys,
        seq: u64,
        hash: &AuditHash,
        keyed_from: Option<u64>,
        at: DateTime<Utc>,
    ) -> Self {
        let hash = hex::encode(hash);
        let mac = mac_of(keys, seq, &hash, keyed_from, &at);
        Checkpoint {
            seq,
            hash,
            keyed_from,
            at,
            mac,
        }
    }

    /// Whether this vault's checkpoint key signed it.
    pub fn is_signed_by(&self, keys: &IntegrityKeys) -> bool {
        let expected = mac_of(keys, self.seq, &self.hash, self.keyed_from, &self.at);
        subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), self.mac.as_bytes()).into()
    }
}

/// What a checkpoint file holds: the checkpoints in order, and the lines (1-based) that
/// are not checkpoints this vault signed.
#[derive(Debug, Default)]
pub struct CheckpointFile {
    pub checkpoints: Vec<Checkpoint>,
    pub forged_lines: Vec<usize>,
}

impl CheckpointFile {
    pub fn newest(&self) -> Option<&Checkpoint> {
        self.checkpoints.iter().max_by_key(|c| c.seq)
    }

    /// Where the checkpoints say the keyed chain begins.
    pub fn keyed_from(&self) -> Option<u64> {
        self.checkpoints.iter().filter_map(|c| c.keyed_from).min()
    }
}

/// Reads `path`; a file that does not exist holds no checkpoints.
pub fn read(path: &Path, keys: &IntegrityKeys) -> ApiResult<CheckpointFile> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(CheckpointFile::default()),
        Err(e) => {
            return Err(ApiError::Config {
                detail: format!("cannot read the checkpoint file {}: {e}", path.display()),
            });
        }
    };
    let mut file = CheckpointFile::default();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Checkpoint>(line) {
            Ok(checkpoint) if checkpoint.is_signed_by(keys) => file.checkpoints.push(checkpoint),
            _ => file.forged_lines.push(n + 1),
        }
    }
    Ok(file)
}

/// Appends the chain's head to a checkpoint file whenever it has moved.
pub struct Checkpointer {
    path: Option<PathBuf>,
    store: Store,
    keys: Arc<IntegrityKeys>,
    last: Mutex<Option<u64>>,
}

impl Checkpointer {
    /// `path`: the checkpoint file (created 0600 and only ever appended to), or `None`
    /// to anchor in the log stream alone.
    pub fn new(path: Option<PathBuf>, store: Store, keys: Arc<IntegrityKeys>) -> Self {
        Checkpointer {
            path,
            store,
            keys,
            last: Mutex::new(None),
        }
    }

    /// Anchors the head now, unless it has not moved since the last checkpoint.
    pub async fn checkpoint(&self) -> ApiResult<Option<Checkpoint>> {
        let Some(head) = self.store.audit_head().await? else {
            return Ok(None);
        };
        if self.last.lock().ok().and_then(|last| *last) == Some(head.seq) {
            return Ok(None);
        }
        let keyed_from = match self.store.audit_keyed_from().await? {
            Some(vault_store::KeyedFrom::From(seq)) => Some(seq),
            _ => None,
        };
        let checkpoint =
            Checkpoint::signed(&self.keys, head.seq, &head.hash, keyed_from, Utc::now());
        if let Some(path) = &self.path {
            append(path, &checkpoint)?;
        }
        tracing::info!(
            target: "vault_audit_checkpoint",
            seq = checkpoint.seq,
            hash = %checkpoint.hash,
            keyed_from = checkpoint.keyed_from,
            mac = %checkpoint.mac,
            "audit checkpoint"
        );
        if let Ok(mut last) = self.last.lock() {
            *last = Some(head.seq);
        }
        Ok(Some(checkpoint))
    }

    /// Checkpoints every `interval` until the process ends.
    pub fn every(self: Arc<Self>, interval: Duration) {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                if let Err(error) = self.checkpoint().await {
                    tracing::error!(%error, "the audit checkpoint could not be written");
                }
            }
        });
    }
}

fn append(path: &Path, checkpoint: &Checkpoint) -> ApiResult<()> {
    let failed = |e: std::io::Error| ApiError::Config {
        detail: format!(
            "cannot append to the checkpoint file {}: {e}",
            path.display()
        ),
    };
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(failed)?;
    let mut line = serde_json::to_vec(checkpoint).map_err(|e| ApiError::Internal {
        detail: format!("a checkpoint could not be encoded: {e}"),
    })?;
    line.push(b'\n');
    file.write_all(&line).map_err(failed)?;
    file.sync_data().map_err(failed)
}

/// Refuses a chain that no longer holds the newest checkpoint in `path`: its tail was
/// deleted, or it was rebuilt. `serve` runs this before it listens.
pub async fn check_against_newest(
    store: &Store,
    path: &Path,
    keys: &IntegrityKeys,
) -> ApiResult<()> {
    let file = read(path, keys)?;
    let refuse = |detail: String| ApiError::Config {
        detail: format!(
            "{detail}; the audit trail was changed outside the vault. Run `vault-api audit \
             verify` to find the first bad record. To start anyway, move {} aside.",
            path.display()
        ),
    };
    if !file.forged_lines.is_empty() {
        return Err(refuse(format!(
            "checkpoint file {} has lines this vault did not sign: {:?}",
            path.display(),
            file.forged_lines
        )));
    }
    let Some(newest) = file.newest() else {
        return Ok(());
    };
    match store.audit_record(newest.seq).await? {
        Some(record) if hex::encode(record.hash) == newest.hash => Ok(()),
        Some(_) => Err(refuse(format!(
            "audit record {} differs from its checkpoint of {}",
            newest.seq,
            newest.at.to_rfc3339()
        ))),
        None => Err(refuse(format!(
            "audit record {} (checkpointed {}) is missing",
            newest.seq,
            newest.at.to_rfc3339()
        ))),
    }
}
