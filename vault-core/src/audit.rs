//! The audit trail's chain. Each record stores the hash of the record before it and
//! its own over a canonical encoding of everything it says, so altering, deleting or
//! reordering rows breaks the chain at the first record touched. Records written since
//! the vault held an integrity key are linked by HMAC-SHA256 under a key derived from
//! it (`ChainFormat::Keyed`), so write access to the database is not enough to
//! recompute the chain after an edit; records from before stay plain SHA-256 and keep
//! verifying, and no plain record may follow a keyed one.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::integrity::MacKey;

pub const AUDIT_HASH_BYTES: usize = 32;
pub type AuditHash = [u8; AUDIT_HASH_BYTES];

/// The `previous_hash` of the first record.
pub const GENESIS_HASH: AuditHash = [0; AUDIT_HASH_BYTES];

const CHAIN_LABEL: &[u8] = b"vault-audit/v1";
const KEYED_CHAIN_LABEL: &[u8] = b"vault-audit/v2";

/// How a record's `hash` was computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainFormat {
    /// SHA-256: anyone can recompute it (records from before the integrity key).
    Sha256,
    /// HMAC-SHA256 under the audit chain key.
    Keyed,
}

impl ChainFormat {
    /// The number stored beside each record.
    pub fn code(self) -> i16 {
        match self {
            ChainFormat::Sha256 => 1,
            ChainFormat::Keyed => 2,
        }
    }

    pub fn from_code(code: i16) -> Option<Self> {
        match code {
            1 => Some(ChainFormat::Sha256),
            2 => Some(ChainFormat::Keyed),
            _ => None,
        }
    }
}

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
    pub format: ChainFormat,
}

impl ChainedAudit {
    /// Links `entry` after the record at `seq - 1` whose hash is `previous_hash`, by
    /// plain SHA-256 (a vault without an integrity key).
    pub fn link(seq: u64, entry: AuditEntry, previous_hash: AuditHash) -> Self {
        let hash = chain_hash(seq, &entry, &previous_hash);
        ChainedAudit {
            seq,
            entry,
            previous_hash,
            hash,
            format: ChainFormat::Sha256,
        }
    }

    /// Links `entry` by HMAC under the audit chain key.
    pub fn link_keyed(seq: u64, entry: AuditEntry, previous_hash: AuditHash, key: &MacKey) -> Self {
        let hash = chain_mac(key, seq, &entry, &previous_hash);
        ChainedAudit {
            seq,
            entry,
            previous_hash,
            hash,
            format: ChainFormat::Keyed,
        }
    }
}

/// Every field as a 4-byte length and its bytes, so no two different records encode
/// alike; absent `target` and empty `target` differ.
fn encode(seq: u64, entry: &AuditEntry, previous_hash: &AuditHash, field: &mut dyn FnMut(&[u8])) {
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
}

/// SHA-256 over the label and the encoded record (`ChainFormat::Sha256`).
pub fn chain_hash(seq: u64, entry: &AuditEntry, previous_hash: &AuditHash) -> AuditHash {
    let mut hasher = Sha256::new();
    let mut field = |bytes: &[u8]| {
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        hasher.update(len.to_be_bytes());
        hasher.update(bytes);
    };
    field(CHAIN_LABEL);
    encode(seq, entry, previous_hash, &mut field);
    hasher.finalize().into()
}

/// HMAC-SHA256 under `key` over the label and the encoded record (`ChainFormat::Keyed`).
pub fn chain_mac(
    key: &MacKey,
    seq: u64,
    entry: &AuditEntry,
    previous_hash: &AuditHash,
) -> AuditHash {
    key.mac(KEYED_CHAIN_LABEL, |fields| {
        encode(seq, entry, previous_hash, &mut |bytes| {
            fields.field(bytes);
        })
    })
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
    #[error("record {seq}: its contents do not match its hash (edited)")]
    Altered { seq: u64 },
    /// A keyed record's hash is the plain SHA-256 of what it says: someone without the
    /// key rebuilt the chain from here.
    #[error("record {seq}: its hash was recomputed without the chain key")]
    Recomputed { seq: u64 },
    /// A plain record where only keyed ones may be: after a keyed record, or at or
    /// after where the checkpoints say the keyed chain began.
    #[error("record {seq}: a plain SHA-256 record inside the keyed chain (downgraded)")]
    Downgraded { seq: u64 },
    /// A keyed record, and no key to check it with.
    #[error("record {seq}: keyed, and this verifier was given no chain key")]
    KeyRequired { seq: u64 },
}

impl ChainBreak {
    pub fn seq(&self) -> u64 {
        match self {
            ChainBreak::Gap { seq, .. }
            | ChainBreak::Unlinked { seq }
            | ChainBreak::Altered { seq }
            | ChainBreak::Recomputed { seq }
            | ChainBreak::Downgraded { seq }
            | ChainBreak::KeyRequired { seq } => *seq,
        }
    }
}

/// Checks records oldest first, page by page: feed each page in order, then read
/// `checked()`.
#[derive(Clone, Debug)]
pub struct ChainVerifier {
    next_seq: u64,
    previous: AuditHash,
    key: Option<MacKey>,
    /// From here on every record must be keyed.
    keyed_from: Option<u64>,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            next_seq: 1,
            previous: GENESIS_HASH,
            key: None,
            keyed_from: None,
        }
    }
}

impl ChainVerifier {
    /// A verifier holding the chain key; `keyed_from`, when known from outside the
    /// database (a checkpoint), is where the keyed chain began.
    pub fn keyed(key: MacKey, keyed_from: Option<u64>) -> Self {
        ChainVerifier {
            key: Some(key),
            keyed_from,
            ..ChainVerifier::default()
        }
    }

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
        let plain = || chain_hash(record.seq, &record.entry, &record.previous_hash);
        match record.format {
            ChainFormat::Sha256 => {
                if self.keyed_from.is_some_and(|from| record.seq >= from) {
                    return Err(ChainBreak::Downgraded { seq: record.seq });
                }
                if plain() != record.hash {
                    return Err(ChainBreak::Altered { seq: record.seq });
                }
            }
            ChainFormat::Keyed => {
                let Some(key) = &self.key else {
                    return Err(ChainBreak::KeyRequired { seq: record.seq });
                };
                let expected = chain_mac(key, record.seq, &record.entry, &record.previous_hash);
                if !bool::from(subtle::ConstantTimeEq::ct_eq(
                    &expected[..],
                    &record.hash[..],
                )) {
                    return Err(if plain() == record.hash {
                        ChainBreak::Recomputed { seq: record.seq }
                    } else {
                        ChainBreak::Altered { seq: record.seq }
                    });
                }
                // The chain is keyed from its first keyed record on.
                self.keyed_from.get_or_insert(record.seq);
            }
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

    fn key(byte: u8) -> MacKey {
        crate::IntegrityKeys::derive(&[byte; 32]).chain
    }

    /// `plain` SHA-256 records, then `keyed` ones under `key`, linked as a store links.
    fn mixed(plain: u32, keyed: u32, key: &MacKey) -> Vec<ChainedAudit> {
        let mut records = chain(plain);
        let mut previous = records.last().map_or(GENESIS_HASH, |r| r.hash);
        for n in plain + 1..=plain + keyed {
            let record = ChainedAudit::link_keyed(u64::from(n), entry(n), previous, key);
            previous = record.hash;
            records.push(record);
        }
        records
    }

    fn verify_keyed(
        records: &[ChainedAudit],
        key: MacKey,
        from: Option<u64>,
    ) -> Result<u64, ChainBreak> {
        let mut verifier = ChainVerifier::keyed(key, from);
        for record in records {
            verifier.check(record)?;
        }
        Ok(verifier.checked())
    }

    #[test]
    fn a_keyed_segment_after_a_plain_one_verifies_with_the_key_only() {
        let records = mixed(3, 4, &key(1));
        assert_eq!(verify_keyed(&records, key(1), None), Ok(7));
        assert_eq!(verify_keyed(&records, key(1), Some(4)), Ok(7));
        assert_eq!(verify(&records), Err(ChainBreak::KeyRequired { seq: 4 }));
        assert_eq!(
            verify_keyed(&records, key(2), None),
            Err(ChainBreak::Altered { seq: 4 })
        );
        assert_eq!(records[3].format, ChainFormat::Keyed);
        assert_eq!(records[2].format, ChainFormat::Sha256);
        for format in [ChainFormat::Sha256, ChainFormat::Keyed] {
            assert_eq!(ChainFormat::from_code(format.code()), Some(format));
        }
        assert_eq!(ChainFormat::from_code(0), None);
        assert_eq!(ChainFormat::from_code(3), None);
    }

    #[test]
    fn every_field_of_a_keyed_record_is_covered_by_its_mac() {
        type Edit = fn(&mut AuditEntry);
        let edits: [Edit; 4] = [
            |e| e.principal.push('x'),
            |e| e.target = None,
            |e| e.outcome.push('x'),
            |e| e.at += chrono::Duration::microseconds(1),
        ];
        for edit in edits {
            let mut records = mixed(1, 3, &key(1));
            edit(&mut records[2].entry);
            assert_eq!(
                verify_keyed(&records, key(1), None),
                Err(ChainBreak::Altered { seq: 3 })
            );
        }
    }

    #[test]
    fn a_chain_rebuilt_without_the_key_is_caught_where_the_rebuild_starts() {
        // Record 4 deleted, and everything after it renumbered and rehashed with the
        // only function an attacker has: plain SHA-256, still marked keyed.
        let mut records = mixed(2, 4, &key(1));
        records.remove(3);
        let mut previous = records[2].hash;
        for (i, record) in records.iter_mut().enumerate().skip(3) {
            record.seq = i as u64 + 1;
            record.previous_hash = previous;
            record.hash = chain_hash(record.seq, &record.entry, &previous);
            previous = record.hash;
        }
        assert_eq!(
            verify_keyed(&records, key(1), None),
            Err(ChainBreak::Recomputed { seq: 4 })
        );
        // The same rebuild marked plain is a downgrade inside the keyed chain.
        for record in records.iter_mut().skip(3) {
            record.format = ChainFormat::Sha256;
        }
        assert_eq!(
            verify_keyed(&records, key(1), None),
            Err(ChainBreak::Downgraded { seq: 4 })
        );
    }

    #[test]
    fn plain_records_are_refused_where_checkpoints_say_the_keyed_chain_began() {
        // Every keyed record rewritten as plain: the chain alone cannot tell, the
        // checkpoint's `keyed_from` can.
        let mut records = mixed(2, 3, &key(1));
        let mut previous = records[1].hash;
        for record in records.iter_mut().skip(2) {
            *record = ChainedAudit::link(record.seq, record.entry.clone(), previous);
            previous = record.hash;
        }
        assert_eq!(verify_keyed(&records, key(1), None), Ok(5));
        assert_eq!(
            verify_keyed(&records, key(1), Some(3)),
            Err(ChainBreak::Downgraded { seq: 3 })
        );
        assert_eq!(verify_keyed(&records, key(1), Some(6)), Ok(5));
    }

    #[test]
    fn every_break_names_its_own_position() {
        let breaks = [
            ChainBreak::Gap {
                seq: 7,
                expected: 5,
            },
            ChainBreak::Unlinked { seq: 7 },
            ChainBreak::Altered { seq: 7 },
            ChainBreak::Recomputed { seq: 7 },
            ChainBreak::Downgraded { seq: 7 },
            ChainBreak::KeyRequired { seq: 7 },
        ];
        for broken in breaks {
            assert_eq!(broken.seq(), 7, "{broken}");
            assert!(broken.to_string().contains("record 7"), "{broken}");
        }
    }
}
