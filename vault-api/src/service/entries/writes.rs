//! The writes every owner's entries share: create, update (value and metadata, with
//! retries against other replicas' rotations), delete and rollback, each validated
//! before anything is sealed and committed with its audit record.

use serde_json::json;
use vault_client::wire::{Rollback, SecretView};
use vault_core::AuditAction;
use vault_core::{Owner, Placement, SecretId, SecretMeta, SecretName, Version};
use vault_kms::SealBinding;
use vault_store::{Conflict, NewSecret, NewValue, SecretUpdate, StoreError, TokenKind};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::value::IncomingValue;
use vault_client::ProblemCode;

use super::{
    Changes, Family, NewEntry, ROTATION_ATTEMPTS, masked_of, parse_category, parse_description,
    parse_expiry, parse_secret_id, seal, target, view,
};

pub(crate) async fn create(
    state: &AppState,
    principal: &Principal,
    owner: Owner,
    new: NewEntry,
) -> ApiResult<SecretView> {
    let now = state.clock.now();
    let name = SecretName::parse(&new.name).map_err(ApiError::core("name"))?;
    // Stored layers reach other people's agents: none may hold a name that changes
    // how a process runs or where its traffic goes.
    state
        .policy
        .protected()
        .check_storable(name.as_str())
        .map_err(ApiError::core("name"))?;
    let description = new
        .description
        .as_deref()
        .map(parse_description)
        .transpose()?;
    let expires_at = new
        .expires_at
        .as_deref()
        .map(|t| parse_expiry("expires_at", t, now))
        .transpose()?;
    let value = new.value.into_stored("value")?;
    let placement = Placement::new(owner.clone(), new.scope).map_err(ApiError::core("scope"))?;
    // Everything the store would refuse is refused before sealing: a refused write
    // spends no KEK wrap and calls no root provider.
    state
        .store
        .check_new_secret(placement.clone(), name.clone())
        .await?;
    let id = SecretId::generate();
    let sealed = seal(state, &id, Version::FIRST, &owner, &name, &value).await?;
    let masked = value.masked().as_str().to_owned();
    drop(value);
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        AuditAction::SecretCreate,
        json!({
            "secret_id": id.as_str(),
            "owner": owner.kind().as_str(),
            "owner_id": owner.id(),
            "name": name.as_str(),
        }),
        "ok",
    )?;
    let meta = state
        .store
        .create_secret(
            NewSecret {
                id,
                name,
                placement,
                category: new.category,
                description,
                expires_at,
                value: sealed,
                masked: masked.clone(),
                now,
            },
            audit,
        )
        .await?;
    Ok(view(&meta, masked, now))
}

pub(crate) async fn update(
    state: &AppState,
    principal: &Principal,
    meta: SecretMeta,
    changes: Changes,
) -> ApiResult<SecretView> {
    let action = if changes.value.is_some() {
        AuditAction::SecretRotate
    } else {
        AuditAction::SecretUpdate
    };
    principal.ctx.note_action(action);
    let now = state.clock.now();
    let family = Family::of(meta.placement.owner());
    let scope = family.parse_scope(
        changes.scope.as_deref(),
        changes.targets.as_deref(),
        Some(meta.placement.scope()),
    )?;
    let category = changes
        .category
        .as_deref()
        .map(parse_category)
        .transpose()?;
    let description = changes
        .description
        .map(|d| d.as_deref().map(parse_description).transpose())
        .transpose()?;
    let expires_at = changes
        .expires_at
        .map(|e| {
            e.as_deref()
                .map(|t| parse_expiry("expires_at", t, now))
                .transpose()
        })
        .transpose()?;
    let expected = changes
        .expected_version
        .map(|v| Version::new(v).map_err(ApiError::core("expected_version")))
        .transpose()?;
    let value = changes.value.map(|v| v.into_stored("value")).transpose()?;
    if value.is_some() {
        // Checked before the first seal; the store checks again as it writes.
        state
            .store
            .check_secret_update(meta.id.clone(), expected, scope.clone())
            .await?;
    }
    // An unguarded rotation applies on top of whatever is current: this replica's
    // rotations of the secret take turns, and the row is read again under the turn.
    let unguarded_rotation = value.is_some() && expected.is_none();
    let _turn = if unguarded_rotation {
        Some(state.rotations.lock(meta.id.as_str()).await)
    } else {
        None
    };
    let mut current = if unguarded_rotation {
        state.store.secret(meta.id.clone()).await?
    } else {
        meta
    };
    for attempt in 1..=ROTATION_ATTEMPTS {
        let new_value = match &value {
            Some(value) => {
                let base = expected.unwrap_or(current.version);
                let next = base.next().map_err(ApiError::core("expected_version"))?;
                let sealed = seal(
                    state,
                    &current.id,
                    next,
                    current.placement.owner(),
                    &current.name,
                    value,
                )
                .await?;
                Some(NewValue {
                    sealed,
                    masked: value.masked().as_str().to_owned(),
                    restored_from: None,
                })
            }
            None => None,
        };
        let update = SecretUpdate {
            expected_version: expected.or(new_value.as_ref().map(|_| current.version)),
            value: new_value,
            scope: scope.clone(),
            category,
            description: description.clone(),
            expires_at,
        };
        let audit = state.audit_entry(
            principal.request_id(),
            &principal.actor(),
            action,
            target(&current),
            "ok",
        )?;
        match state
            .store
            .update_secret(current.id.clone(), update, now, audit)
            .await
        {
            Ok(updated) => {
                let masked = masked_of(state, &updated.id).await?;
                return Ok(view(&updated, masked, now));
            }
            // The caller asked for no particular version: a rotation that raced with
            // another one is sealed again for the version after the winner's.
            Err(StoreError::Conflict(Conflict::StaleVersion { .. }))
                if expected.is_none() && attempt < ROTATION_ATTEMPTS =>
            {
                // Another replica's rotation landed in between: back off a little
                // (jittered, so racing replicas do not retry in step) and seal again.
                let jitter = u64::from(crate::tokens::random_bytes::<1>()?[0]);
                let pause = (5u64 << attempt.min(6)) + jitter / 8;
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                current = state.store.secret(current.id.clone()).await?;
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::Conflict {
        code: ProblemCode::StaleVersion,
        detail: "the secret kept changing; retry".into(),
    })
}

/// `loaded`, or, when it failed the integrity check and the caller is an operator, the
/// row as it stands: deleting is how an operator clears a row edited outside the vault.
pub(crate) async fn for_deletion(
    state: &AppState,
    principal: &Principal,
    id: &str,
    loaded: ApiResult<SecretMeta>,
) -> ApiResult<SecretMeta> {
    match loaded {
        Err(ApiError::IntegrityViolation { .. }) if principal.kind() == TokenKind::Operator => {
            Ok(state.store.secret_unchecked(parse_secret_id(id)?).await?)
        }
        other => other,
    }
}

pub(crate) async fn delete(
    state: &AppState,
    principal: &Principal,
    meta: SecretMeta,
) -> ApiResult<()> {
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        AuditAction::SecretDelete,
        target(&meta),
        "ok",
    )?;
    state.store.delete_secret(meta.id, audit).await?;
    Ok(())
}

pub(crate) async fn rollback(
    state: &AppState,
    principal: &Principal,
    meta: SecretMeta,
    body: Rollback,
) -> ApiResult<SecretView> {
    let now = state.clock.now();
    let chosen = Version::new(body.version).map_err(ApiError::core("version"))?;
    let expected = body
        .expected_version
        .map(|v| Version::new(v).map_err(ApiError::core("expected_version")))
        .transpose()?
        .unwrap_or(meta.version);
    state
        .store
        .check_secret_update(meta.id.clone(), Some(expected), None)
        .await?;
    let old = state
        .store
        .sealed_version(meta.id.clone(), chosen)
        .await
        .map_err(|e| match e {
            // The secret is there; the version is not (pruned, or never written). A
            // conflict with the secret's state, not a malformed request.
            StoreError::NotFound(_) => ApiError::Conflict {
                code: ProblemCode::VersionNotKept,
                detail: format!(
                    "version {} is not among the versions this secret keeps; its versions route lists them",
                    chosen.get()
                ),
            },
            other => other.into(),
        })?;
    let owner = meta.placement.owner();
    let envelope = vault_kms::Envelope::from_bytes(&old.envelope)?;
    let value = state
        .keyring
        .open(
            &SealBinding {
                secret_id: &meta.id,
                version: chosen,
                owner,
                name: &meta.name,
            },
            &envelope,
        )
        .await?;
    let next = expected
        .next()
        .map_err(ApiError::core("expected_version"))?;
    let sealed = seal(state, &meta.id, next, owner, &meta.name, &value).await?;
    let masked = value.masked().as_str().to_owned();
    drop(value);
    let mut record_target = target(&meta);
    record_target["restored_from"] = json!(chosen.get());
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        AuditAction::SecretRollback,
        record_target,
        "ok",
    )?;
    let updated = state
        .store
        .update_secret(
            meta.id.clone(),
            SecretUpdate {
                expected_version: Some(expected),
                value: Some(NewValue {
                    sealed,
                    masked: masked.clone(),
                    restored_from: Some(chosen),
                }),
                ..SecretUpdate::default()
            },
            now,
            audit,
        )
        .await?;
    Ok(view(&updated, masked, now))
}
