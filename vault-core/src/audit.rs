//! The audit trail's hash chain. Each record stores the hash of the record before it
//! and its own hash over a canonical encoding of everything it says, so altering,
//! deleting or reordering rows breaks the chain at the first record touched.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

pub const AUDIT_HASH_BYTES: usize = 32;
pub type AuditHash = [u8; AUDIT_HASH_BYTES];

/// The `previous_hash` of the first record.
pub const GENESIS_HASH: AuditHash = [0; AUDIT_HASH_BYTES];

const CHAIN_LABEL: &[u8] = b"vault-audit/v1";

/// What one record says, before it takes its place in the chain. Holds ids, names and
/// outcomes only: callers never put a value or a token in any field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: String,
    pub at: DateTime<Utc>,
    /// `kind:token_id`, or `anonymous` for a failed authentication.
    pub principal: String,
    pub action: String,
    /// Canonical JSON naming what was acted on.
    pub target: Option<String>,
    pub outcome: String,
    pub request_id: String,
}

/// A record in its place: position from 1, the previous record's hash and its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainedAudit {
    pub seq: u64,
    pub entry: AuditEntry,
    pub previous_hash: AuditHash,
    pub hash: AuditHash,
}

impl ChainedAudit {
    /// Links `entry` after the record at `seq - 1` whose hash is `previous_hash`.
    pub fn link(seq: u64, entry: AuditEntry, previous_hash: AuditHash) -> Self {
        let hash = chain_hash(seq, &entry, &previous_hash);
        ChainedAudit {
            seq,
            entry,
            previous_hash,
            hash,
        }
    }
}

/// SHA-256 over a label and every field as a 4-byte length and its bytes, so no two
/// different records encode alike; absent `target` and empty `target` differ.
pub fn chain_hash(seq: u64, entry: &AuditEntry, previous_hash: &AuditHash) -> AuditHash {
    let mut hasher = Sha256::new();
    let mut field = |bytes: &[u8]| {
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        hasher.update(len.to_be_bytes());
        hasher.update(bytes);
    };
    field(CHAIN_LABEL);
    field(&seq.to_be_bytes());
    field(previous_hash);
    field(entry.id.as_bytes());
    field(&entry.at.timestamp_micros().to_be_bytes());
    field(entry.principal.as_bytes());
    field(entry.action.as_bytes());
    match &entry.target {
        Some(target) => {
            field(&[1]);
            field(target.as_bytes());
        }
        None => field(&[0]),
    }
    field(entry.outcome.as_bytes());
    field(entry.request_id.as_bytes());
    hasher.finalize().into()
}

/// The first way a stored chain departs from a well-formed one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error(
        "record {seq}: expected position {expected}; a record before it is missing or out of order"
    )]
    Gap { seq: u64, expected: u64 },
    #[error("record {seq}: previous_hash does not match the record before it")]
    Unlinked { seq: u64 },
    #[error("record {seq}: its contents do not match its hash")]
    Altered { seq: u64 },
}

impl ChainBreak {
    pub fn seq(&self) -> u64 {
        match self {
            ChainBreak::Gap { seq, .. }
            | ChainBreak::Unlinked { seq }
            | ChainBreak::Altered { seq } => *seq,
        }
    }
}

/// Checks records oldest first, page by page: feed each page in order, then read
/// `checked()`.
#[derive(Clone, Debug)]
pub struct ChainVerifier {
    next_seq: u64,
    previous: AuditHash,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            next_seq: 1,
            previous: GENESIS_HASH,
        }
    }
}

impl ChainVerifier {
    pub fn check(&mut self, record: &ChainedAudit) -> Result<(), ChainBreak> {
        if record.seq != self.next_seq {
            return Err(ChainBreak::Gap {
                seq: record.seq,
                expected: self.next_seq,
            });
        }
        if record.previous_hash != self.previous {
            return Err(ChainBreak::Unlinked { seq: record.seq });
        }
        if chain_hash(record.seq, &record.entry, &record.previous_hash) != record.hash {
            return Err(ChainBreak::Altered { seq: record.seq });
        }
        self.previous = record.hash;
        self.next_seq += 1;
        Ok(())
    }

    /// How many records have passed.
    pub fn checked(&self) -> u64 {
        self.next_seq - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u32) -> AuditEntry {
        AuditEntry {
            id: format!("aud_{n}"),
            at: DateTime::from_timestamp(1_700_000_000 + i64::from(n), 0).unwrap_or_default(),
            principal: "operator:tok_1".into(),
            action: "secret.create".into(),
            target: Some(format!("{{\"secret_id\":\"sec_{n}\"}}")),
            outcome: "ok".into(),
            request_id: format!("req_{n}"),
        }
    }

    fn chain(len: u32) -> Vec<ChainedAudit> {
        let mut previous = GENESIS_HASH;
        (1..=len)
            .map(|n| {
                let record = ChainedAudit::link(u64::from(n), entry(n), previous);
                previous = record.hash;
                record
            })
            .collect()
    }

    fn verify(records: &[ChainedAudit]) -> Result<u64, ChainBreak> {
        let mut verifier = ChainVerifier::default();
        for record in records {
            verifier.check(record)?;
        }
        Ok(verifier.checked())
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(5));
        assert_eq!(verify(&[]), Ok(0));
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        type Edit = fn(&mut AuditEntry);
        let edits: [Edit; 8] = [
            |e| e.id.push('x'),
            |e| e.at += chrono::Duration::microseconds(1),
            |e| e.principal.push('x'),
            |e| e.action.push('x'),
            |e| e.target = None,
            |e| e.target = Some(String::new()),
            |e| e.outcome.push('x'),
            |e| e.request_id.push('x'),
        ];
        for edit in edits {
            let mut records = chain(3);
            edit(&mut records[1].entry);
            assert_eq!(verify(&records), Err(ChainBreak::Altered { seq: 2 }));
        }
    }

    #[test]
    fn a_deleted_record_is_a_gap() {
        let mut records = chain(4);
        records.remove(1);
        assert_eq!(
            verify(&records),
            Err(ChainBreak::Gap {
                seq: 3,
                expected: 2
            })
        );
    }

    #[test]
    fn a_renumbered_deletion_or_a_swap_breaks_the_links() {
        let mut records = chain(4);
        records.remove(1);
        for (i, record) in records.iter_mut().enumerate() {
            record.seq = i as u64 + 1;
        }
        assert_eq!(verify(&records), Err(ChainBreak::Unlinked { seq: 2 }));

        let mut records = chain(4);
        let (a, b) = (records[1].entry.clone(), records[2].entry.clone());
        records[1].entry = b;
        records[2].entry = a;
        assert_eq!(verify(&records), Err(ChainBreak::Altered { seq: 2 }));
    }
}
