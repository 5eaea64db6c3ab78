//! The secret types the store's callers pass and get back: what a write carries, a
//! page of a list and its cursor, and sealed bytes (opaque to the store).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use vault_core::{
    Category, Description, ExpiresAt, Owner, OwnerKind, Placement, Scope, SecretId, SecretName,
    Version,
};

use crate::error::{StoreError, StoreResult};

/// One sealed value as vault-kms produced it: opaque bytes to the store, with the id of
/// the KEK that wraps its data key.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub envelope: Vec<u8>,
    pub kek_id: String,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed")
            .field("envelope_bytes", &self.envelope.len())
            .field("kek_id", &self.kek_id)
            .finish()
    }
}

#[derive(Clone, Debug)]
pub struct NewSecret {
    pub id: SecretId,
    pub name: SecretName,
    pub placement: Placement,
    pub category: Category,
    pub description: Option<Description>,
    pub expires_at: Option<ExpiresAt>,
    /// Version 1's value, sealed for (id, version 1, owner, name).
    pub value: Sealed,
    /// Version 1's value masked (vault-core's `mask`), what lists show.
    pub masked: String,
    pub now: DateTime<Utc>,
}

/// A new current version: a rotation, or a rollback when `restored_from` is set.
#[derive(Clone, Debug)]
pub struct NewValue {
    /// Sealed for version `expected_version + 1`.
    pub sealed: Sealed,
    pub masked: String,
    pub restored_from: Option<Version>,
}

/// A change to one secret; fields left `None` stay as they are.
#[derive(Clone, Debug, Default)]
pub struct SecretUpdate {
    /// Refuse the update unless the secret is at this version. Required with `value`,
    /// whose envelope is sealed for the version after it.
    pub expected_version: Option<Version>,
    pub value: Option<NewValue>,
    pub scope: Option<Scope>,
    pub category: Option<Category>,
    pub description: Option<Option<Description>>,
    pub expires_at: Option<Option<ExpiresAt>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionInfo {
    pub version: Version,
    pub kek_id: String,
    pub masked: String,
    pub restored_from: Option<Version>,
    pub created_at: DateTime<Utc>,
}

/// Where a list page starts: after this (name, id). Opaque to API clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListCursor {
    pub(super) name: SecretName,
    pub(super) id: SecretId,
}

impl ListCursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}\n{}", self.name.as_str(), self.id.as_str()))
    }

    pub fn decode(token: &str) -> StoreResult<Self> {
        let refused = || StoreError::invalid("cursor", "is not a cursor this vault issued");
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| refused())?;
        let text = String::from_utf8(bytes).map_err(|_| refused())?;
        let (name, id) = text.split_once('\n').ok_or_else(refused)?;
        Ok(ListCursor {
            name: SecretName::parse(name).map_err(|_| refused())?,
            id: SecretId::parse(id).map_err(|_| refused())?,
        })
    }
}

pub const MAX_PAGE_SIZE: u32 = 200;

/// Whose secrets a list page holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListOwner {
    One(Owner),
    /// Every owner of this kind (operators browsing everything).
    EveryOf(OwnerKind),
}

impl From<Owner> for ListOwner {
    fn from(owner: Owner) -> Self {
        ListOwner::One(owner)
    }
}

#[derive(Clone, Debug)]
pub struct SecretQuery {
    pub owner: ListOwner,
    pub name_prefix: Option<String>,
    pub category: Option<Category>,
    /// `Some(true)`: only expired; `Some(false)`: only live.
    pub expired: Option<bool>,
    pub now: DateTime<Utc>,
    /// 1 to `MAX_PAGE_SIZE`.
    pub limit: u32,
    pub after: Option<ListCursor>,
}

#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<ListCursor>,
}
