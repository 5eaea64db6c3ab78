//! The MACs that let the vault detect edits by someone with write access to the
//! database: the field framing every MAC uses, and the audit chain. Properties: a MAC
//! verifies under its key and label only; two different field lists never share a
//! MAC, even when their bytes concatenate alike; a chain the vault wrote (plain or
//! keyed, or plain then keyed) verifies whole, and any one edit an attacker makes to
//! it (a field, a record dropped or swapped, a hash recomputed without the key, a
//! keyed record downgraded to plain) is caught at that record or before.
#![cfg_attr(fuzzing, no_main)]

use chrono::{DateTime, Utc};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use vault_core::{
    AuditEntry, ChainVerifier, ChainedAudit, GENESIS_HASH, IntegrityKeys, chain_hash,
};

#[derive(Arbitrary, Debug)]
struct EntryInput {
    id: String,
    at_micros: i64,
    principal: String,
    action: String,
    target: Option<String>,
    outcome: String,
    request_id: String,
}

#[derive(Arbitrary, Debug)]
enum Edit {
    Field {
        record: usize,
        field: u8,
        text: String,
    },
    Drop {
        record: usize,
    },
    Swap {
        record: usize,
    },
    /// The plain SHA-256 put in place of a keyed record's MAC (no key needed for it).
    Recompute {
        record: usize,
    },
    /// A keyed record rewritten as plain, its hash and the rest of the chain redone.
    Downgrade {
        record: usize,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    master: [u8; 32],
    label: Vec<u8>,
    fields: Vec<Vec<u8>>,
    other_fields: Vec<Vec<u8>>,
    entries: Vec<EntryInput>,
    /// Records before this one are plain, the rest keyed.
    keyed_from: usize,
    edit: Edit,
}

fn entry(input: &EntryInput) -> AuditEntry {
    AuditEntry {
        id: input.id.clone(),
        at: DateTime::<Utc>::from_timestamp_micros(input.at_micros % 1_000_000_000_000_000)
            .unwrap_or_default(),
        principal: input.principal.clone(),
        action: input.action.clone(),
        target: input.target.clone(),
        outcome: input.outcome.clone(),
        request_id: input.request_id.clone(),
    }
}

/// Where verification stops (the seq of the first break), or `None` when it passes.
fn first_break(records: &[ChainedAudit], keys: &IntegrityKeys) -> Option<u64> {
    let mut verifier = ChainVerifier::keyed(keys.chain.clone(), None);
    for record in records {
        if let Err(broken) = verifier.check(record) {
            return Some(broken.seq());
        }
    }
    None
}

/// Links `entries` from seq 1, plain before `keyed_from` and keyed from there.
fn link(entries: Vec<AuditEntry>, keyed_from: usize, keys: &IntegrityKeys) -> Vec<ChainedAudit> {
    let mut previous = GENESIS_HASH;
    let mut records = Vec::with_capacity(entries.len());
    for (at, entry) in entries.into_iter().enumerate() {
        let seq = at as u64 + 1;
        let record = if at < keyed_from {
            ChainedAudit::link(seq, entry, previous)
        } else {
            ChainedAudit::link_keyed(seq, entry, previous, &keys.chain)
        };
        previous = record.hash;
        records.push(record);
    }
    records
}

fn macs(input: &Input, keys: &IntegrityKeys) {
    fn write(fields: &[Vec<u8>]) -> impl FnOnce(&mut vault_core::Fields) + '_ {
        move |f| {
            for field in fields {
                f.field(field);
            }
        }
    }
    let mac = keys.rows.mac(&input.label, write(&input.fields));
    assert!(keys.rows.verify(&input.label, write(&input.fields), &mac));
    assert!(!keys.events.verify(&input.label, write(&input.fields), &mac));
    assert!(
        !keys
            .rows
            .verify(&input.label, write(&input.fields), &mac[..31])
    );
    let mut flipped = mac;
    flipped[usize::from(input.master[0]) % flipped.len()] ^= 1 << (input.master[1] % 8);
    assert!(
        !keys
            .rows
            .verify(&input.label, write(&input.fields), &flipped)
    );
    if input.other_fields != input.fields {
        assert_ne!(mac, keys.rows.mac(&input.label, write(&input.other_fields)));
    }
}

fn check(input: Input) {
    let keys = IntegrityKeys::derive(&input.master);
    macs(&input, &keys);

    let entries: Vec<AuditEntry> = input.entries.iter().take(16).map(entry).collect();
    if entries.is_empty() {
        return;
    }
    let count = entries.len();
    let keyed_from = input.keyed_from % (count + 1);
    let chain = link(entries.clone(), keyed_from, &keys);
    assert_eq!(
        first_break(&chain, &keys),
        None,
        "the vault's own chain does not verify"
    );

    let mut edited = chain.clone();
    let (at, expect_caught) = match &input.edit {
        Edit::Field {
            record,
            field,
            text,
        } => {
            let at = record % count;
            let entry = &mut edited[at].entry;
            let slot = match field % 6 {
                0 => &mut entry.id,
                1 => &mut entry.principal,
                2 => &mut entry.action,
                3 => &mut entry.outcome,
                4 => &mut entry.request_id,
                _ => {
                    let changed = entry.target.as_deref() != Some(text.as_str());
                    entry.target = Some(text.clone());
                    return assert_caught(&edited, &keys, at, changed);
                }
            };
            let changed = *slot != *text;
            slot.clone_from(text);
            (at, changed)
        }
        Edit::Drop { record } => {
            let at = record % count;
            edited.remove(at);
            // Dropping the newest record leaves a shorter chain that is still whole:
            // the checkpoints outside the database catch a truncated tail.
            (at, at + 1 < count)
        }
        Edit::Swap { record } => {
            let at = record % count;
            if at + 1 >= count {
                return;
            }
            edited.swap(at, at + 1);
            (at, true)
        }
        Edit::Recompute { record } => {
            let at = record % count;
            if at < keyed_from {
                return;
            }
            let r = &mut edited[at];
            r.hash = chain_hash(r.seq, &r.entry, &r.previous_hash);
            (at, true)
        }
        Edit::Downgrade { record } => {
            let at = record % count;
            if at < keyed_from {
                return;
            }
            let tail: Vec<AuditEntry> = edited[at..].iter().map(|r| r.entry.clone()).collect();
            let mut previous = if at == 0 {
                GENESIS_HASH
            } else {
                edited[at - 1].hash
            };
            for (offset, entry) in tail.into_iter().enumerate() {
                let record = ChainedAudit::link(at as u64 + 1 + offset as u64, entry, previous);
                previous = record.hash;
                edited[at + offset] = record;
            }
            // Plain records after a keyed one are a downgrade. Redone from the first
            // keyed record on, the chain is a whole plain one: nothing in the database
            // tells, and the checkpoints (which record where keying began) catch it.
            (at, at > keyed_from)
        }
    };
    assert_caught(&edited, &keys, at, expect_caught);
}

fuzz_target!(|input: Input| check(input));

fn assert_caught(edited: &[ChainedAudit], keys: &IntegrityKeys, at: usize, expect: bool) {
    let found = first_break(edited, keys);
    if expect {
        let seq = found.unwrap_or_else(|| panic!("an edit at record {} went unnoticed", at + 1));
        assert!(
            seq <= at as u64 + 2,
            "the edit at record {} was caught only at {seq}",
            at + 1
        );
    }
}

/// Outside `cargo fuzz` (no `--cfg fuzzing`) this is a plain program with nothing to
/// do; its test replays the committed seeds, findings included, on every `cargo test`.
#[cfg(not(any(fuzzing, test)))]
fn main() {}

#[test]
fn every_seed_holds() {
    vault_fuzz::replay_seeds("integrity_macs", |bytes| {
        if let Some(input) = vault_fuzz::typed(bytes) {
            check(input);
        }
    });
}
