//! A sealed envelope opens only under its own binding, to the value sealed. The input
//! chooses the value, the row it is sealed for, and one change an attacker with write
//! access to the database makes: move it to another row (secret id, version, owner or
//! name) or flip one bit of it. Either change must make the open fail.
#![cfg_attr(fuzzing, no_main)]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use vault_core::{
    Owner, ProjectId, SecretId, SecretName, SecretValue, UserId, Version, WorkspaceId,
};
use vault_fuzz::{Row, sealer};
use vault_kms::Envelope;

#[derive(Arbitrary, Debug)]
enum OwnerInput {
    User(String),
    Workspace(String),
    Project(String),
}

#[derive(Arbitrary, Debug)]
struct RowInput {
    secret_suffix: String,
    version: u32,
    owner: OwnerInput,
    name: String,
}

#[derive(Arbitrary, Debug)]
enum Tamper {
    /// Open for another row: the same envelope copied next to other metadata.
    MoveTo(RowInput),
    /// Flip bit `bit % 8` of byte `at % len`.
    FlipBit { at: usize, bit: u8 },
}

#[derive(Arbitrary, Debug)]
struct Input {
    value: String,
    row: RowInput,
    tamper: Tamper,
}

/// The row `input` spells, each field falling back to the fixture's when it does not
/// parse (the parsers have their own targets).
fn row(input: &RowInput) -> Row {
    let base = &sealer().row;
    let owner = match &input.owner {
        OwnerInput::User(id) => UserId::parse(id).ok().map(Owner::User),
        OwnerInput::Workspace(id) => WorkspaceId::parse(id).ok().map(Owner::Workspace),
        OwnerInput::Project(id) => ProjectId::parse(id).ok().map(Owner::Project),
    };
    Row {
        secret_id: SecretId::parse(&format!("sec_{}", input.secret_suffix))
            .unwrap_or_else(|_| base.secret_id.clone()),
        version: Version::new(input.version).unwrap_or(base.version),
        owner: owner.unwrap_or_else(|| base.owner.clone()),
        name: SecretName::parse(&input.name).unwrap_or_else(|_| base.name.clone()),
    }
}

fn check(input: Input) {
    let Ok(value) = SecretValue::new(input.value) else {
        return;
    };
    let sealer = sealer();
    let own = row(&input.row);
    let envelope = sealer.seal(&own, &value);
    let opened = sealer.open(&own, &envelope);
    assert!(
        opened.as_ref() == Some(&value),
        "an envelope does not open to its value under its own binding"
    );
    match input.tamper {
        Tamper::MoveTo(other) => {
            let other = row(&other);
            if other != own {
                assert!(
                    sealer.open(&other, &envelope).is_none(),
                    "an envelope opened for another row"
                );
            }
        }
        Tamper::FlipBit { at, bit } => {
            let mut bytes = envelope.to_bytes();
            let at = at % bytes.len();
            bytes[at] ^= 1 << (bit % 8);
            if let Ok(flipped) = Envelope::from_bytes(&bytes) {
                assert!(
                    sealer.open(&own, &flipped).is_none(),
                    "an envelope with byte {at} changed still opened"
                );
            }
        }
    }
}

fuzz_target!(|input: Input| check(input));

/// Outside `cargo fuzz` (no `--cfg fuzzing`) this is a plain program with nothing to
/// do; its test replays the committed seeds, findings included, on every `cargo test`.
#[cfg(not(any(fuzzing, test)))]
fn main() {}

#[test]
fn every_seed_holds() {
    vault_fuzz::replay_seeds("envelope_binding", |bytes| {
        if let Some(input) = vault_fuzz::typed(bytes) {
            check(input);
        }
    });
}
