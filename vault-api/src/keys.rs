//! Key management for `vault-api keys …`: the state of every KEK, starting a new KEK,
//! and rewrapping. A KEK rewrap moves KEK records under the current root key (a new
//! ENCRYPTION_KEY, local → aws-kms, a new KMS key); a DEK rewrap moves every data key
//! under a fresh KEK without touching a value ciphertext (for a suspected KEK
//! compromise). Both are idempotent and resumable: each record moves by its own
//! compare-and-swap, the DEK target is remembered in the database, and a run killed at
//! any moment leaves every version openable. They run while the server serves.

use serde_json::json;
use vault_core::AuditAction;
use vault_core::{SecretId, Version};
use vault_kms::{Envelope, KekId, Keyring, KmsError, RootKeyId, SealBinding, WrappedKek};
use vault_store::{KekStatus, Store};

use crate::audit::{Actor, AuditContext};
use crate::error::{ApiError, ApiResult};

/// Where an interrupted DEK rewrap resumes: the KEK it was moving data keys under.
const DEK_REWRAP_TARGET: &str = "dek_rewrap_target";
const PAGE: u32 = 256;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KekLine {
    pub id: String,
    pub root_key_id: String,
    pub state: KekStatus,
    pub wrap_count: u64,
    /// Secret versions whose data key this KEK wraps.
    pub deks: u64,
    /// Whether a configured root key opens it.
    pub openable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyStatus {
    /// What every KEK wrap is bound to (the KMS encryption context's `vault_instance`).
    pub instance: String,
    pub current_root_key: String,
    pub configured_root_keys: Vec<String>,
    pub keks: Vec<KekLine>,
}

/// How far a rewrap has come, for a progress display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub stage: &'static str,
    pub done: u64,
    pub total: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RewrapReport {
    pub keks_moved: u64,
    pub deks_moved: u64,
    /// Versions deleted or pruned while the rewrap ran, or moved by another run.
    pub deks_skipped: u64,
}

fn unusable(what: &str, error: impl std::fmt::Display) -> ApiError {
    ApiError::Internal {
        detail: format!("stored {what} is unusable: {error}"),
    }
}

pub async fn status(store: &Store, keyring: &Keyring) -> ApiResult<KeyStatus> {
    let counts: std::collections::HashMap<String, u64> =
        store.versions_per_kek().await?.into_iter().collect();
    let keks = store
        .keks()
        .await?
        .into_iter()
        .map(|kek| {
            let openable =
                RootKeyId::parse(&kek.root_key_id).is_ok_and(|root| keyring.holds_root_key(&root));
            KekLine {
                deks: counts.get(&kek.id).copied().unwrap_or(0),
                id: kek.id,
                root_key_id: kek.root_key_id,
                state: kek.state,
                wrap_count: kek.wrap_count,
                openable,
            }
        })
        .collect();
    Ok(KeyStatus {
        instance: keyring.instance().to_string(),
        current_root_key: keyring.current_root_key().to_string(),
        configured_root_keys: keyring
            .configured_root_keys()
            .iter()
            .map(ToString::to_string)
            .collect(),
        keks,
    })
}

async fn record(
    store: &Store,
    audit: &AuditContext,
    request_id: &str,
    action: AuditAction,
    target: serde_json::Value,
    outcome: &str,
) -> ApiResult<()> {
    let entry = audit.entry(request_id, &Actor::cli(), action, target, outcome)?;
    store.append_audit(vec![entry]).await?;
    Ok(())
}

/// Starts a new KEK under the current root key; new writes use it at once.
pub async fn rotate(
    store: &Store,
    keyring: &Keyring,
    audit: &AuditContext,
    request_id: &str,
) -> ApiResult<String> {
    let started = keyring.rotate_kek().await?;
    let id = started.id().to_string();
    record(
        store,
        audit,
        request_id,
        AuditAction::KeysRotate,
        json!({"kek_id": id, "root_key_id": keyring.current_root_key().to_string()}),
        "ok",
    )
    .await?;
    Ok(id)
}

/// Moves every KEK not under the current root key under it.
pub async fn rewrap_keks(
    store: &Store,
    keyring: &Keyring,
    progress: &(dyn Fn(Progress) + Sync),
) -> ApiResult<u64> {
    let current = keyring.current_root_key().to_string();
    let pending: Vec<_> = store
        .keks()
        .await?
        .into_iter()
        .filter(|kek| kek.root_key_id != current)
        .collect();
    let total = pending.len() as u64;
    let mut moved = 0;
    progress(Progress {
        stage: "KEKs",
        done: 0,
        total,
    });
    for (n, kek) in pending.into_iter().enumerate() {
        let wrapped = WrappedKek::from_bytes(&kek.wrapped).map_err(|e| unusable("KEK", e))?;
        let rewrapped = keyring.rewrap_kek(&wrapped).await?;
        if store
            .rewrap_kek(
                kek.id.clone(),
                kek.root_key_id.clone(),
                rewrapped.root_key_id().to_string(),
                rewrapped.to_bytes(),
            )
            .await?
        {
            moved += 1;
        }
        progress(Progress {
            stage: "KEKs",
            done: n as u64 + 1,
            total,
        });
    }
    // The integrity master is wrapped like a KEK and moves with them.
    if let Some(bytes) = store.integrity_master().await? {
        let wrapped =
            WrappedKek::from_bytes(&bytes).map_err(|e| unusable("integrity master", e))?;
        if wrapped.root_key_id().as_str() != current {
            let rewrapped = keyring.rewrap_kek(&wrapped).await?;
            store.replace_integrity_master(rewrapped.to_bytes()).await?;
            moved += 1;
        }
    }
    Ok(moved)
}

/// The KEK data keys move under: the one an interrupted run chose, while it is still
/// the active KEK of the current root key, or a fresh one.
async fn dek_target(store: &Store, keyring: &Keyring) -> ApiResult<KekId> {
    if let Some(stored) = store.setting(DEK_REWRAP_TARGET).await? {
        let active = store
            .active_kek(keyring.current_root_key().to_string())
            .await?;
        if active.is_some_and(|kek| kek.id == stored) {
            return KekId::parse(&stored).map_err(|e| unusable("rewrap target", e));
        }
    }
    let fresh = *keyring.rotate_kek().await?.id();
    store
        .put_setting(DEK_REWRAP_TARGET, Some(fresh.to_string()))
        .await?;
    Ok(fresh)
}

/// Moves every data key under one fresh KEK (another when its wrap budget runs out).
pub async fn rewrap_deks(
    store: &Store,
    keyring: &Keyring,
    pause: std::time::Duration,
    progress: &(dyn Fn(Progress) + Sync),
) -> ApiResult<(u64, u64)> {
    let mut target = dek_target(store, keyring).await?;
    let total = store.count_versions_outside_kek(target.to_string()).await?;
    let (mut moved, mut skipped, mut done) = (0u64, 0u64, 0u64);
    let mut after: Option<(SecretId, Version)> = None;
    progress(Progress {
        stage: "DEKs",
        done,
        total,
    });
    loop {
        if after.is_some() && !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        let page = store
            .versions_outside_kek(target.to_string(), after.clone(), PAGE)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some((last.secret_id.clone(), last.version));
        let wraps = page.len() as u64;
        if !store
            .claim_kek_wraps(target.to_string(), wraps, keyring.max_wraps_per_kek())
            .await?
        {
            // Budget spent (or another writer rotated): continue under a fresh KEK.
            store.put_setting(DEK_REWRAP_TARGET, None).await?;
            target = dek_target(store, keyring).await?;
            after = None;
            continue;
        }
        for item in page {
            let envelope =
                Envelope::from_bytes(&item.envelope).map_err(|e| unusable("envelope", e))?;
            let binding = SealBinding {
                secret_id: &item.secret_id,
                version: item.version,
                owner: &item.owner,
                name: &item.name,
            };
            let rewrapped = match keyring.rewrap_dek(&binding, &envelope, &target).await {
                Ok(rewrapped) => rewrapped,
                Err(KmsError::EnvelopeRejected { .. }) => {
                    return Err(unusable(
                        "envelope",
                        format!(
                            "{} version {} does not open",
                            item.secret_id,
                            item.version.get()
                        ),
                    ));
                }
                Err(other) => return Err(other.into()),
            };
            let replaced = store
                .replace_envelope(
                    item.secret_id.clone(),
                    item.version,
                    item.kek_id.clone(),
                    target.to_string(),
                    rewrapped.to_bytes(),
                )
                .await?;
            if replaced {
                moved += 1;
            } else {
                skipped += 1;
            }
            done += 1;
            progress(Progress {
                stage: "DEKs",
                done: done.min(total),
                total,
            });
        }
    }
    store.put_setting(DEK_REWRAP_TARGET, None).await?;
    Ok((moved, skipped))
}

/// `keys rewrap [--deks]`, recorded in the audit trail.
/// What `keys rewrap` was asked to do.
#[derive(Clone, Copy, Debug, Default)]
pub struct RewrapOptions {
    /// Also move every DEK under a fresh KEK.
    pub deks: bool,
    /// A pause between pages of DEKs, to spare a busy database.
    pub pause: std::time::Duration,
}

pub async fn rewrap(
    store: &Store,
    keyring: &Keyring,
    options: RewrapOptions,
    audit: &AuditContext,
    request_id: &str,
    progress: &(dyn Fn(Progress) + Sync),
) -> ApiResult<RewrapReport> {
    let outcome = async {
        let keks_moved = rewrap_keks(store, keyring, progress).await?;
        let (deks_moved, deks_skipped) = if options.deks {
            rewrap_deks(store, keyring, options.pause, progress).await?
        } else {
            (0, 0)
        };
        Ok::<_, ApiError>(RewrapReport {
            keks_moved,
            deks_moved,
            deks_skipped,
        })
    }
    .await;
    let (target, result) = match &outcome {
        Ok(report) => (
            json!({
                "root_key_id": keyring.current_root_key().to_string(),
                "deks": options.deks,
                "keks_moved": report.keks_moved,
                "deks_moved": report.deks_moved,
                "deks_skipped": report.deks_skipped,
            }),
            "ok",
        ),
        Err(error) => (
            json!({"root_key_id": keyring.current_root_key().to_string(), "deks": options.deks}),
            error.code().as_str(),
        ),
    };
    record(
        store,
        audit,
        request_id,
        AuditAction::KeysRewrap,
        target,
        result,
    )
    .await?;
    outcome
}
