//! The vault's refusals: RFC 9457 problem documents with a stable `code` (the thing to
//! branch on) and the `field` a refusal is about.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

macro_rules! problem_codes {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)+) => {
        /// Every code the vault answers with. A client built against an older list
        /// reads a newer code as `Unrecognized` (and still has the status and detail).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ProblemCode {
            $($(#[$doc])* $variant,)+
            /// A code this client does not know.
            Unrecognized,
        }

        impl ProblemCode {
            /// Every code the vault sends.
            pub const ALL: &'static [ProblemCode] = &[$(ProblemCode::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ProblemCode::$variant => $name,)+
                    ProblemCode::Unrecognized => "unrecognized",
                }
            }
        }
    };
}

problem_codes! {
    /// The body could not be read.
    MalformedBody => "malformed_body",
    /// The body is not JSON, or not one JSON document.
    MalformedJson => "malformed_json",
    UnknownField => "unknown_field",
    DuplicateField => "duplicate_field",
    /// A field's value breaks its rule; `field` names it.
    InvalidValue => "invalid_value",
    /// A name only the orchestrator's own layers may set.
    ProtectedName => "protected_name",
    /// Targets sent for a scope that takes none, or the other way round.
    ScopeMismatch => "scope_mismatch",
    /// A rollback to a version no longer kept.
    VersionNotKept => "version_not_kept",
    /// `expected_version` is not the current version: someone else changed it first.
    StaleVersion => "stale_version",
    ScopeOverlap => "scope_overlap",
    AlreadyExists => "already_exists",
    LastAccountable => "last_accountable",
    AuditContention => "audit_contention",
    LastOperatorToken => "last_operator_token",
    Unauthenticated => "unauthenticated",
    Forbidden => "forbidden",
    WorkspaceInjectionDenied => "workspace_injection_denied",
    ProjectInjectionDenied => "project_injection_denied",
    TokenKindHostOnly => "token_kind_host_only",
    ClientCertificateRequired => "client_certificate_required",
    IntegrityViolation => "integrity_violation",
    TooManyFailedAuthentications => "too_many_failed_authentications",
    /// This principal compared too many values with stored ones in a short time; retry
    /// after `retry_after` seconds.
    TooManyComparisons => "too_many_comparisons",
    EntryLimitReached => "entry_limit_reached",
    EnvTooLarge => "env_too_large",
    NotFound => "not_found",
    PayloadTooLarge => "payload_too_large",
    UnsupportedMediaType => "unsupported_media_type",
    MethodNotAllowed => "method_not_allowed",
    HeadersTooLarge => "headers_too_large",
    /// The database or the key provider cannot serve now; retry.
    Unavailable => "unavailable",
    RootKeyDisabled => "root_key_disabled",
    RootKeyAccessDenied => "root_key_access_denied",
    RootKeyUnavailable => "root_key_unavailable",
    /// The events after the asked position are no longer kept (retention): start
    /// again from a fresh page and reconcile.
    EventsPruned => "events_pruned",
    /// A stored key does not decrypt under the root key.
    InvalidCiphertext => "invalid_ciphertext",
    Internal => "internal",
}

impl ProblemCode {
    /// The code named `text`; `Unrecognized` for one this client does not know.
    pub fn from_name(text: &str) -> ProblemCode {
        Self::ALL
            .iter()
            .copied()
            .find(|code| code.as_str() == text)
            .unwrap_or(ProblemCode::Unrecognized)
    }

    /// Whether the same request may succeed later without a change.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ProblemCode::Unavailable
                | ProblemCode::AuditContention
                | ProblemCode::RootKeyUnavailable
                | ProblemCode::TooManyFailedAuthentications
                | ProblemCode::TooManyComparisons
        )
    }
}

impl fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ProblemCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ProblemCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|text| ProblemCode::from_name(&text))
    }
}

/// One of the variables that weigh most in an environment refused as too large.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Contributor {
    pub name: String,
    pub bytes: u64,
}

/// An RFC 9457 problem, with a stable `code` and the `field` it is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[schema(value_type = String)]
    pub code: ProblemCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The limit a refusal is about (`entry_limit_reached`, `env_too_large`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// `env_too_large`: the size the environment would have had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// `env_too_large`: the variables that weigh most, by name, largest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub largest: Option<Vec<Contributor>>,
    /// `too_many_*`: the whole seconds to wait before retrying (also `Retry-After`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// The `type` URI of `code`.
    pub fn type_of(code: ProblemCode) -> String {
        format!("https://vault.invalid/problems/{code}")
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{} ({field}): {}", self.code, self.detail),
            None => write!(f, "{}: {}", self.code, self.detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut names: Vec<_> = ProblemCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ProblemCode::ALL.len());
        for code in ProblemCode::ALL {
            assert_eq!(ProblemCode::from_name(code.as_str()), *code);
            let text = serde_json::to_string(code).expect("serializes");
            assert_eq!(serde_json::from_str::<ProblemCode>(&text).ok(), Some(*code));
        }
        assert_eq!(
            ProblemCode::from_name("brand_new"),
            ProblemCode::Unrecognized
        );
        assert!(!ProblemCode::ALL.contains(&ProblemCode::Unrecognized));
    }

    #[test]
    fn a_problem_body_reads_with_and_without_its_optional_members() {
        let text = r#"{"type":"https://vault.invalid/problems/invalid_value","title":"Invalid value",
            "status":422,"detail":"must be at most 200","code":"invalid_value","field":"limit"}"#;
        let problem: Problem = serde_json::from_str(text).expect("parses");
        assert_eq!(problem.code, ProblemCode::InvalidValue);
        assert_eq!(problem.field.as_deref(), Some("limit"));
        assert_eq!(
            problem.to_string(),
            "invalid_value (limit): must be at most 200"
        );
        assert_eq!(Problem::type_of(problem.code), problem.problem_type);
    }
}
