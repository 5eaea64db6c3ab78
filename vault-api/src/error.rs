//! The one error type of vault-api, mapped once to an HTTP status and an
//! `application/problem+json` body with a stable `code`. Details of server-side
//! failures go to the log (they never hold a value); their bodies stay generic.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use thiserror::Error;
use vault_client::wire::RootKeyState;
use vault_client::{Contributor, Problem, ProblemCode};
use vault_core::{CoreError, EnvTooLarge, InjectionRefused};
use vault_kms::KmsError;
use vault_store::{Conflict, StoreError};

#[derive(Debug, Error)]
pub enum ApiError {
    /// The body is not JSON, or not the JSON object this route takes.
    #[error("{detail}")]
    Malformed {
        code: ProblemCode,
        detail: String,
        field: Option<String>,
    },

    /// Well-formed input that a rule refuses; names the field. `code` is
    /// `invalid_value` unless the rule has a code of its own (`protected_name`).
    #[error("invalid {field}: {detail}")]
    Invalid {
        code: ProblemCode,
        field: String,
        detail: String,
    },

    #[error("a valid bearer token is required")]
    Unauthenticated,

    #[error("{0}")]
    Forbidden(String),

    /// The context's user may not have one of its layers injected: the whole
    /// resolution, session or lookup is refused.
    #[error("{0}")]
    InjectionRefused(InjectionRefused),

    /// Operator and orchestrator tokens are minted on the host (`vault-api token
    /// create`), never over HTTP.
    #[error(
        "{kind} tokens are issued only on the vault's host, with `vault-api token create`; \
         over HTTP an operator issues user tokens"
    )]
    HostOnlyToken { kind: &'static str },

    /// This vault pins orchestrators by their TLS client certificate as well as their
    /// token (`VAULT_TLS_CLIENT_AUTH=optional`), and the connection presented none.
    #[error(
        "orchestrator tokens are accepted here only over a connection with a client \
         certificate signed by VAULT_TLS_CLIENT_CA_FILE"
    )]
    ClientCertificateRequired,

    /// A stored record failed its integrity check (edited outside the vault): nothing
    /// it touches is served. `detail` names it, for the log only.
    #[error("integrity check failed: {detail}")]
    IntegrityViolation { detail: String },

    /// Too many failed authentications from this address; `retry_after` seconds.
    #[error("too many failed authentications from this address; retry after {retry_after} s")]
    TooManyFailures { retry_after: u64 },

    /// This principal compared too many values in a short time; `retry_after` seconds.
    #[error(
        "too many value comparisons by this principal (VAULT_COMPARISONS_PER_MINUTE); \
         retry after {retry_after} s"
    )]
    TooManyComparisons { retry_after: u64 },

    /// The owner already holds as many entries as it may.
    #[error(
        "this owner already holds {limit} entries, the most one owner may hold \
         (VAULT_MAX_ENTRIES_PER_OWNER); delete one first"
    )]
    EntryLimit { limit: u32 },

    /// The resolved environment would be too large to start a process with.
    #[error("{0} (VAULT_MAX_ENV_BYTES)")]
    EnvTooLarge(EnvTooLarge),

    #[error("{0} not found")]
    NotFound(&'static str),

    /// A reader asked for events after `after`, but retention has deleted some of the
    /// ones that followed it: it would miss them, so it is told instead.
    #[error(
        "the events after {after} are no longer kept (the oldest kept is {oldest}); read a \
         fresh page without `after` and reconcile what you hold"
    )]
    EventsPruned {
        after: u64,
        oldest: u64,
        field: &'static str,
    },

    #[error("{detail}")]
    Conflict { code: ProblemCode, detail: String },

    #[error("the request body is over the {limit} byte limit")]
    PayloadTooLarge { limit: usize },

    #[error("this route does not take that method")]
    MethodNotAllowed,

    /// The request's header section is over `MAX_HEADER_BYTES` or `MAX_HEADERS`.
    #[error(
        "the request's headers are too large: at most {max_headers} fields and {max_bytes} \
         bytes in all"
    )]
    HeadersTooLarge {
        max_headers: usize,
        max_bytes: usize,
    },

    #[error("the request body must be application/json")]
    UnsupportedMediaType,

    /// The database or the key provider cannot serve now; the client may retry.
    #[error("service unavailable: {detail}")]
    Unavailable { detail: String },

    /// The root key provider refused or failed: `failure` says which way, so
    /// operators can tell a disabled key from missing permissions from an unreachable
    /// KMS.
    #[error("root key: {detail}")]
    RootKey {
        failure: RootKeyFailure,
        detail: String,
    },

    #[error("internal error: {detail}")]
    Internal { detail: String },

    /// The server cannot start as configured; never reaches a client.
    #[error("{detail}")]
    Config { detail: String },
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn invalid(field: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        ApiError::Invalid {
            code: ProblemCode::InvalidValue,
            field: field.into(),
            detail: detail.to_string(),
        }
    }

    /// A domain rule's refusal of `field`.
    pub fn core(field: impl Into<String>) -> impl FnOnce(CoreError) -> ApiError {
        let field = field.into();
        move |error| ApiError::Invalid {
            code: match error {
                CoreError::ProtectedName { .. } => ProblemCode::ProtectedName,
                _ => ProblemCode::InvalidValue,
            },
            field,
            detail: error.to_string(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Malformed { .. } => StatusCode::BAD_REQUEST,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_)
            | ApiError::InjectionRefused(_)
            | ApiError::HostOnlyToken { .. }
            | ApiError::ClientCertificateRequired => StatusCode::FORBIDDEN,
            ApiError::TooManyFailures { .. } | ApiError::TooManyComparisons { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::EntryLimit { .. } | ApiError::EnvTooLarge(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::EventsPruned { .. } => StatusCode::GONE,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::RootKey { failure, .. } if failure.is_retryable() => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::RootKey { .. } | ApiError::IntegrityViolation { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ApiError::Internal { .. } | ApiError::Config { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The stable machine-readable code; also the outcome audit records carry.
    pub fn code(&self) -> ProblemCode {
        match self {
            ApiError::Malformed { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::Invalid { code, .. } => *code,
            ApiError::Unauthenticated => ProblemCode::Unauthenticated,
            ApiError::Forbidden(_) => ProblemCode::Forbidden,
            ApiError::InjectionRefused(InjectionRefused::Workspace { .. }) => {
                ProblemCode::WorkspaceInjectionDenied
            }
            ApiError::InjectionRefused(InjectionRefused::Project { .. }) => {
                ProblemCode::ProjectInjectionDenied
            }
            ApiError::HostOnlyToken { .. } => ProblemCode::TokenKindHostOnly,
            ApiError::ClientCertificateRequired => ProblemCode::ClientCertificateRequired,
            ApiError::IntegrityViolation { .. } => ProblemCode::IntegrityViolation,
            ApiError::TooManyFailures { .. } => ProblemCode::TooManyFailedAuthentications,
            ApiError::TooManyComparisons { .. } => ProblemCode::TooManyComparisons,
            ApiError::EntryLimit { .. } => ProblemCode::EntryLimitReached,
            ApiError::EnvTooLarge(_) => ProblemCode::EnvTooLarge,
            ApiError::NotFound(_) => ProblemCode::NotFound,
            ApiError::EventsPruned { .. } => ProblemCode::EventsPruned,
            ApiError::PayloadTooLarge { .. } => ProblemCode::PayloadTooLarge,
            ApiError::UnsupportedMediaType => ProblemCode::UnsupportedMediaType,
            ApiError::MethodNotAllowed => ProblemCode::MethodNotAllowed,
            ApiError::HeadersTooLarge { .. } => ProblemCode::HeadersTooLarge,
            ApiError::Unavailable { .. } => ProblemCode::Unavailable,
            ApiError::RootKey { failure, .. } => failure.code(),
            ApiError::Internal { .. } | ApiError::Config { .. } => ProblemCode::Internal,
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::Malformed { .. } => "Malformed request",
            ApiError::Invalid { .. } => "Invalid value",
            ApiError::Unauthenticated => "Unauthenticated",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::InjectionRefused(_) => "Context not permitted",
            ApiError::HostOnlyToken { .. } => "Token kind issued on the host only",
            ApiError::ClientCertificateRequired => "Client certificate required",
            ApiError::IntegrityViolation { .. } => "Integrity check failed",
            ApiError::TooManyFailures { .. } => "Too many failed authentications",
            ApiError::TooManyComparisons { .. } => "Too many comparisons",
            ApiError::EntryLimit { .. } => "Entry limit reached",
            ApiError::EnvTooLarge(_) => "Environment too large",
            ApiError::NotFound(_) => "Not found",
            ApiError::EventsPruned { .. } => "Events no longer kept",
            ApiError::Conflict { .. } => "Conflict",
            ApiError::PayloadTooLarge { .. } => "Payload too large",
            ApiError::UnsupportedMediaType => "Unsupported media type",
            ApiError::MethodNotAllowed => "Method not allowed",
            ApiError::HeadersTooLarge { .. } => "Request headers too large",
            ApiError::Unavailable { .. } => "Service unavailable",
            ApiError::RootKey { .. } => "Root key unusable",
            ApiError::Internal { .. } | ApiError::Config { .. } => "Internal error",
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            ApiError::Malformed { field, .. } => field.as_deref(),
            ApiError::Invalid { field, .. } => Some(field),
            ApiError::InjectionRefused(refused) => Some(refused.field()),
            ApiError::HostOnlyToken { .. } => Some("kind"),
            ApiError::EventsPruned { field, .. } => Some(field),
            _ => None,
        }
    }

    fn limit(&self) -> Option<u64> {
        match self {
            ApiError::EntryLimit { limit } => Some(u64::from(*limit)),
            ApiError::EnvTooLarge(too_large) => u64::try_from(too_large.limit).ok(),
            _ => None,
        }
    }

    /// The seconds a throttled caller waits, for the body and `Retry-After`.
    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::TooManyFailures { retry_after }
            | ApiError::TooManyComparisons { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    fn public_detail(&self) -> String {
        match self {
            ApiError::Unavailable { .. } => {
                "the vault cannot serve this request right now; retry later".into()
            }
            ApiError::RootKey { failure, .. } => failure.public_detail().into(),
            ApiError::Internal { .. } | ApiError::Config { .. } => {
                "the vault failed to handle this request".into()
            }
            ApiError::IntegrityViolation { .. } => "a stored record failed its integrity \
                check (it was changed outside the vault); nothing was disclosed. An operator \
                should run `vault-api audit verify` and restore the record"
                .into(),
            other => other.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(code = %self.code(), error = %self, "request failed");
        }
        let code = self.code();
        let (bytes, largest) = match &self {
            ApiError::EnvTooLarge(too_large) => (
                u64::try_from(too_large.bytes).ok(),
                Some(
                    too_large
                        .largest
                        .iter()
                        .map(|(name, bytes)| Contributor {
                            name: name.as_str().to_owned(),
                            bytes: u64::try_from(*bytes).unwrap_or(u64::MAX),
                        })
                        .collect(),
                ),
            ),
            _ => (None, None),
        };
        let problem = Problem {
            problem_type: Problem::type_of(code),
            title: self.title().to_owned(),
            status: status.as_u16(),
            detail: self.public_detail(),
            code,
            field: self.field().map(str::to_owned),
            limit: self.limit(),
            bytes,
            largest,
            retry_after: self.retry_after(),
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
            .extensions_mut()
            .insert(crate::app::AnsweredWith(code));
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(retry_after) = problem.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(entity) => ApiError::NotFound(match entity {
                vault_store::Entity::Secret => "secret",
                vault_store::Entity::SecretVersion => "secret version",
                vault_store::Entity::Project => "project",
                vault_store::Entity::Milestone => "milestone",
                vault_store::Entity::Member => "member",
                vault_store::Entity::Kek => "key",
                vault_store::Entity::Token => "token",
                vault_store::Entity::WorkspaceAdmin => "workspace admin",
                vault_store::Entity::WorkspaceMember => "workspace member",
                vault_store::Entity::Webhook => "webhook",
                vault_store::Entity::WebhookDelivery => "webhook delivery",
            }),
            StoreError::Conflict(conflict) => {
                let code = match &conflict {
                    Conflict::Overlap(_) => ProblemCode::ScopeOverlap,
                    Conflict::StaleVersion { .. } => ProblemCode::StaleVersion,
                    Conflict::AlreadyExists(_) => ProblemCode::AlreadyExists,
                    Conflict::LastAccountable => ProblemCode::LastAccountable,
                    Conflict::AuditChainMoved => ProblemCode::AuditContention,
                    Conflict::LastOperatorToken => ProblemCode::LastOperatorToken,
                };
                ApiError::Conflict {
                    code,
                    detail: conflict.to_string(),
                }
            }
            StoreError::Invalid { field, reason } => ApiError::invalid(field, reason),
            StoreError::EntryLimit { limit } => ApiError::EntryLimit { limit },
            StoreError::Unavailable { detail } => ApiError::Unavailable { detail },
            StoreError::Tampered { secret_id } => ApiError::IntegrityViolation {
                detail: format!("secret {secret_id}: its row does not match its MAC"),
            },
            StoreError::IntegrityKeyRequired => ApiError::Internal {
                detail: StoreError::IntegrityKeyRequired.to_string(),
            },
            StoreError::Corrupt { detail } => ApiError::Internal {
                detail: format!("stored data is inconsistent: {detail}"),
            },
        }
    }
}

impl From<KmsError> for ApiError {
    fn from(error: KmsError) -> Self {
        match error {
            KmsError::RootKeyDisabled { .. } => ApiError::RootKey {
                failure: RootKeyFailure::Disabled,
                detail: error.to_string(),
            },
            KmsError::RootAccessDenied { .. } => ApiError::RootKey {
                failure: RootKeyFailure::AccessDenied,
                detail: error.to_string(),
            },
            KmsError::RootProviderUnavailable { .. } => ApiError::RootKey {
                failure: RootKeyFailure::Unavailable,
                detail: error.to_string(),
            },
            KmsError::KekUnwrapFailed { .. } => ApiError::RootKey {
                failure: RootKeyFailure::InvalidCiphertext,
                detail: error.to_string(),
            },
            KmsError::KekContention => ApiError::Unavailable {
                detail: error.to_string(),
            },
            KmsError::KekStorage { detail } => ApiError::Unavailable { detail },
            other => ApiError::Internal {
                detail: other.to_string(),
            },
        }
    }
}

/// How the root key provider failed, each with its code, its status and what a client
/// is told; readiness reports the same states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootKeyFailure {
    Disabled,
    AccessDenied,
    Unavailable,
    /// A stored key does not decrypt under the root key: no retry helps.
    InvalidCiphertext,
}

impl RootKeyFailure {
    pub fn code(self) -> ProblemCode {
        match self {
            RootKeyFailure::Disabled => ProblemCode::RootKeyDisabled,
            RootKeyFailure::AccessDenied => ProblemCode::RootKeyAccessDenied,
            RootKeyFailure::Unavailable => ProblemCode::RootKeyUnavailable,
            RootKeyFailure::InvalidCiphertext => ProblemCode::InvalidCiphertext,
        }
    }

    /// An operator can fix it without a restart: the same request may then succeed.
    pub fn is_retryable(self) -> bool {
        !matches!(self, RootKeyFailure::InvalidCiphertext)
    }

    pub fn state(self) -> RootKeyState {
        match self {
            RootKeyFailure::Disabled => RootKeyState::Disabled,
            RootKeyFailure::AccessDenied => RootKeyState::AccessDenied,
            RootKeyFailure::Unavailable => RootKeyState::Unavailable,
            RootKeyFailure::InvalidCiphertext => RootKeyState::InvalidCiphertext,
        }
    }

    fn public_detail(self) -> &'static str {
        match self {
            RootKeyFailure::Disabled => {
                "the vault's root key is disabled; nothing can be decrypted or sealed until \
                 an operator enables it"
            }
            RootKeyFailure::AccessDenied => {
                "the vault may not use its root key (permissions); an operator must fix its \
                 access"
            }
            RootKeyFailure::InvalidCiphertext => "a stored key does not decrypt under the root key",
            RootKeyFailure::Unavailable => "the root key provider is unreachable; retry later",
        }
    }
}
