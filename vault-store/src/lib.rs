//! vault-store: the one crate that knows the database. diesel over SQLite (the embedded
//! default) and PostgreSQL (several API replicas, one fleet) through a single
//! `MultiConnection`, with the same code and the same tests on both. Migrations are
//! embedded and applied when a `Store` opens. Sealed values and wrapped keys are opaque
//! bytes here; plaintext never reaches this crate. Calls are async and run on tokio's
//! blocking pool, so the runtime's workers never wait on the database.

mod access;
mod audit;
mod convert;
mod db;
mod error;
mod events;
mod integrity;
mod keks;
pub mod migrate;
mod projects;
mod rewrap;
mod schema;
mod secrets;
mod settings;
mod tokens;
mod webhooks;
mod workspaces;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use vault_core::{
    AuditEntry, Candidate, ChainedAudit, ChangeEvent, ContextRoles, EventDetail, EventKind,
    IntegrityKeys, MilestoneId, Owner, Placement, ProjectId, ProjectRole, ResolutionContext, Scope,
    SecretId, SecretMeta, SecretName, UserId, Version, WorkspaceId, WorkspaceRole,
};

pub use db::{BackendKind, DatabaseUrl, SqliteSynchronous};
pub use error::{Conflict, Entity, StoreError, StoreResult};
pub use events::{EventFilter, EventPage, PageEnd, VAULT_ACTOR};
pub use integrity::{IntegrityInstall, KeyedFrom};
pub use keks::{KekStatus, StoredKek};
pub use migrate::MigrationState;
pub use projects::{
    ListedProject, MAX_PROJECT_NAME_CHARS, Member, Milestone, MilestoneRemoval, Project,
    ProjectRemoval,
};
pub use rewrap::RewrapItem;
pub use secrets::{
    Generations, ListCursor, ListOwner, MAX_PAGE_SIZE, NewSecret, NewValue, Page, Sealed,
    SecretQuery, SecretUpdate, VersionInfo,
};
pub use tokens::{FoundToken, NewToken, StoredToken, TOKEN_HASH_BYTES, TokenBinding, TokenKind};
pub use webhooks::{
    ClaimedDelivery, Delivery, DeliveryOutcome, DeliveryState, NewWebhook, Webhook, WebhookChanges,
};
pub use workspaces::WorkspaceUser;

use db::{DbConnection, Pool};

/// A revoked token's event: it belongs to the token's user, when it has one.
fn revocation_event(token: &StoredToken) -> ChangeEvent {
    let owner = token
        .binding
        .user_id
        .as_deref()
        .and_then(|user| UserId::parse(user).ok())
        .map(Owner::User);
    ChangeEvent {
        kind: EventKind::TokenRevoked,
        owner,
        name: None,
        secret_id: None,
        version: None,
        detail: EventDetail {
            token_id: Some(token.id.clone()),
            token_kind: Some(token.kind),
            ..EventDetail::default()
        },
    }
}

#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Connections kept open; requests beyond this wait for one.
    pub pool_size: u32,
    /// How long a request waits for a free connection before `Unavailable`.
    pub acquire_timeout: Duration,
    /// How many versions of each secret are kept for rollback, newest first.
    pub versions_kept: NonZeroU32,
    /// How many secrets one owner (a user, a workspace, a project) may hold at once.
    pub max_entries_per_owner: NonZeroU32,
    /// How SQLite syncs commits (ignored on PostgreSQL).
    pub sqlite_synchronous: SqliteSynchronous,
}

pub const DEFAULT_VERSIONS_KEPT: NonZeroU32 = match NonZeroU32::new(10) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};

pub const DEFAULT_MAX_ENTRIES_PER_OWNER: NonZeroU32 = match NonZeroU32::new(1000) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            pool_size: 16,
            acquire_timeout: Duration::from_secs(10),
            versions_kept: DEFAULT_VERSIONS_KEPT,
            max_entries_per_owner: DEFAULT_MAX_ENTRIES_PER_OWNER,
            sqlite_synchronous: SqliteSynchronous::default(),
        }
    }
}

#[derive(Clone)]
pub struct Store {
    pool: Pool,
    backend: BackendKind,
    versions_kept: u32,
    max_entries_per_owner: u32,
    /// Set once the vault has unwrapped its integrity master; shared by every clone.
    integrity: Arc<std::sync::RwLock<Option<Arc<IntegrityKeys>>>>,
    /// Why the last write the database refused failed, until a write succeeds again.
    write_failure: Arc<std::sync::RwLock<Option<WriteFailure>>>,
    /// The newest event position this process committed: wakes its own subscribers at
    /// once (other replicas' events are found by polling).
    events_committed: Arc<tokio::sync::watch::Sender<u64>>,
}

/// Why the database refused a write, as readiness reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteFailure {
    DiskFull,
    ReadOnly,
    IoError,
    /// Refused for a reason the driver's message does not name.
    WriteFailed,
}

/// The cause of a write the database itself refused; `None` for failures that say
/// nothing about the database taking writes (no free connection).
fn write_failure_cause(error: &StoreError) -> Option<WriteFailure> {
    let StoreError::Unavailable { detail } = error else {
        return None;
    };
    let detail = detail.to_ascii_lowercase();
    Some(if detail.contains("no database connection became free") {
        return None;
    } else if detail.contains("disk is full")
        || detail.contains("no space left")
        || detail.contains("disk full")
    {
        WriteFailure::DiskFull
    } else if detail.contains("readonly") || detail.contains("read-only") {
        WriteFailure::ReadOnly
    } else if detail.contains("i/o") {
        WriteFailure::IoError
    } else {
        WriteFailure::WriteFailed
    })
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("versions_kept", &self.versions_kept)
            .field("max_entries_per_owner", &self.max_entries_per_owner)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database, applies pending migrations and fills the pool. Blocking: call
    /// it at start-up, or through `spawn_blocking`.
    pub fn open(url: &str, config: &StoreConfig) -> StoreResult<Store> {
        let url = DatabaseUrl::parse(url)?;
        let backend = url.backend();
        migrate::apply_pending(&mut url.establish(config.sqlite_synchronous)?)?;
        let pool = db::build_pool(
            url,
            config.sqlite_synchronous,
            config.pool_size.max(1),
            config.acquire_timeout,
        )?;
        Ok(Store {
            pool,
            backend,
            versions_kept: config.versions_kept.get(),
            max_entries_per_owner: config.max_entries_per_owner.get(),
            integrity: Arc::default(),
            write_failure: Arc::default(),
            events_committed: Arc::new(tokio::sync::watch::Sender::new(0)),
        })
    }

    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    pub fn max_entries_per_owner(&self) -> u32 {
        self.max_entries_per_owner
    }

    /// The integrity keys this store checks and writes with, if it was given them.
    pub fn integrity_keys(&self) -> Option<Arc<IntegrityKeys>> {
        self.integrity.read().ok().and_then(|keys| keys.clone())
    }

    /// From now on every audit record is keyed, every secret row carries its MAC and
    /// every row read is checked against it (for every clone of this store).
    pub fn use_integrity_keys(&self, keys: Arc<IntegrityKeys>) {
        if let Ok(mut slot) = self.integrity.write() {
            *slot = Some(keys);
        }
    }

    /// The integrity master's stored wrap, if the vault has one.
    pub async fn integrity_master(&self) -> StoreResult<Option<Vec<u8>>> {
        self.run(integrity::stored_master).await
    }

    /// Stores the integrity master's wrap, unless one is stored already, and in the same
    /// transaction stamps every secret row with its MAC and writes `entry` as the first
    /// keyed audit record. Once installed, this store uses `keys`.
    pub async fn install_integrity(
        &self,
        wrapped: Vec<u8>,
        keys: Arc<IntegrityKeys>,
        entry: AuditEntry,
    ) -> StoreResult<IntegrityInstall> {
        let installing = keys.clone();
        let outcome = self
            .run(move |conn| integrity::install(conn, &wrapped, &installing, &entry))
            .await?;
        if let IntegrityInstall::Installed { .. } = outcome {
            self.use_integrity_keys(keys);
        }
        Ok(outcome)
    }

    /// Replaces the integrity master's wrap (after a rewrap under another root key).
    pub async fn replace_integrity_master(&self, wrapped: Vec<u8>) -> StoreResult<()> {
        self.run(move |conn| integrity::replace_master(conn, &wrapped))
            .await
    }

    /// Where the keyed audit chain begins, checked against its MAC with this store's
    /// keys; `None` without keys.
    pub async fn audit_keyed_from(&self) -> StoreResult<Option<KeyedFrom>> {
        let Some(keys) = self.integrity_keys() else {
            return Ok(None);
        };
        self.run(move |conn| integrity::keyed_from(conn, &keys).map(Some))
            .await
    }

    /// Runs a change and appends its audit record and its events in one transaction:
    /// all commit, or none does.
    async fn run_audited<T: Send + 'static>(
        &self,
        entry: AuditEntry,
        work: impl FnOnce(
            &mut DbConnection,
            Option<&IntegrityKeys>,
        ) -> StoreResult<(T, Vec<ChangeEvent>)>
        + Send
        + 'static,
    ) -> StoreResult<T> {
        let outcome = self
            .run_keyed(move |conn, keys| {
                db::write_transaction(conn, |conn| {
                    let (done, changes) = work(conn, keys)?;
                    audit::record(conn, &entry, keys)?;
                    let last = events::append(conn, entry.at, &entry.principal, &changes, keys)?;
                    Ok((done, last))
                })
            })
            .await;
        self.note_write(&outcome);
        let (done, last) = outcome?;
        if let Some(last) = last {
            self.note_events(last);
        }
        Ok(done)
    }

    fn note_events(&self, last: u64) {
        self.events_committed.send_if_modified(|newest| {
            let moved = last > *newest;
            *newest = (*newest).max(last);
            moved
        });
    }

    /// Changes whenever this process commits events (its value is the newest
    /// position); a subscriber waits on it between reads of the log.
    pub fn event_commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.events_committed.subscribe()
    }

    /// Remembers whether the database took the last write: readiness reports it.
    fn note_write<T>(&self, outcome: &StoreResult<T>) {
        let cause = match outcome {
            Ok(_) => None,
            Err(error) => match write_failure_cause(error) {
                Some(cause) => Some(cause),
                // A refusal by a rule (conflict, limit) is a write the database took.
                None => return,
            },
        };
        if let Ok(mut slot) = self.write_failure.write() {
            *slot = cause;
        }
    }

    /// The cause of the last write the database refused, while no write has succeeded
    /// since.
    pub fn write_failure(&self) -> Option<WriteFailure> {
        self.write_failure.read().ok().and_then(|cause| *cause)
    }

    /// One small durable write (a timestamp in `vault_settings`), so readiness learns
    /// that the database stopped taking writes even while no request writes.
    pub async fn probe_write(&self) -> StoreResult<()> {
        let outcome = self
            .run(|conn| db::write_transaction(conn, settings::touch_probe))
            .await;
        self.note_write(&outcome);
        outcome
    }

    /// As `run`, handing the work the integrity keys.
    async fn run_keyed<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConnection, Option<&IntegrityKeys>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let keys = self.integrity_keys();
        self.run(move |conn| work(conn, keys.as_deref())).await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(|e| StoreError::Unavailable {
                detail: format!("no database connection became free: {e}"),
            })?;
            work(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Unavailable {
            detail: format!("the database task stopped: {e}"),
        })?
    }

    /// Answers once the database answers: for readiness checks.
    pub async fn ping(&self) -> StoreResult<()> {
        self.run(|conn| {
            use diesel::connection::SimpleConnection;
            conn.batch_execute("SELECT 1").map_err(StoreError::from)
        })
        .await
    }

    // Secrets.

    pub async fn create_secret(
        &self,
        new: NewSecret,
        audit: AuditEntry,
    ) -> StoreResult<SecretMeta> {
        let limit = self.max_entries_per_owner;
        self.run_audited(audit, move |conn, keys| {
            let meta = secrets::create(conn, &new, limit, keys)?;
            let event = ChangeEvent::secret(EventKind::SecretCreated, &meta, None);
            Ok((meta, vec![event]))
        })
        .await
    }

    /// Every check `create_secret` makes of `placement` and `name` (the owner exists, the
    /// milestones are the project's, the owner is under its entry limit, no overlap),
    /// read-only: a caller runs it before sealing, so a write that would be refused
    /// claims no KEK wrap. `create_secret` checks again under its lock.
    pub async fn check_new_secret(
        &self,
        placement: Placement,
        name: SecretName,
    ) -> StoreResult<()> {
        let limit = self.max_entries_per_owner;
        self.run_keyed(move |conn, keys| secrets::check_new(conn, &placement, &name, limit, keys))
            .await
    }

    /// What `update_secret` checks before it writes, read-only, for a caller about to
    /// seal: the secret exists, is still at `expected_version`, and `scope` (if any) is
    /// allowed beside its siblings.
    pub async fn check_secret_update(
        &self,
        id: SecretId,
        expected_version: Option<Version>,
        scope: Option<Scope>,
    ) -> StoreResult<()> {
        self.run_keyed(move |conn, keys| {
            secrets::check_update(conn, &id, expected_version, scope.as_ref(), keys)
        })
        .await
    }

    /// Secret `id` as its row stands, its MAC not checked: only for deleting a row that
    /// failed the check, which discloses nothing.
    pub async fn secret_unchecked(&self, id: SecretId) -> StoreResult<SecretMeta> {
        self.run(move |conn| secrets::get(conn, &id, None)).await
    }

    pub async fn secret(&self, id: SecretId) -> StoreResult<SecretMeta> {
        self.run_keyed(move |conn, keys| secrets::get(conn, &id, keys))
            .await
    }

    pub async fn list_secrets(&self, query: SecretQuery) -> StoreResult<Page<SecretMeta>> {
        self.run_keyed(move |conn, keys| secrets::list(conn, &query, keys))
            .await
    }

    /// Changes metadata and/or the value in one transaction. A new value becomes
    /// version `expected_version + 1`; the oldest versions beyond the kept count go.
    pub async fn update_secret(
        &self,
        id: SecretId,
        update: SecretUpdate,
        now: DateTime<Utc>,
        audit: AuditEntry,
    ) -> StoreResult<SecretMeta> {
        let kept = self.versions_kept;
        self.run_audited(audit, move |conn, keys| {
            let secrets::Updated { before, after } =
                secrets::update(conn, &id, &update, now, kept, keys)?;
            let restored_from = update.value.as_ref().and_then(|v| v.restored_from);
            let event = ChangeEvent::secret_update(&before, &after, restored_from);
            Ok((after, vec![event]))
        })
        .await
    }

    /// Deletes the secret with every version and target.
    pub async fn delete_secret(&self, id: SecretId, audit: AuditEntry) -> StoreResult<()> {
        self.run_audited(audit, move |conn, _| {
            let removed = secrets::delete(conn, &id)?;
            Ok((
                (),
                vec![ChangeEvent::secret(
                    EventKind::SecretDeleted,
                    &removed,
                    None,
                )],
            ))
        })
        .await
    }

    /// The masked current value of each of `ids` that exists.
    pub async fn current_masked(
        &self,
        ids: Vec<SecretId>,
    ) -> StoreResult<std::collections::BTreeMap<SecretId, String>> {
        self.run(move |conn| secrets::current_masked(conn, &ids))
            .await
    }

    /// The vault instance id every replica shares: the stored one, or `proposed` when
    /// none is stored yet (the first start).
    pub async fn instance_id(&self, proposed: String) -> StoreResult<String> {
        self.run(move |conn| settings::get_or_insert(conn, "instance_id", &proposed))
            .await
    }

    /// Version history, newest first.
    pub async fn secret_versions(&self, id: SecretId) -> StoreResult<Vec<VersionInfo>> {
        self.run(move |conn| secrets::versions(conn, &id)).await
    }

    pub async fn sealed_version(&self, id: SecretId, version: Version) -> StoreResult<Sealed> {
        self.run(move |conn| secrets::sealed_version(conn, &id, version))
            .await
    }

    /// Every stored secret that reaches `context`, with its current sealed value.
    pub async fn candidates(
        &self,
        context: ResolutionContext,
    ) -> StoreResult<Vec<Candidate<Sealed>>> {
        self.run_keyed(move |conn, keys| secrets::candidates(conn, &context, None, keys))
            .await
    }

    /// Every candidate of `context`, stamped with its owners' change counters.
    pub async fn stamped_candidates(
        &self,
        context: ResolutionContext,
    ) -> StoreResult<(Generations, Vec<Candidate<Sealed>>)> {
        self.run_keyed(move |conn, keys| secrets::stamped_candidates(conn, &context, keys))
            .await
    }

    /// The change counters of the owners `context` reaches: one small read.
    pub async fn generations(&self, context: ResolutionContext) -> StoreResult<Generations> {
        self.run(move |conn| secrets::generations(conn, &context))
            .await
    }

    /// The candidates of `context` that carry `name`: what a lookup by name weighs.
    pub async fn candidates_named(
        &self,
        context: ResolutionContext,
        name: SecretName,
    ) -> StoreResult<Vec<Candidate<Sealed>>> {
        self.run_keyed(move |conn, keys| secrets::candidates(conn, &context, Some(&name), keys))
            .await
    }

    // Projects, milestones, members.

    pub async fn create_project(
        &self,
        id: ProjectId,
        name: String,
        accountable: UserId,
        now: DateTime<Utc>,
        audit: AuditEntry,
    ) -> StoreResult<Project> {
        self.run_audited(audit, move |conn, _| {
            let project = projects::create_project(conn, &id, &name, &accountable, now)?;
            let event = ChangeEvent::about(
                EventKind::ProjectCreated,
                Owner::Project(id),
                EventDetail {
                    user_id: Some(accountable),
                    role: Some(ProjectRole::Accountable),
                    ..EventDetail::default()
                },
            );
            Ok((project, vec![event]))
        })
        .await
    }

    /// Up to `limit` projects after `after`, ordered by id, with whether more follow:
    /// every project, or those `member` belongs to, with their role.
    pub async fn list_projects(
        &self,
        member: Option<UserId>,
        after: Option<ProjectId>,
        limit: u32,
    ) -> StoreResult<(Vec<ListedProject>, bool)> {
        self.run(move |conn| projects::list_projects(conn, member.as_ref(), after.as_ref(), limit))
            .await
    }

    pub async fn project(&self, id: ProjectId) -> StoreResult<Project> {
        self.run(move |conn| projects::get_project(conn, &id)).await
    }

    pub async fn delete_project(
        &self,
        id: ProjectId,
        now: DateTime<Utc>,
        audit: AuditEntry,
    ) -> StoreResult<ProjectRemoval> {
        self.run_audited(audit, move |conn, _| {
            let removal = projects::delete_project(conn, &id, now)?;
            let event = ChangeEvent::about(
                EventKind::ProjectDeleted,
                Owner::Project(id),
                EventDetail::default(),
            );
            Ok((removal, vec![event]))
        })
        .await
    }

    pub async fn create_milestone(
        &self,
        project: ProjectId,
        id: MilestoneId,
        name: String,
        now: DateTime<Utc>,
        audit: AuditEntry,
    ) -> StoreResult<Milestone> {
        self.run_audited(audit, move |conn, _| {
            let milestone = projects::create_milestone(conn, &project, &id, &name, now)?;
            let event = ChangeEvent::about(
                EventKind::MilestoneCreated,
                Owner::Project(project),
                EventDetail {
                    milestone_id: Some(id),
                    ..EventDetail::default()
                },
            );
            Ok((milestone, vec![event]))
        })
        .await
    }

    pub async fn milestones(&self, project: ProjectId) -> StoreResult<Vec<Milestone>> {
        self.run(move |conn| projects::list_milestones(conn, &project))
            .await
    }

    pub async fn delete_milestone(
        &self,
        project: ProjectId,
        id: MilestoneId,
        now: DateTime<Utc>,
        audit: AuditEntry,
    ) -> StoreResult<MilestoneRemoval> {
        self.run_audited(audit, move |conn, keys| {
            let removal = projects::delete_milestone(conn, &project, &id, now, keys)?;
            let event = ChangeEvent::about(
                EventKind::MilestoneDeleted,
                Owner::Project(project),
                EventDetail {
                    milestone_id: Some(id),
                    ..EventDetail::default()
                },
            );
            Ok((removal, vec![event]))
        })
        .await
    }

    pub async fn put_member(
        &self,
        project: ProjectId,
        user: UserId,
        role: ProjectRole,
        now: DateTime<Utc>,
        audit: AuditEntry,
    ) -> StoreResult<Member> {
        self.run_audited(audit, move |conn, _| {
            let member = projects::put_member(conn, &project, &user, role, now)?;
            let event = ChangeEvent::about(
                EventKind::ProjectMemberPut,
                Owner::Project(project),
                EventDetail {
                    user_id: Some(user),
                    role: Some(role),
                    ..EventDetail::default()
                },
            );
            Ok((member, vec![event]))
        })
        .await
    }

    pub async fn remove_member(
        &self,
        project: ProjectId,
        user: UserId,
        now: DateTime<Utc>,
        audit: AuditEntry,
    ) -> StoreResult<()> {
        self.run_audited(audit, move |conn, _| {
            projects::remove_member(conn, &project, &user, now)?;
            let event = ChangeEvent::about(
                EventKind::ProjectMemberRemoved,
                Owner::Project(project),
                EventDetail {
                    user_id: Some(user),
                    ..EventDetail::default()
                },
            );
            Ok(((), vec![event]))
        })
        .await
    }

    pub async fn member_role(
        &self,
        project: ProjectId,
        user: UserId,
    ) -> StoreResult<Option<ProjectRole>> {
        self.run(move |conn| projects::member_role(conn, &project, &user))
            .await
    }

    pub async fn members(&self, project: ProjectId) -> StoreResult<Vec<Member>> {
        self.run(move |conn| projects::list_members(conn, &project))
            .await
    }

    /// What the context's user is to its workspace and project, read now: the
    /// ground every disclosure of plaintext is checked on.
    pub async fn context_roles(&self, context: ResolutionContext) -> StoreResult<ContextRoles> {
        self.run(move |conn| access::context_roles(conn, &context))
            .await
    }

    /// The workspaces `user` administers and the projects they belong to, with roles.
    pub async fn user_standing(&self, user: UserId) -> StoreResult<vault_core::UserStanding> {
        self.run(move |conn| access::user_standing(conn, &user))
            .await
    }

    // Workspace admins and members.

    pub async fn put_workspace_admin(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        now: DateTime<Utc>,
        audit: AuditEntry,
    ) -> StoreResult<WorkspaceUser> {
        self.run_audited(audit, move |conn, _| {
            let done = workspaces::put_admin(conn, &workspace, &user, now)?;
            let event = ChangeEvent::about(
                EventKind::WorkspaceAdminPut,
                Owner::Workspace(workspace),
                EventDetail {
                    user_id: Some(user),
                    ..EventDetail::default()
                },
            );
            Ok((done, vec![event]))
        })
        .await
    }

    pub async fn remove_workspace_admin(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        audit: AuditEntry,
    ) -> StoreResult<()> {
        self.run_audited(audit, move |conn, _| {
            workspaces::remove_admin(conn, &workspace, &user)?;
            let event = ChangeEvent::about(
                EventKind::WorkspaceAdminRemoved,
                Owner::Workspace(workspace),
                EventDetail {
                    user_id: Some(user),
                    ..EventDetail::default()
                },
            );
            Ok(((), vec![event]))
        })
        .await
    }

    pub async fn is_workspace_admin(
        &self,
        workspace: WorkspaceId,
        user: UserId,
    ) -> StoreResult<bool> {
        self.run(move |conn| workspaces::is_admin(conn, &workspace, &user))
            .await
    }

    pub async fn workspace_admins(
        &self,
        workspace: WorkspaceId,
    ) -> StoreResult<Vec<WorkspaceUser>> {
        self.run(move |conn| workspaces::admins(conn, &workspace))
            .await
    }

    pub async fn put_workspace_member(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        now: DateTime<Utc>,
        audit: AuditEntry,
    ) -> StoreResult<WorkspaceUser> {
        self.run_audited(audit, move |conn, _| {
            let done = workspaces::put_member(conn, &workspace, &user, now)?;
            let event = ChangeEvent::about(
                EventKind::WorkspaceMemberPut,
                Owner::Workspace(workspace),
                EventDetail {
                    user_id: Some(user),
                    ..EventDetail::default()
                },
            );
            Ok((done, vec![event]))
        })
        .await
    }

    pub async fn remove_workspace_member(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        audit: AuditEntry,
    ) -> StoreResult<()> {
        self.run_audited(audit, move |conn, _| {
            workspaces::remove_member(conn, &workspace, &user)?;
            let event = ChangeEvent::about(
                EventKind::WorkspaceMemberRemoved,
                Owner::Workspace(workspace),
                EventDetail {
                    user_id: Some(user),
                    ..EventDetail::default()
                },
            );
            Ok(((), vec![event]))
        })
        .await
    }

    pub async fn workspace_member(
        &self,
        workspace: WorkspaceId,
        user: UserId,
    ) -> StoreResult<Option<WorkspaceUser>> {
        self.run(move |conn| workspaces::member(conn, &workspace, &user))
            .await
    }

    /// Registered members, admins not included (they are members by being admins).
    pub async fn workspace_members(
        &self,
        workspace: WorkspaceId,
    ) -> StoreResult<Vec<WorkspaceUser>> {
        self.run(move |conn| workspaces::members(conn, &workspace))
            .await
    }

    /// Admin, member or nobody.
    pub async fn workspace_role(
        &self,
        workspace: WorkspaceId,
        user: UserId,
    ) -> StoreResult<Option<WorkspaceRole>> {
        self.run(move |conn| workspaces::role(conn, &workspace, &user))
            .await
    }

    // KEKs.

    pub async fn kek(&self, id: String) -> StoreResult<Option<StoredKek>> {
        self.run(move |conn| keks::get(conn, &id)).await
    }

    pub async fn active_kek(&self, root_key_id: String) -> StoreResult<Option<StoredKek>> {
        self.run(move |conn| keks::active(conn, &root_key_id)).await
    }

    pub async fn keks(&self) -> StoreResult<Vec<StoredKek>> {
        self.run(keks::list).await
    }

    /// How many secret versions each KEK protects.
    pub async fn versions_per_kek(&self) -> StoreResult<Vec<(String, u64)>> {
        self.run(keks::protected_versions).await
    }

    pub async fn install_active_kek(
        &self,
        id: String,
        root_key_id: String,
        wrapped: Vec<u8>,
        replacing: Option<String>,
        now: DateTime<Utc>,
    ) -> StoreResult<StoredKek> {
        self.run(move |conn| {
            keks::install_active(conn, &id, &root_key_id, &wrapped, replacing.as_deref(), now)
        })
        .await
    }

    pub async fn claim_kek_wrap(&self, id: String, max_wraps: u64) -> StoreResult<bool> {
        self.claim_kek_wraps(id, 1, max_wraps).await
    }

    /// Claims `wraps` DEK wraps on an active KEK at once, within `max_wraps`.
    pub async fn claim_kek_wraps(
        &self,
        id: String,
        wraps: u64,
        max_wraps: u64,
    ) -> StoreResult<bool> {
        self.run(move |conn| keks::claim_wraps(conn, &id, wraps, max_wraps))
            .await
    }

    /// Replaces KEK `id`'s record with one wrapped under `to_root`, if it is still
    /// under `from_root`; the KEK is retired for new wraps.
    pub async fn rewrap_kek(
        &self,
        id: String,
        from_root: String,
        to_root: String,
        wrapped: Vec<u8>,
    ) -> StoreResult<bool> {
        self.run(move |conn| keks::rewrap(conn, &id, &from_root, &to_root, &wrapped))
            .await
    }

    /// Up to `limit` secret versions whose DEK is not under `kek`, after `after`.
    pub async fn versions_outside_kek(
        &self,
        kek: String,
        after: Option<(SecretId, Version)>,
        limit: u32,
    ) -> StoreResult<Vec<RewrapItem>> {
        self.run(move |conn| rewrap::versions_outside(conn, &kek, after.as_ref(), limit))
            .await
    }

    pub async fn count_versions_outside_kek(&self, kek: String) -> StoreResult<u64> {
        self.run(move |conn| rewrap::count_outside(conn, &kek))
            .await
    }

    /// Swaps in a rewrapped envelope if the version is still under `old_kek`.
    pub async fn replace_envelope(
        &self,
        secret: SecretId,
        version: Version,
        old_kek: String,
        new_kek: String,
        envelope: Vec<u8>,
    ) -> StoreResult<bool> {
        self.run(move |conn| {
            rewrap::replace_envelope(conn, &secret, version, &old_kek, &new_kek, &envelope)
        })
        .await
    }

    pub async fn setting(&self, name: &'static str) -> StoreResult<Option<String>> {
        self.run(move |conn| settings::get(conn, name)).await
    }

    /// Stores a setting, or removes it with `None`.
    pub async fn put_setting(&self, name: &'static str, value: Option<String>) -> StoreResult<()> {
        self.run(move |conn| settings::put(conn, name, value.as_deref()))
            .await
    }

    // Tokens.

    pub async fn insert_token(&self, new: NewToken, audit: AuditEntry) -> StoreResult<StoredToken> {
        self.run_audited(audit, move |conn, _| {
            Ok((tokens::insert(conn, &new)?, Vec::new()))
        })
        .await
    }

    /// The token with this hash and, when it names one, the token that minted it.
    pub async fn token_by_hash(
        &self,
        hash: [u8; TOKEN_HASH_BYTES],
    ) -> StoreResult<Option<FoundToken>> {
        self.run(move |conn| tokens::find_by_hash(conn, &hash))
            .await
    }

    pub async fn token(&self, id: String) -> StoreResult<Option<StoredToken>> {
        self.run(move |conn| tokens::get(conn, &id)).await
    }

    pub async fn revoke_token(
        &self,
        id: String,
        now: DateTime<Utc>,
        audit: AuditEntry,
    ) -> StoreResult<StoredToken> {
        self.run_audited(audit, move |conn, _| {
            let (revoked, newly) = tokens::revoke(conn, &id, now)?;
            let events = if newly {
                vec![revocation_event(&revoked)]
            } else {
                Vec::new()
            };
            Ok((revoked, events))
        })
        .await
    }

    /// As `revoke_token`, refusing to revoke the last live operator token
    /// (`Conflict::LastOperatorToken`): what the HTTP API does. The host CLI may.
    pub async fn revoke_token_keeping_an_operator(
        &self,
        id: String,
        now: DateTime<Utc>,
        audit: AuditEntry,
    ) -> StoreResult<StoredToken> {
        self.run_audited(audit, move |conn, _| {
            let (revoked, newly) = tokens::revoke_keeping_an_operator(conn, &id, now)?;
            let events = if newly {
                vec![revocation_event(&revoked)]
            } else {
                Vec::new()
            };
            Ok((revoked, events))
        })
        .await
    }

    /// Deletes session tokens that expired before `before`; returns how many.
    pub async fn purge_expired_sessions(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.run(move |conn| tokens::purge_expired_sessions(conn, before))
            .await
    }

    pub async fn tokens(&self) -> StoreResult<Vec<StoredToken>> {
        self.run(tokens::list).await
    }

    // Events.

    /// Up to `limit` events after position `after` that match `filter`, oldest first.
    pub async fn events(
        &self,
        after: u64,
        filter: EventFilter,
        limit: u32,
    ) -> StoreResult<EventPage> {
        self.events_from(after, filter, limit, PageEnd::Oldest)
            .await
    }

    /// As `events`, from either end of what matches.
    pub async fn events_from(
        &self,
        after: u64,
        filter: EventFilter,
        limit: u32,
        end: PageEnd,
    ) -> StoreResult<EventPage> {
        self.run_keyed(move |conn, keys| events::page_from(conn, after, &filter, limit, end, keys))
            .await
    }

    /// Appends the expiry events due at `now` for `leads` (see `events.rs`); returns
    /// how many.
    pub async fn emit_due_reminders(
        &self,
        now: DateTime<Utc>,
        leads: Vec<Duration>,
    ) -> StoreResult<u64> {
        let outcome = self
            .run_keyed(move |conn, keys| events::emit_due_reminders(conn, now, &leads, keys))
            .await;
        self.note_write(&outcome);
        let (appended, last) = outcome?;
        if let Some(last) = last {
            self.note_events(last);
        }
        Ok(appended)
    }

    /// Deletes events older than `before` (never the newest); returns how many.
    pub async fn prune_events(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.run(move |conn| events::prune(conn, before)).await
    }

    // Webhooks.

    pub async fn create_webhook(&self, new: NewWebhook, audit: AuditEntry) -> StoreResult<Webhook> {
        self.run_audited(audit, move |conn, _| {
            Ok((webhooks::create(conn, &new)?, Vec::new()))
        })
        .await
    }

    /// Every endpoint, or `owner`'s.
    pub async fn webhooks(&self, owner: Option<Owner>) -> StoreResult<Vec<Webhook>> {
        self.run(move |conn| webhooks::list(conn, owner.as_ref()))
            .await
    }

    pub async fn webhook(&self, id: String) -> StoreResult<Webhook> {
        self.run(move |conn| webhooks::get(conn, &id)).await
    }

    pub async fn update_webhook(
        &self,
        id: String,
        changes: WebhookChanges,
        now: DateTime<Utc>,
        audit: AuditEntry,
    ) -> StoreResult<Webhook> {
        self.run_audited(audit, move |conn, _| {
            Ok((webhooks::update(conn, &id, &changes, now)?, Vec::new()))
        })
        .await
    }

    /// Deletes the endpoint with its delivery log.
    pub async fn delete_webhook(&self, id: String, audit: AuditEntry) -> StoreResult<Webhook> {
        self.run_audited(audit, move |conn, _| {
            Ok((webhooks::delete(conn, &id)?, Vec::new()))
        })
        .await
    }

    /// Moves the endpoint to its next signing secret; the current one also signs until
    /// `previous_until`.
    pub async fn rotate_webhook_secret(
        &self,
        id: String,
        previous_until: DateTime<Utc>,
        now: DateTime<Utc>,
        audit: AuditEntry,
    ) -> StoreResult<Webhook> {
        self.run_audited(audit, move |conn, _| {
            Ok((
                webhooks::rotate_secret(conn, &id, previous_until, now)?,
                Vec::new(),
            ))
        })
        .await
    }

    /// The endpoint's latest deliveries, newest first.
    pub async fn webhook_deliveries(
        &self,
        endpoint: String,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>> {
        self.run(move |conn| webhooks::deliveries(conn, &endpoint, limit))
            .await
    }

    /// Queues a delivery again, now.
    pub async fn redeliver(
        &self,
        endpoint: String,
        id: String,
        now: DateTime<Utc>,
        audit: AuditEntry,
    ) -> StoreResult<Delivery> {
        self.run_audited(audit, move |conn, _| {
            Ok((webhooks::redeliver(conn, &endpoint, &id, now)?, Vec::new()))
        })
        .await
    }

    /// Writes the deliveries of events not yet fanned out; returns how many.
    pub async fn fan_out_webhooks(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.run_keyed(move |conn, keys| webhooks::fan_out(conn, now, keys))
            .await
    }

    /// Claims up to `limit` due deliveries until `lease_until` (see `webhooks.rs`).
    pub async fn claim_webhook_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        self.run_keyed(move |conn, keys| webhooks::claim(conn, now, lease_until, limit, keys))
            .await
    }

    /// Records how a claimed attempt ended; returns whether its endpoint was turned off.
    pub async fn finish_webhook_delivery(
        &self,
        id: String,
        attempt: u32,
        outcome: DeliveryOutcome,
        disable_after: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.run_keyed(move |conn, keys| {
            webhooks::finish(conn, &id, attempt, &outcome, disable_after, now, keys)
        })
        .await
    }

    // Audit.

    /// Appends records that accompany no change (resolutions, refusals) in one commit,
    /// chained after the current head; returns them in their places.
    pub async fn append_audit(&self, entries: Vec<AuditEntry>) -> StoreResult<Vec<ChainedAudit>> {
        let outcome = self
            .run_keyed(move |conn, keys| audit::append(conn, &entries, keys))
            .await;
        self.note_write(&outcome);
        outcome
    }

    /// Whether any audit record is keyed: a vault whose integrity master has gone
    /// missing while such records exist has been tampered with.
    pub async fn audit_has_keyed_records(&self) -> StoreResult<bool> {
        self.run(audit::any_keyed).await
    }

    /// The record at position `seq`, if there is one.
    pub async fn audit_record(&self, seq: u64) -> StoreResult<Option<ChainedAudit>> {
        self.run(move |conn| audit::at(conn, seq)).await
    }

    pub async fn audit_head(&self) -> StoreResult<Option<ChainedAudit>> {
        self.run(audit::head).await
    }

    /// Records after position `after`, oldest first (for verification).
    pub async fn audit_since(&self, after: u64, limit: u32) -> StoreResult<Vec<ChainedAudit>> {
        self.run(move |conn| audit::since(conn, after, limit)).await
    }

    /// Records before position `before` (or the newest), newest first.
    pub async fn audit_latest(
        &self,
        before: Option<u64>,
        limit: u32,
    ) -> StoreResult<Vec<ChainedAudit>> {
        self.run(move |conn| audit::latest(conn, before, limit))
            .await
    }
}
