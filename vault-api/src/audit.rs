//! Writing the audit trail. Changes carry their record into the store's transaction;
//! everything else (resolutions, refusals, failed authentications) goes through the
//! `AuditWriter`, which commits waiting records in batches and answers each caller
//! only once its own record is durable, so a response never outruns its record.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use vault_core::{AuditAction, AuditEntry};
use vault_store::{Store, StoreError};

use crate::clock::Clock;
use crate::error::ApiError;
use crate::tokens::random_id;

/// Records committed together at most.
const MAX_BATCH: usize = 256;

type Pending = (AuditEntry, oneshot::Sender<Result<(), StoreError>>);

#[derive(Clone)]
pub struct AuditWriter {
    queue: mpsc::Sender<Pending>,
}

impl AuditWriter {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Store) -> Self {
        let (queue, mut incoming) = mpsc::channel::<Pending>(4 * MAX_BATCH);
        tokio::spawn(async move {
            while let Some(first) = incoming.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match incoming.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let (entries, waiters): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                let outcome = store.append_audit(entries).await.map(|_| ());
                for waiter in waiters {
                    // A caller that gave up no longer needs the answer.
                    let _ = waiter.send(outcome.clone());
                }
            }
        });
        AuditWriter { queue }
    }

    /// Returns once `entry` is committed; 503 when it cannot be (fail closed).
    pub async fn write(&self, entry: AuditEntry) -> Result<(), ApiError> {
        let (done, wait) = oneshot::channel();
        let stopped = || ApiError::Unavailable {
            detail: "the audit writer has stopped".into(),
        };
        self.queue
            .send((entry, done))
            .await
            .map_err(|_| stopped())?;
        wait.await
            .map_err(|_| stopped())?
            .map_err(|error| ApiError::Unavailable {
                detail: format!("the audit record could not be written: {error}"),
            })
    }
}

/// Who acted, as audit records name them: the token's kind and id, never the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor(pub String);

impl Actor {
    pub fn anonymous() -> Self {
        Actor("anonymous".into())
    }

    pub fn cli() -> Self {
        Actor("cli:local".into())
    }

    /// The vault itself, for what it does on its own (installing its integrity master).
    pub fn system() -> Self {
        Actor("system:vault".into())
    }
}

/// Builds records with fresh ids and the server's time.
#[derive(Clone)]
pub struct AuditContext {
    pub clock: Arc<dyn Clock>,
}

impl AuditContext {
    /// `target` is any serializable description of what was acted on; JSON `null`
    /// records none.
    pub fn entry(
        &self,
        request_id: &str,
        actor: &Actor,
        action: AuditAction,
        target: impl Serialize,
        outcome: &str,
    ) -> Result<AuditEntry, ApiError> {
        let target = serde_json::to_string(&target).map_err(|error| ApiError::Internal {
            detail: format!("an audit target could not be encoded: {error}"),
        })?;
        Ok(AuditEntry {
            id: random_id("aud_")?,
            at: self.clock.now(),
            principal: actor.0.clone(),
            action: action.as_str().to_owned(),
            target: (target != "null").then_some(target),
            outcome: outcome.to_owned(),
            request_id: request_id.to_owned(),
        })
    }
}
