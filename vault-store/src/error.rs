//! `StoreError`: everything a store call can fail with, with no diesel type in sight,
//! so vault-api maps it to HTTP once and nothing else learns which database is behind.

use std::fmt;

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use vault_core::{CoreError, Overlap};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entity {
    Secret,
    SecretVersion,
    Project,
    Milestone,
    Member,
    Kek,
    Token,
    WorkspaceAdmin,
    WorkspaceMember,
    Webhook,
    WebhookDelivery,
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Entity::Secret => "secret",
            Entity::SecretVersion => "secret version",
            Entity::Project => "project",
            Entity::Milestone => "milestone",
            Entity::Member => "project member",
            Entity::Kek => "key-encryption key",
            Entity::Token => "token",
            Entity::WorkspaceAdmin => "workspace admin",
            Entity::WorkspaceMember => "workspace member",
            Entity::Webhook => "webhook",
            Entity::WebhookDelivery => "webhook delivery",
        })
    }
}

/// Why a write could not be applied as asked, although the input was well-formed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Conflict {
    /// The name already reaches some of these targets within the same owner.
    Overlap(Overlap),
    /// Another writer moved the secret on since the caller read it.
    StaleVersion { expected: u32, current: u32 },
    /// A row with this identity exists already.
    AlreadyExists(Entity),
    /// The change would leave the project without an Accountable member.
    LastAccountable,
    /// A concurrent writer claimed the same audit chain position first.
    AuditChainMoved,
    /// The revocation would leave no live operator token.
    LastOperatorToken,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Conflict::Overlap(overlap) => overlap.fmt(f),
            Conflict::StaleVersion { expected, current } => write!(
                f,
                "the secret is at version {current}, not the expected version {expected}"
            ),
            Conflict::AlreadyExists(entity) => write!(f, "this {entity} already exists"),
            Conflict::LastAccountable => {
                f.write_str("a project must keep at least one accountable member")
            }
            Conflict::AuditChainMoved => f.write_str("another audit record took this position"),
            Conflict::LastOperatorToken => f.write_str(
                "this is the last live operator token; issue another first (`vault-api token \
                 create --kind operator` on the host), or revoke it there",
            ),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(Entity),

    #[error("conflict: {0}")]
    Conflict(Conflict),

    /// Input the caller should have refused; names the field.
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },

    /// The owner already holds as many entries as it may (`StoreConfig::max_entries_per_owner`).
    #[error("the owner already holds {limit} entries, the most one owner may hold")]
    EntryLimit { limit: u32 },

    /// The database could not be reached or did not answer in time; worth a retry.
    #[error("the database is unavailable: {detail}")]
    Unavailable { detail: String },

    /// A stored row that the domain rules refuse: the database was edited behind the
    /// vault's back, or a migration is missing.
    #[error("stored data is inconsistent: {detail}")]
    Corrupt { detail: String },

    /// A secret row whose disclosure state does not match its integrity MAC: edited
    /// behind the vault's back (a version rolled back, a scope widened, a target
    /// removed, an expiry cleared). It is never served.
    #[error(
        "secret {secret_id}: its row does not match its integrity MAC; it was changed outside the vault"
    )]
    Tampered { secret_id: String },

    /// The audit chain is keyed (or the vault holds an integrity master) and this store
    /// was opened without the keys: it may not write.
    #[error(
        "this vault's records are keyed by its integrity master; open it with the root key configuration to write"
    )]
    IntegrityKeyRequired,
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    pub(crate) fn invalid(field: &'static str, reason: impl fmt::Display) -> Self {
        StoreError::Invalid {
            field,
            reason: reason.to_string(),
        }
    }

    pub(crate) fn corrupt(what: &str, error: impl fmt::Display) -> Self {
        StoreError::Corrupt {
            detail: format!("{what}: {error}"),
        }
    }

    /// Turns a row's domain-parse failure into `Corrupt`, naming the column.
    pub(crate) fn stored(column: &'static str) -> impl FnOnce(CoreError) -> StoreError {
        move |error| StoreError::corrupt(column, error)
    }
}

impl From<DieselError> for StoreError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::NotFound => StoreError::Corrupt {
                detail: "a row the store had just read disappeared".into(),
            },
            // Only the database's own one-line message: PostgreSQL's detail lines can
            // quote the offending key, and the store never passes row values on.
            DieselError::DatabaseError(kind, info) => match kind {
                DatabaseErrorKind::UniqueViolation => StoreError::Conflict(
                    Conflict::AlreadyExists(entity_of_constraint(info.constraint_name())),
                ),
                DatabaseErrorKind::ForeignKeyViolation => StoreError::Invalid {
                    field: "reference",
                    reason: "refers to a row that does not exist".into(),
                },
                DatabaseErrorKind::CheckViolation | DatabaseErrorKind::NotNullViolation => {
                    StoreError::Corrupt {
                        detail: format!("a row broke a schema rule: {}", info.message()),
                    }
                }
                DatabaseErrorKind::SerializationFailure
                | DatabaseErrorKind::ClosedConnection
                | DatabaseErrorKind::UnableToSendCommand => StoreError::Unavailable {
                    detail: info.message().to_owned(),
                },
                _ => StoreError::Unavailable {
                    detail: info.message().to_owned(),
                },
            },
            other => StoreError::Unavailable {
                detail: other.to_string(),
            },
        }
    }
}

fn entity_of_constraint(constraint: Option<&str>) -> Entity {
    match constraint.unwrap_or_default() {
        c if c.starts_with("project_members") => Entity::Member,
        c if c.starts_with("project") => Entity::Project,
        c if c.starts_with("milestone") => Entity::Milestone,
        c if c.starts_with("keks") => Entity::Kek,
        c if c.starts_with("api_tokens") => Entity::Token,
        c if c.starts_with("secret_versions") => Entity::SecretVersion,
        _ => Entity::Secret,
    }
}

impl From<diesel::ConnectionError> for StoreError {
    fn from(error: diesel::ConnectionError) -> Self {
        StoreError::Unavailable {
            detail: error.to_string(),
        }
    }
}
