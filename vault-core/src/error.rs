//! The one error type of vault-core: every way a domain rule can reject an input.
//!
//! Messages state the rule that was broken and never echo the rejected input, so a
//! value pasted into the wrong field cannot travel into a log line through an error.

use thiserror::Error;

/// Which kind of identifier failed to parse; the API maps it to the field it read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdKind {
    Secret,
    User,
    Profile,
    Workspace,
    Project,
    Milestone,
}

impl IdKind {
    /// The name used for this kind in messages and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            IdKind::Secret => "secret id",
            IdKind::User => "user id",
            IdKind::Profile => "profile id",
            IdKind::Workspace => "workspace id",
            IdKind::Project => "project id",
            IdKind::Milestone => "milestone id",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CoreError {
    #[error("invalid {}: {rule}", kind.as_str())]
    InvalidId { kind: IdKind, rule: &'static str },

    #[error("invalid secret name: {rule}")]
    InvalidName { rule: String },

    #[error("invalid environment variable name: {rule}")]
    InvalidEnvName { rule: String },

    #[error("secret value is {len} bytes; the limit is {max} bytes")]
    ValueTooLarge { len: usize, max: usize },

    #[error("secret value is not valid UTF-8")]
    ValueNotUtf8,

    #[error(
        "secret value is empty; a stored secret needs a value (delete it to stop injecting the name)"
    )]
    ValueEmpty,

    /// The position (in characters, from 1) of the first character no process
    /// environment should hold; never the character itself.
    #[error(
        "secret value holds a NUL or a control character other than tab, line feed and \
         carriage return (character {position})"
    )]
    ValueControlCharacter { position: usize },

    #[error("description is {len} characters; the limit is {max}")]
    DescriptionTooLong { len: usize, max: usize },

    #[error("description must not contain control characters other than newline and tab")]
    DescriptionControlCharacter,

    #[error("unknown category; expected one of {expected}")]
    UnknownCategory { expected: &'static str },

    #[error("unknown scope; expected one of {expected}")]
    UnknownScope { expected: &'static str },

    #[error("unknown role; expected one of {expected}")]
    UnknownRole { expected: &'static str },

    #[error("unknown audit action")]
    UnknownAuditAction,

    #[error("unknown event type")]
    UnknownEventKind,

    #[error("unknown token kind; expected one of {expected}")]
    UnknownTokenKind { expected: &'static str },

    #[error("scope {scope} needs at least one {}", kind.as_str())]
    EmptyTargets { scope: &'static str, kind: IdKind },

    #[error("scope {scope} lists {len} targets; the limit is {max}")]
    TooManyTargets {
        scope: &'static str,
        len: usize,
        max: usize,
    },

    #[error("scope {scope} does not apply to {owner} secrets; {owner} secrets take {allowed}")]
    ScopeOwnerMismatch {
        scope: &'static str,
        owner: &'static str,
        allowed: &'static str,
    },

    #[error("expires_at must be in the future")]
    ExpiryNotInFuture,

    #[error("version numbers start at 1")]
    VersionZero,

    #[error("version number overflow")]
    VersionOverflow,

    #[error("a milestone needs the project it belongs to")]
    MilestoneWithoutProject,

    #[error("precedence policy must list every layer exactly once; {problem}")]
    InvalidPolicy { problem: String },

    /// A stored layer was asked to hold a protected name. Names the entry that
    /// matched (a pattern of the configured list), not the input.
    #[error(
        "is a protected name ({pattern}: {why}); only the orchestrator's profile_env and \
         baseline_env may set it"
    )]
    ProtectedName { pattern: String, why: &'static str },

    #[error("invalid protected name pattern: {rule}")]
    InvalidProtectedPattern { rule: &'static str },

    #[error("{pattern} is not a built-in protected name or under one, so it cannot be released")]
    NotProtected { pattern: String },

    #[error("{pattern} is both added to and released from the protected names")]
    ProtectedNameConflict { pattern: String },

    #[error("the resolved environment limit must be between {min} and {max} bytes")]
    InvalidEnvLimit { min: usize, max: usize },
}
