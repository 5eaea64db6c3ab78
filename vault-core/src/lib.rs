//! vault-core: the vault's domain rules, pure. Names, ids, owners and scopes, expiry,
//! masking, categories, the overlap rule and the resolver that merges layers by the
//! precedence policy. No I/O, no async, no clock: `now` is always a parameter.

mod access;
mod action;
mod audit;
mod authz;
mod category;
mod error;
mod event;
mod ids;
mod integrity;
mod limits;
mod mask;
mod name;
mod newtype;
mod overlap;
mod policy;
mod protected;
mod resolve;
mod role;
mod scope;
mod secret;
mod token;
mod value;
mod webhook;

pub use access::{ContextRoles, InjectionRefused, check_injection};
pub use action::AuditAction;
pub use audit::{
    AUDIT_HASH_BYTES, AuditEntry, AuditHash, ChainBreak, ChainFormat, ChainVerifier, ChainedAudit,
    GENESIS_HASH, chain_hash, chain_mac,
};
pub use authz::{ProjectPermission, WorkspacePermission, WorkspaceRole};
pub use category::Category;
pub use error::{CoreError, IdKind};
pub use event::{
    ChangeEvent, EventAudience, EventDetail, EventKind, Reach, StoredEvent, UserStanding,
    due_expiry_lead, event_mac, event_mac_matches,
};
pub use ids::{
    MAX_OPAQUE_ID_LEN, MilestoneId, ProfileId, ProjectId, SecretId, UserId, WorkspaceId, random_id,
};
pub use integrity::{Fields, IntegrityKeys, MAC_BYTES, Mac, MacKey, row_mac, row_mac_matches};
pub use limits::{
    DEFAULT_MAX_ENV_BYTES, ENV_LIMIT_CEILING, EnvLimit, EnvTooLarge, LARGEST_NAMED, env_entry_bytes,
};
pub use mask::{Masked, mask};
pub use name::{EnvName, MAX_NAME_LEN, SecretName};
pub use overlap::{Overlap, check_overlap};
pub use policy::{Layer, PrecedencePolicy};
pub use protected::{BUILT_IN_PROTECTED, ProtectedClass, ProtectedNames, Protection};
pub use resolve::{
    Candidate, ContextFields, EnvMap, Resolution, ResolutionContext, ResolutionInput, Resolved,
    ResolvedValue, SecretRef, SkipReason, Skipped, Source, resolve, resolve_shared,
};
pub use role::ProjectRole;
pub use scope::{MAX_SCOPE_TARGETS, Owner, OwnerKind, Placement, Scope, ScopeKind, TargetSet};
pub use secret::{
    DESCRIPTION_FORBIDDEN_CHARS, Description, ExpiresAt, MAX_DESCRIPTION_CHARS, SecretMeta, Version,
};
pub use token::{TOKEN_RANDOM_CHARS, TokenKind, bearer_credential};
pub use value::{MAX_VALUE_BYTES, REDACTED, SecretValue, VALUE_FORBIDDEN_CHARS};
pub use webhook::{WEBHOOK_SECRET_PREFIX, WebhookSecret, is_public_address, retry_delay};
