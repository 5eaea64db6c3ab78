//! The keys that make the vault's own records tamper-evident to someone who can write
//! to its database but does not hold its root key: one 256-bit master, held wrapped
//! under the root key like a KEK and never stored in the clear, from which HKDF-SHA256
//! derives a key per use (the audit chain, the disclosure state of each secret row,
//! the checkpoints written outside the database). The MACs here are HMAC-SHA256 over
//! length-prefixed fields, so no two different inputs encode alike.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac as _};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::scope::Scope;
use crate::secret::SecretMeta;

pub const MAC_BYTES: usize = 32;
pub type Mac = [u8; MAC_BYTES];

/// One derived HMAC-SHA256 key; zeroized on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MacKey([u8; 32]);

impl fmt::Debug for MacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MacKey(..)")
    }
}

/// Feeds fields to a MAC, each as a 4-byte big-endian length and its bytes.
pub struct Fields(Hmac<Sha256>);

impl Fields {
    pub fn field(&mut self, bytes: &[u8]) -> &mut Self {
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        self.0.update(&len.to_be_bytes());
        self.0.update(bytes);
        self
    }
}

impl MacKey {
    fn hmac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length; 32 bytes cannot be refused.
        match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts every key length"),
        }
    }

    /// The MAC of `label` and the fields `write` feeds.
    pub fn mac(&self, label: &[u8], write: impl FnOnce(&mut Fields)) -> Mac {
        let mut fields = Fields(self.hmac());
        fields.field(label);
        write(&mut fields);
        fields.0.finalize().into_bytes().into()
    }

    /// Whether `stored` is the MAC of `label` and the fields, compared in constant time.
    pub fn verify(&self, label: &[u8], write: impl FnOnce(&mut Fields), stored: &[u8]) -> bool {
        let mut fields = Fields(self.hmac());
        fields.field(label);
        write(&mut fields);
        fields.0.verify_slice(stored).is_ok()
    }
}

/// The keys derived from the integrity master.
#[derive(Clone, Debug)]
pub struct IntegrityKeys {
    /// Links audit records (`ChainFormat::Keyed`).
    pub chain: MacKey,
    /// Binds each secret row's disclosure state (`row_mac`).
    pub rows: MacKey,
    /// Signs the audit checkpoints written outside the database.
    pub checkpoints: MacKey,
    /// Derives each webhook endpoint's signing secret (`webhook.rs`), so no secret is
    /// stored: write access to the database does not give one away.
    pub webhooks: MacKey,
    /// Binds each change event to its row (`event.rs`): an event written or edited
    /// outside the vault is neither streamed nor delivered, signed, to a webhook.
    pub events: MacKey,
}

const DERIVATION_SALT: &[u8] = b"vault-integrity/v1";

impl IntegrityKeys {
    /// The keys of `master` (32 uniformly random bytes, unwrapped by the root key).
    pub fn derive(master: &[u8; 32]) -> Self {
        let hkdf = hkdf::Hkdf::<Sha256>::new(Some(DERIVATION_SALT), master);
        let key = |info: &[u8]| {
            let mut okm = [0u8; 32];
            // 32 bytes is far below HKDF-SHA256's 8160-byte ceiling.
            if hkdf.expand(info, &mut okm).is_err() {
                unreachable!("32 bytes is a valid HKDF-SHA256 output length");
            }
            MacKey(okm)
        };
        IntegrityKeys {
            chain: key(b"audit-chain"),
            rows: key(b"secret-row"),
            checkpoints: key(b"audit-checkpoint"),
            webhooks: key(b"webhook-signing"),
            events: key(b"change-event"),
        }
    }
}

const ROW_LABEL: &[u8] = b"vault-secret-row/v1";

/// Everything of a secret row that decides who is handed which value: its id, owner,
/// name, current version, scope with its targets, and expiry. Category, description,
/// masking and times do not decide disclosure and are left out, so editing them is
/// not a breach.
fn row_fields(meta: &SecretMeta, fields: &mut Fields) {
    let owner = meta.placement.owner();
    fields
        .field(meta.id.as_str().as_bytes())
        .field(owner.kind().as_str().as_bytes())
        .field(owner.id().as_bytes())
        .field(meta.name.as_str().as_bytes())
        .field(&meta.version.get().to_be_bytes());
    let scope = meta.placement.scope();
    fields.field(scope.kind().as_str().as_bytes());
    let targets: Vec<&str> = match scope {
        Scope::All | Scope::Project => Vec::new(),
        Scope::Agents(profiles) => profiles.iter().map(|p| p.as_str()).collect(),
        Scope::Milestones(milestones) => milestones.iter().map(|m| m.as_str()).collect(),
    };
    fields.field(&(targets.len() as u64).to_be_bytes());
    for target in targets {
        fields.field(target.as_bytes());
    }
    match meta.expires_at {
        Some(at) => fields
            .field(&[1])
            .field(&at.at().timestamp_micros().to_be_bytes()),
        None => fields.field(&[0]),
    };
}

/// The MAC a secret row carries over its disclosure state.
pub fn row_mac(keys: &IntegrityKeys, meta: &SecretMeta) -> Mac {
    keys.rows.mac(ROW_LABEL, |fields| row_fields(meta, fields))
}

/// Whether `stored` is `meta`'s row MAC (constant time).
pub fn row_mac_matches(keys: &IntegrityKeys, meta: &SecretMeta, stored: &[u8]) -> bool {
    keys.rows
        .verify(ROW_LABEL, |fields| row_fields(meta, fields), stored)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::{
        Category, ExpiresAt, MilestoneId, Owner, Placement, ProfileId, ProjectId, SecretId,
        SecretName, UserId, Version,
    };

    fn keys(byte: u8) -> IntegrityKeys {
        IntegrityKeys::derive(&[byte; 32])
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap_or_default()
    }

    fn meta() -> SecretMeta {
        let profiles = ["p1", "p2"].map(|p| ProfileId::parse(p).expect("profile"));
        SecretMeta {
            id: SecretId::parse("sec_aaaaaaaaaaaaaaaaaaaaa").expect("id"),
            name: SecretName::parse("API_KEY").expect("name"),
            placement: Placement::new(
                Owner::User(UserId::parse("alice").expect("user")),
                Scope::agents(profiles).expect("scope"),
            )
            .expect("placement"),
            category: Category::Secret,
            description: None,
            expires_at: Some(ExpiresAt::stored(at(1_900_000_000))),
            version: Version::new(3).expect("version"),
            created_at: at(1_800_000_000),
            updated_at: at(1_800_000_000),
        }
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_by_master() {
        let a = keys(1);
        let sample = |key: &MacKey| {
            key.mac(b"label", |f| {
                f.field(b"x");
            })
        };
        assert_ne!(sample(&a.chain), sample(&a.rows));
        assert_ne!(sample(&a.rows), sample(&a.checkpoints));
        assert_ne!(sample(&a.chain), sample(&a.checkpoints));
        assert_ne!(sample(&a.chain), sample(&keys(2).chain));
        assert_eq!(sample(&a.chain), sample(&keys(1).chain));
        assert_eq!(format!("{:?}", a.chain), "MacKey(..)");
    }

    #[test]
    fn fields_are_length_prefixed_so_boundaries_cannot_shift() {
        let key = keys(1).chain;
        let split = |a: &[u8], b: &[u8]| {
            key.mac(b"l", |f| {
                f.field(a).field(b);
            })
        };
        assert_ne!(split(b"ab", b"c"), split(b"a", b"bc"));
        let mac = split(b"ab", b"c");
        assert!(key.verify(
            b"l",
            |f| {
                f.field(b"ab").field(b"c");
            },
            &mac
        ));
        assert!(!key.verify(
            b"l",
            |f| {
                f.field(b"a").field(b"bc");
            },
            &mac
        ));
        assert!(!key.verify(
            b"l",
            |f| {
                f.field(b"ab").field(b"c");
            },
            &mac[..31]
        ));
    }

    #[test]
    fn every_disclosure_field_of_a_row_is_bound_and_the_rest_are_not() {
        let keys = keys(7);
        let original = meta();
        let mac = row_mac(&keys, &original);
        assert!(row_mac_matches(&keys, &original, &mac));
        type Edit = fn(&mut SecretMeta);
        let bound: [(&str, Edit); 8] = [
            ("id", |m| {
                m.id = SecretId::parse("sec_bbbbbbbbbbbbbbbbbbbbb").expect("id")
            }),
            ("owner", |m| {
                m.placement = Placement::new(
                    Owner::User(UserId::parse("mallory").expect("user")),
                    m.placement.scope().clone(),
                )
                .expect("placement")
            }),
            ("name", |m| {
                m.name = SecretName::parse("API_KEZ").expect("name")
            }),
            ("version", |m| m.version = Version::new(2).expect("version")),
            ("scope widened", |m| {
                m.placement =
                    Placement::new(m.placement.owner().clone(), Scope::All).expect("placement")
            }),
            ("a target removed", |m| {
                m.placement = Placement::new(
                    m.placement.owner().clone(),
                    Scope::agents([ProfileId::parse("p1").expect("profile")]).expect("scope"),
                )
                .expect("placement")
            }),
            ("expiry cleared", |m| m.expires_at = None),
            ("expiry moved", |m| {
                m.expires_at = Some(ExpiresAt::stored(at(1_900_000_001)))
            }),
        ];
        for (what, edit) in bound {
            let mut edited = original.clone();
            edit(&mut edited);
            assert!(
                !row_mac_matches(&keys, &edited, &mac),
                "{what} is not bound"
            );
        }
        let free: [(&str, Edit); 3] = [
            ("category", |m| m.category = Category::ApiKey),
            ("updated_at", |m| m.updated_at = at(1_850_000_000)),
            ("created_at", |m| m.created_at = at(1_700_000_000)),
        ];
        for (what, edit) in free {
            let mut edited = original.clone();
            edit(&mut edited);
            assert!(
                row_mac_matches(&keys, &edited, &mac),
                "{what} should not be bound"
            );
        }
        // Another vault's key does not vouch for this row.
        assert!(!row_mac_matches(
            &IntegrityKeys::derive(&[8; 32]),
            &original,
            &mac
        ));
        // A project entry's milestones are bound the same way.
        let project = Owner::Project(ProjectId::parse("apollo").expect("project"));
        let milestones = |ids: &[&str]| {
            Scope::milestones(
                ids.iter()
                    .map(|m| MilestoneId::parse(m).expect("milestone")),
            )
            .expect("scope")
        };
        let mut entry = original.clone();
        entry.placement = Placement::new(project.clone(), milestones(&["m1", "m2"])).expect("p");
        let mac = row_mac(&keys, &entry);
        entry.placement = Placement::new(project, milestones(&["m1"])).expect("p");
        assert!(!row_mac_matches(&keys, &entry, &mac));
    }
}
