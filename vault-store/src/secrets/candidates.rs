//! The resolution read path: the candidates of one context in one read (the tuned
//! query of the hot path), and the owners' generation counters a cache checks.

use std::collections::HashMap;

use diesel::prelude::*;
use vault_core::{Candidate, IntegrityKeys, OwnerKind, ResolutionContext, ScopeKind, SecretName};

use crate::db::{DbConnection, on_backend, read_transaction};
use crate::error::StoreResult;
use crate::schema::{owner_generations, secret_targets, secret_versions, secrets};

use super::rows::{SecretRow, checked_meta};
use super::types::Sealed;

/// The change counters of the owners a context reaches (its user, workspace and
/// project), as the owner-generation triggers keep them. While they are unchanged, so
/// is every candidate of the context: a cache of candidates checks them, nothing more.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Generations(Vec<(String, String, i64)>);

/// One statement, so it needs no transaction of its own.
pub(crate) fn generations(
    conn: &mut DbConnection,
    context: &ResolutionContext,
) -> StoreResult<Generations> {
    let user = context.user().as_str();
    let workspace = context.workspace().map(|w| w.as_str());
    let project = context.project().map(|p| p.as_str());
    let mut found: Vec<(String, String, i64)> = on_backend!(conn, |conn| owner_generations::table
        .filter(
            owner_generations::owner_kind
                .eq(OwnerKind::User.as_str())
                .and(owner_generations::owner_id.eq(user))
                .or(owner_generations::owner_kind
                    .eq(OwnerKind::Workspace.as_str())
                    .and(owner_generations::owner_id.nullable().eq(workspace)))
                .or(owner_generations::owner_kind
                    .eq(OwnerKind::Project.as_str())
                    .and(owner_generations::owner_id.nullable().eq(project))),
        )
        .select((
            owner_generations::owner_kind,
            owner_generations::owner_id,
            owner_generations::generation,
        ))
        .load(conn))?;
    found.sort();
    Ok(Generations(found))
}

/// The candidates with the generations they were read at. The generations are read
/// first: on PostgreSQL both reads share one snapshot anyway, and on any database a
/// change landing between them can only make the candidates newer than their stamp,
/// which costs a refetch, never a stale answer.
pub(crate) fn stamped_candidates(
    conn: &mut DbConnection,
    context: &ResolutionContext,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<(Generations, Vec<Candidate<Sealed>>)> {
    read_transaction(conn, |conn| {
        let stamp = generations(conn, context)?;
        Ok((stamp, candidates(conn, context, None, keys)?))
    })
}

/// Every secret that reaches `context`, with its current sealed value, in two queries:
/// the secrets joined with their current versions, then the targets of the narrow ones.
/// Expired secrets are included: the resolver reports them as skipped, unopened.
pub(crate) fn candidates(
    conn: &mut DbConnection,
    context: &ResolutionContext,
    name: Option<&SecretName>,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<Vec<Candidate<Sealed>>> {
    let user = context.user().as_str();
    let profile = context.profile().as_str();
    let workspace = context.workspace().map(|w| w.as_str());
    let project = context.project().map(|p| p.as_str());
    let milestone = context.milestone().map(|m| m.as_str());
    let name = name.map(SecretName::as_str);
    // An absent workspace, project or milestone binds NULL, which equals nothing: the
    // statement has one shape for every context, so the database plans it once.
    let user_owned = secrets::owner_kind
        .eq(OwnerKind::User.as_str())
        .and(secrets::owner_id.eq(user));
    let workspace_owned = secrets::owner_kind
        .eq(OwnerKind::Workspace.as_str())
        .and(secrets::owner_id.nullable().eq(workspace));
    let project_owned = secrets::owner_kind
        .eq(OwnerKind::Project.as_str())
        .and(secrets::owner_id.nullable().eq(project));
    let reached_targets = secret_targets::table
        .filter(
            secret_targets::owner_kind
                .eq(OwnerKind::User.as_str())
                .and(secret_targets::owner_id.eq(user))
                .and(secret_targets::target_id.eq(profile))
                .or(secret_targets::owner_kind
                    .eq(OwnerKind::Workspace.as_str())
                    .and(secret_targets::owner_id.nullable().eq(workspace))
                    .and(secret_targets::target_id.eq(profile)))
                .or(secret_targets::owner_kind
                    .eq(OwnerKind::Project.as_str())
                    .and(secret_targets::owner_id.nullable().eq(project))
                    .and(secret_targets::target_id.nullable().eq(milestone))),
        )
        .select(secret_targets::secret_id);
    read_transaction(conn, |conn| {
        let rows: Vec<(SecretRow, Vec<u8>, String)> = secrets::table
            .inner_join(
                secret_versions::table.on(secret_versions::secret_id
                    .eq(secrets::id)
                    .and(secret_versions::version.eq(secrets::current_version))),
            )
            .filter(user_owned.or(workspace_owned).or(project_owned))
            .filter(
                secrets::name
                    .nullable()
                    .eq(name)
                    .or(name.is_none().into_sql::<diesel::sql_types::Bool>()),
            )
            // Spelled as two comparisons rather than `eq_any` over a list: a list makes
            // the statement uncacheable, and parsing it again cost more than running it.
            .filter(
                secrets::scope_kind
                    .eq(ScopeKind::All.as_str())
                    .or(secrets::scope_kind.eq(ScopeKind::Project.as_str()))
                    .or(secrets::id.eq_any(reached_targets)),
            )
            .select((
                SecretRow::as_select(),
                secret_versions::envelope,
                secret_versions::kek_id,
            ))
            .load(conn)?;
        // Every target of the context's owners' narrow secrets, in one statement of
        // fixed shape (unlike `assemble`'s id list), so it is prepared once per
        // connection. It may bring targets of secrets the context does not reach; they
        // match no row and are dropped.
        let mut targets: HashMap<String, Vec<String>> = HashMap::new();
        let narrow = rows
            .iter()
            .any(|(row, _, _)| row.scope_kind == "agents" || row.scope_kind == "milestone");
        if narrow {
            let found: Vec<(String, String)> = secret_targets::table
                .filter(
                    secret_targets::owner_kind
                        .eq(OwnerKind::User.as_str())
                        .and(secret_targets::owner_id.eq(user))
                        .or(secret_targets::owner_kind
                            .eq(OwnerKind::Workspace.as_str())
                            .and(secret_targets::owner_id.nullable().eq(workspace)))
                        .or(secret_targets::owner_kind
                            .eq(OwnerKind::Project.as_str())
                            .and(secret_targets::owner_id.nullable().eq(project))),
                )
                .filter(
                    secret_targets::name
                        .nullable()
                        .eq(name)
                        .or(name.is_none().into_sql::<diesel::sql_types::Bool>()),
                )
                .select((secret_targets::secret_id, secret_targets::target_id))
                .load(conn)?;
            for (secret_id, target_id) in found {
                targets.entry(secret_id).or_default().push(target_id);
            }
        }
        rows.into_iter()
            .map(|(row, envelope, kek_id)| {
                let own = targets.remove(&row.id).unwrap_or_default();
                Ok(Candidate {
                    meta: checked_meta(row, &own, keys)?,
                    payload: Sealed { envelope, kek_id },
                })
            })
            .collect()
    })
}
