//! What a comparison answers, documented once for the three entry kinds' `…/compare`
//! routes (user secrets, workspace keys, project entries), which differ only in how the
//! entry is found.

use utoipa::IntoResponses;
use vault_client::wire::ValueComparison;

/// The answers of `POST …/compare`. Only the OpenAPI document uses this type.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum ComparisonResponses {
    /// Whether the value is the entry's current one, and that version.
    #[response(status = 200)]
    Compared(ValueComparison),
    /// An operator token (operators never learn anything of a value), a session token,
    /// or a principal that may see the entry but not rotate it (`forbidden`).
    #[response(status = 403)]
    Forbidden,
    /// No such entry, or one this principal may not see.
    #[response(status = 404)]
    NotFound,
    /// A value the vault would not store, which no entry can hold (`invalid_value`,
    /// field `value`).
    #[response(status = 422)]
    InvalidValue,
    /// This principal's comparison budget (`VAULT_COMPARISONS_PER_MINUTE`) is spent
    /// (`too_many_comparisons`, with `retry_after` and `Retry-After`).
    #[response(status = 429)]
    TooManyComparisons,
}
