//! The console's only way to data: vault-api over HTTP with an operator token, through
//! vault-client's typed client. The `ApiClient` trait keeps the event loop testable;
//! `HttpClient` is the real one. Responses carry masked values only; the one value
//! sent is a rotation's, in the body of a PATCH, from a zeroizing buffer.

use async_trait::async_trait;
use vault_client::wire::{
    AuditParams, EntryListParams, EventParams, KeyListParams, ListParams, ProjectListParams,
    Rollback, SecretView, VersionView, WebhookListParams,
};
use vault_client::{Client, ClientError, Config, EntryChange, EntryRef, Plaintext};
use vault_core::ProjectId;
use zeroize::Zeroizing;

use crate::app::Tab;
use crate::model::{ApiFailure, AuditRow, EventBatch, RowPage, SecretRow, VersionRow, WebhookRow};

pub use vault_client::TlsSettings;

/// The most entries one project contributes to a page of the project tab.
const MAX_PROJECT_ROWS: usize = 2000;
const PAGE: u32 = 100;
const PROJECTS_PER_PAGE: u32 = 10;

#[async_trait]
pub trait ApiClient: Send + Sync {
    /// Checks that the server answers and takes the token.
    async fn check(&self) -> Result<(), ApiFailure>;
    /// One page of a tab: secrets and keys 100 at a time; the project vault ten
    /// projects at a time, each with all its entries.
    async fn page(&self, tab: Tab, cursor: Option<String>) -> Result<RowPage, ApiFailure>;
    async fn versions(&self, row: &SecretRow) -> Result<Vec<VersionRow>, ApiFailure>;
    async fn rotate(
        &self,
        row: &SecretRow,
        value: Zeroizing<String>,
    ) -> Result<SecretRow, ApiFailure>;
    async fn delete(&self, row: &SecretRow) -> Result<(), ApiFailure>;
    /// A project's milestone and member counts.
    async fn project_counts(&self, project_id: &str) -> Result<(usize, usize), ApiFailure>;
    /// Deletes a project with everything it owns; returns how many entries went.
    async fn delete_project(&self, project_id: &str) -> Result<u64, ApiFailure>;
    /// The latest audit records, newest first.
    async fn audit(&self) -> Result<Vec<AuditRow>, ApiFailure>;
    /// Makes `version`'s value current again (as a new version).
    async fn rollback(&self, row: &SecretRow, version: u32) -> Result<SecretRow, ApiFailure>;
    /// The events committed after `after`, oldest first; without it, the newest page.
    async fn events(&self, after: Option<u64>) -> Result<EventBatch, ApiFailure>;
    /// Every webhook endpoint, each with its newest delivery and how many are pending
    /// or failed among its latest.
    async fn webhooks(&self) -> Result<Vec<WebhookRow>, ApiFailure>;
}

pub struct HttpClient {
    client: Client,
}

impl HttpClient {
    pub fn new(base: &str, token: Zeroizing<String>) -> Result<Self, ApiFailure> {
        Self::with_tls(base, token, &TlsSettings::default())
    }

    /// A client that trusts and identifies itself as `tls` says.
    pub fn with_tls(
        base: &str,
        token: Zeroizing<String>,
        tls: &TlsSettings,
    ) -> Result<Self, ApiFailure> {
        let config = Config {
            tls: tls.clone(),
            ..Config::new(base, token)
        };
        let client = Client::new(config).map_err(|error| match error {
            ClientError::Config { setting, detail } if setting.starts_with("VAULT_") => {
                failure("tls", format!("{setting} {detail}"))
            }
            other => failure("client", other.to_string()),
        })?;
        Ok(HttpClient { client })
    }
}

fn failure(code: &str, detail: String) -> ApiFailure {
    ApiFailure {
        code: code.to_owned(),
        detail,
    }
}

/// How the console shows a failed call: the problem's code and detail, or why no
/// answer came.
fn shown(error: ClientError) -> ApiFailure {
    match error {
        ClientError::Problem(problem) if problem.status == 401 => {
            failure("unauthenticated", "the token was rejected".into())
        }
        ClientError::Problem(problem) => failure(problem.code.as_str(), problem.detail),
        ClientError::Unreachable { address, detail } => failure(
            "unreachable",
            format!("vault-api at {address} did not answer ({detail})"),
        ),
        ClientError::UnexpectedAnswer { status, .. } => {
            failure("bad_response", format!("HTTP {status}"))
        }
        ClientError::Config { setting, detail } => {
            failure("client", format!("{setting}: {detail}"))
        }
    }
}

/// A list or get answer as a row.
pub fn row_from(view: SecretView) -> Result<SecretRow, ApiFailure> {
    let owner = view
        .owner()
        .ok_or_else(|| failure("bad_response", "an entry without an owner".into()))?;
    let targets = view.targets();
    Ok(SecretRow {
        id: view.id.as_str().to_owned(),
        owner,
        name: view.name.as_str().to_owned(),
        scope: view.scope,
        targets,
        category: view.category,
        masked: view.masked,
        version: view.version,
        expires_at: view.expires_at,
        description: view.description.filter(|d| !d.is_empty()),
        created_at: view.created_at,
        updated_at: view.updated_at,
    })
}

fn version_row(version: VersionView) -> VersionRow {
    VersionRow {
        version: version.version,
        masked: version.masked,
        current: version.current,
        restored_from: version.restored_from,
        created_at: version.created_at,
    }
}

/// The route family of one row, from its owner.
fn entry_of(row: &SecretRow) -> Result<EntryRef, ApiFailure> {
    let id = vault_core::SecretId::parse(&row.id)
        .map_err(|e| failure("bad_row", format!("{}: {e}", row.id)))?;
    Ok(match &row.owner {
        vault_core::Owner::User(_) => EntryRef::UserSecret(id),
        vault_core::Owner::Workspace(w) => EntryRef::WorkspaceKey(w.clone(), id),
        vault_core::Owner::Project(p) => EntryRef::ProjectEntry(p.clone(), id),
    })
}

fn project_id(text: &str) -> Result<ProjectId, ApiFailure> {
    ProjectId::parse(text).map_err(|e| failure("bad_row", format!("{text}: {e}")))
}

#[async_trait]
impl ApiClient for HttpClient {
    async fn check(&self) -> Result<(), ApiFailure> {
        // An operator-only route: any other token kind is refused here, at start.
        self.client.list_tokens().await.map(|_| ()).map_err(shown)
    }

    async fn page(&self, tab: Tab, cursor: Option<String>) -> Result<RowPage, ApiFailure> {
        let (views, next) = match tab {
            Tab::UserSecrets => {
                let params = ListParams {
                    limit: Some(PAGE),
                    cursor,
                    ..ListParams::default()
                };
                let page = self.client.list_secrets(&params).await.map_err(shown)?;
                (page.data, page.next_cursor)
            }
            Tab::WorkspaceKeys => {
                let params = KeyListParams {
                    limit: Some(PAGE),
                    cursor,
                    ..KeyListParams::default()
                };
                let page = self
                    .client
                    .list_all_workspace_keys(&params)
                    .await
                    .map_err(shown)?;
                (page.data, page.next_cursor)
            }
            Tab::ProjectVault => {
                let params = ProjectListParams {
                    limit: Some(PROJECTS_PER_PAGE),
                    cursor,
                };
                let projects = self.client.list_projects(&params).await.map_err(shown)?;
                let mut views = Vec::new();
                for project in projects.data {
                    let project = project_id(&project.id)?;
                    views.extend(self.project_entries(&project).await?);
                }
                (views, projects.next_cursor)
            }
            Tab::Audit | Tab::Events | Tab::Webhooks => {
                return Err(failure(
                    "bad_request",
                    "this tab loads through its own call".into(),
                ));
            }
        };
        Ok(RowPage {
            rows: views.into_iter().map(row_from).collect::<Result<_, _>>()?,
            next,
        })
    }

    async fn versions(&self, row: &SecretRow) -> Result<Vec<VersionRow>, ApiFailure> {
        let list = self
            .client
            .entry_versions(&entry_of(row)?)
            .await
            .map_err(shown)?;
        Ok(list.data.into_iter().map(version_row).collect())
    }

    async fn rotate(
        &self,
        row: &SecretRow,
        value: Zeroizing<String>,
    ) -> Result<SecretRow, ApiFailure> {
        let entry = entry_of(row)?;
        let change = EntryChange::rotation(&entry, Plaintext::from(value), row.version);
        let answer = self.client.update_entry(&entry, &change).await;
        drop(change);
        row_from(answer.map_err(shown)?)
    }

    async fn project_counts(&self, project_id_text: &str) -> Result<(usize, usize), ApiFailure> {
        let project = self
            .client
            .project(&project_id(project_id_text)?)
            .await
            .map_err(shown)?;
        Ok((project.milestones.len(), project.members.len()))
    }

    async fn delete_project(&self, project_id_text: &str) -> Result<u64, ApiFailure> {
        let removal = self
            .client
            .delete_project(&project_id(project_id_text)?)
            .await
            .map_err(shown)?;
        Ok(removal.entries_removed)
    }

    async fn audit(&self) -> Result<Vec<AuditRow>, ApiFailure> {
        let params = AuditParams {
            limit: Some(200),
            ..AuditParams::default()
        };
        Ok(self.client.audit(&params).await.map_err(shown)?.data)
    }

    async fn rollback(&self, row: &SecretRow, version: u32) -> Result<SecretRow, ApiFailure> {
        let body = Rollback {
            version,
            expected_version: Some(row.version),
        };
        let answer = self.client.rollback_entry(&entry_of(row)?, &body).await;
        row_from(answer.map_err(shown)?)
    }

    async fn delete(&self, row: &SecretRow) -> Result<(), ApiFailure> {
        self.client
            .delete_entry(&entry_of(row)?)
            .await
            .map_err(shown)
    }

    async fn events(&self, after: Option<u64>) -> Result<EventBatch, ApiFailure> {
        let params = EventParams {
            after,
            limit: Some(200),
            // A first read shows the newest page; later ones follow from there.
            newest: after.is_none().then_some(true),
            ..EventParams::default()
        };
        let page = self.client.events(&params).await.map_err(shown)?;
        Ok(EventBatch {
            events: page.data,
            next_after: page.next_after,
        })
    }

    async fn webhooks(&self) -> Result<Vec<WebhookRow>, ApiFailure> {
        let listed = self
            .client
            .list_webhooks(&WebhookListParams::default())
            .await
            .map_err(shown)?;
        let mut rows = Vec::with_capacity(listed.data.len());
        for webhook in listed.data {
            let deliveries = self
                .client
                .webhook_deliveries(&webhook.id)
                .await
                .map_err(shown)?
                .data;
            let count = |state: &str| deliveries.iter().filter(|d| d.state == state).count();
            rows.push(WebhookRow {
                pending: count("pending"),
                failed: count("failed"),
                last: deliveries.first().cloned(),
                webhook,
            });
        }
        Ok(rows)
    }
}

impl HttpClient {
    /// Every entry of one project, up to `MAX_PROJECT_ROWS`. The console's operator
    /// token reads full metadata; a names-only page would mean a token of another kind.
    async fn project_entries(&self, project: &ProjectId) -> Result<Vec<SecretView>, ApiFailure> {
        let mut views = Vec::new();
        let mut cursor = None;
        loop {
            let params = EntryListParams {
                limit: Some(200),
                cursor,
                ..EntryListParams::default()
            };
            let page = self
                .client
                .list_project_entries(project, &params)
                .await
                .map_err(shown)?;
            let vault_client::wire::EntryList::Full(page) = page else {
                return Err(failure(
                    "bad_response",
                    "project entries without their metadata".into(),
                ));
            };
            views.extend(page.data);
            cursor = page.next_cursor;
            if cursor.is_none() || views.len() >= MAX_PROJECT_ROWS {
                return Ok(views);
            }
        }
    }
}
