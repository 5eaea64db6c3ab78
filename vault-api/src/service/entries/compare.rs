//! Comparing a value with an entry's current one, changing nothing: how an import
//! tells `unchanged` from `rotate` when no human may read a value back. Each answer
//! says whether a guess is right, so it is given only to principals who may rotate the
//! entry anyway (never to operators, who never learn anything of a value), spends the
//! caller's comparison budget, and is recorded, with whether it matched, before it is
//! given.

use serde_json::json;
use vault_client::wire::{CompareValue, ValueComparison};
use vault_core::{AuditAction, SecretMeta};
use vault_kms::SealBinding;
use vault_store::TokenKind;

use crate::auth::{Caller, Principal};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::value::IncomingValue;

use super::target;

/// Whose budget a comparison spends: a user's, across all their tokens; for the other
/// kinds, the token's own.
fn budget_key(principal: &Principal) -> String {
    match &principal.caller {
        Caller::User(user) => format!("user:{user}"),
        _ => format!("token:{}", principal.token_id),
    }
}

/// Whether `body`'s value is `meta`'s current one. The caller has already been
/// allowed to rotate `meta`.
pub(crate) async fn compare(
    state: &AppState,
    principal: &Principal,
    meta: SecretMeta,
    body: CompareValue,
) -> ApiResult<ValueComparison> {
    principal.ctx.note_action(AuditAction::SecretCompare);
    if principal.kind() == TokenKind::Operator {
        return Err(ApiError::Forbidden(
            "operators may not compare values: the answer tells whether a guess is the \
             stored value"
                .into(),
        ));
    }
    state
        .comparisons
        .spend(&budget_key(principal))
        .map_err(|retry_after| ApiError::TooManyComparisons { retry_after })?;
    let candidate = body.value.into_stored("value")?;
    let sealed = state
        .store
        .sealed_version(meta.id.clone(), meta.version)
        .await?;
    let envelope = vault_kms::Envelope::from_bytes(&sealed.envelope)?;
    let current = state
        .keyring
        .open(
            &SealBinding {
                secret_id: &meta.id,
                version: meta.version,
                owner: meta.placement.owner(),
                name: &meta.name,
            },
            &envelope,
        )
        .await?;
    // SecretValue compares in constant time: the answer's timing says no more than
    // the answer.
    let matches = current == candidate;
    drop((current, candidate));
    let mut record_target = target(&meta);
    record_target["version"] = json!(meta.version.get());
    record_target["matches"] = json!(matches);
    let record = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        AuditAction::SecretCompare,
        record_target,
        "ok",
    )?;
    // Fail closed: a comparison that cannot be recorded is not answered.
    state.audit.write(record).await?;
    Ok(ValueComparison {
        matches,
        version: meta.version.get(),
    })
}
