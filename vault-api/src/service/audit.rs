//! The audit trail for operators: the latest records, newest first, filtered by
//! action, principal and target within a scan budget per page.

use vault_client::wire::{AuditPage, AuditParams, AuditView};
use vault_core::{AuditAction, ChainedAudit};
use vault_store::TokenKind;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// How many stored records one request scans while filtering before it answers with
/// the matches it has (at least one; see `list`).
const SCAN_LIMIT: u32 = 5_000;

fn view(record: ChainedAudit) -> AuditView {
    AuditView {
        seq: record.seq,
        target: record
            .entry
            .target
            .as_deref()
            .map(|t| serde_json::from_str(t).unwrap_or(serde_json::Value::String(t.into()))),
        id: record.entry.id,
        at: record.entry.at,
        principal: record.entry.principal,
        action: record.entry.action,
        outcome: record.entry.outcome,
        request_id: record.entry.request_id,
        hash: hex::encode(record.hash),
    }
}

pub(crate) async fn page(
    state: &AppState,
    principal: &Principal,
    params: AuditParams,
) -> ApiResult<AuditPage> {
    principal.require(&[TokenKind::Operator])?;
    let limit = params.limit.unwrap_or(50);
    if limit == 0 || limit > vault_store::MAX_PAGE_SIZE {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {}", vault_store::MAX_PAGE_SIZE),
        ));
    }
    if params.before == Some(0) {
        // Positions start at 1: nothing is before 0, and a client that asks has lost
        // its place rather than reached the end.
        return Err(ApiError::invalid("before", "must be at least 1"));
    }
    for (field, filter) in [
        ("action", &params.action),
        ("principal", &params.principal),
        ("target", &params.target),
    ] {
        if filter.as_deref().is_some_and(str::is_empty) {
            return Err(ApiError::invalid(
                field,
                "must not be empty; leave it out instead",
            ));
        }
        // Every filter matches a name, id or action, none of them longer than a name.
        if filter
            .as_deref()
            .is_some_and(|f| f.chars().count() > vault_core::MAX_NAME_LEN)
        {
            return Err(ApiError::invalid(
                field,
                format!("must be at most {} characters", vault_core::MAX_NAME_LEN),
            ));
        }
    }
    let action = params
        .action
        .as_deref()
        .map(str::parse::<AuditAction>)
        .transpose()
        .map_err(ApiError::core("action"))?;
    let matches = |record: &ChainedAudit| {
        action.is_none_or(|a| record.entry.action == a.as_str())
            && params
                .principal
                .as_ref()
                .is_none_or(|p| record.entry.principal.contains(p.as_str()))
            && params.target.as_ref().is_none_or(|t| {
                record
                    .entry
                    .target
                    .as_deref()
                    .is_some_and(|target| target.contains(t.as_str()))
            })
    };
    let mut data = Vec::new();
    let mut before = params.before;
    let mut scanned = 0;
    let next_before = loop {
        let batch = state.store.audit_latest(before, 200).await?;
        let exhausted = batch.len() < 200;
        for record in batch {
            scanned += 1;
            before = Some(record.seq);
            if matches(&record) {
                data.push(view(record));
                if data.len() == limit as usize {
                    break;
                }
            }
        }
        // A page is cut short by the scan budget only once it holds a record: a client
        // that stops at an empty page then never misses one that matches further back.
        if data.len() == limit as usize || (scanned >= SCAN_LIMIT && !data.is_empty()) {
            break before.filter(|b| *b > 1);
        }
        if exhausted {
            break None;
        }
    };
    Ok(AuditPage { data, next_before })
}
