//! The typed client: one method per route, each taking and returning the wire types.

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use vault_core::{EnvName, ProjectId, SecretId, UserId, WorkspaceId};
use zeroize::Zeroizing;

use crate::wire::*;
use crate::{ClientError, ClientResult, Config, Problem};

/// One vault entry, by where it lives: the route family follows from the owner.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum EntryRef {
    UserSecret(SecretId),
    WorkspaceKey(WorkspaceId, SecretId),
    ProjectEntry(ProjectId, SecretId),
}

impl EntryRef {
    /// The entry a list or get answered with; `None` if it names no single owner.
    pub fn of(view: &SecretView) -> Option<EntryRef> {
        Some(match view.owner()? {
            vault_core::Owner::User(_) => EntryRef::UserSecret(view.id.clone()),
            vault_core::Owner::Workspace(w) => EntryRef::WorkspaceKey(w, view.id.clone()),
            vault_core::Owner::Project(p) => EntryRef::ProjectEntry(p, view.id.clone()),
        })
    }

    pub fn path(&self) -> String {
        match self {
            EntryRef::UserSecret(id) => format!("/v1/secrets/{id}"),
            EntryRef::WorkspaceKey(w, id) => format!("/v1/workspaces/{w}/keys/{id}"),
            EntryRef::ProjectEntry(p, id) => format!("/v1/projects/{p}/vault/{id}"),
        }
    }
}

/// A change to any entry. Project entries take a category and milestones; user
/// secrets and workspace keys take profiles.
#[derive(Clone, Debug)]
pub enum EntryChange {
    Profiles(UpdateSecret),
    Milestones(UpdateEntry),
}

impl EntryChange {
    /// A new value only, refused unless the entry is still at `expected_version`.
    pub fn rotation(entry: &EntryRef, value: crate::Plaintext, expected_version: u32) -> Self {
        match entry {
            EntryRef::ProjectEntry(..) => EntryChange::Milestones(UpdateEntry {
                value: Some(value),
                expected_version: Some(expected_version),
                ..UpdateEntry::default()
            }),
            _ => EntryChange::Profiles(UpdateSecret {
                value: Some(value),
                expected_version: Some(expected_version),
                ..UpdateSecret::default()
            }),
        }
    }
}

/// A page of a list route: its items and where the next page starts.
pub trait Page {
    type Item;
    fn into_parts(self) -> (Vec<Self::Item>, Option<String>);
}

impl Page for SecretPage {
    type Item = SecretView;
    fn into_parts(self) -> (Vec<SecretView>, Option<String>) {
        (self.data, self.next_cursor)
    }
}

impl Page for ProjectPage {
    type Item = ProjectSummary;
    fn into_parts(self) -> (Vec<ProjectSummary>, Option<String>) {
        (self.data, self.next_cursor)
    }
}

/// A client of one vault with one token. Cheap to clone: clones share connections.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: std::sync::Arc<Zeroizing<String>>,
    http: reqwest::Client,
    /// For event streams, which have no end: no total timeout, only one between reads
    /// (the vault sends a heartbeat well within it).
    streaming: reqwest::Client,
}

/// How long an event stream may stay silent before the client gives up on it: several
/// of the vault's heartbeats (15 s by default).
pub const STREAM_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(config: Config) -> ClientResult<Self> {
        let built = |builder: reqwest::ClientBuilder| {
            config
                .tls
                .apply(builder)?
                .build()
                .map_err(|e| ClientError::Config {
                    setting: "client",
                    detail: e.to_string(),
                })
        };
        let http = built(reqwest::Client::builder().timeout(config.timeout))?;
        let streaming = built(
            reqwest::Client::builder()
                .connect_timeout(config.timeout)
                .read_timeout(STREAM_READ_TIMEOUT),
        )?;
        Ok(Client {
            base: config.address.trim_end_matches('/').to_owned(),
            token: std::sync::Arc::new(config.token),
            http,
            streaming,
        })
    }

    /// A client configured by `VAULT_ADDR`, `VAULT_TOKEN` and the TLS variables.
    pub fn from_env() -> ClientResult<Self> {
        Self::new(Config::from_env()?)
    }

    pub fn address(&self) -> &str {
        &self.base
    }

    /// The kind the token's prefix names (the prefixes are a pinned contract), or
    /// `None` for a token without one. Says nothing of whether the vault accepts it.
    pub fn token_kind(&self) -> Option<vault_core::TokenKind> {
        vault_core::TokenKind::of_prefixed(self.token.as_str())
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        query: Option<String>,
        body: Option<Vec<u8>>,
        authenticated: bool,
    ) -> ClientResult<(StatusCode, Zeroizing<Vec<u8>>)> {
        let mut url = format!("{}{path}", self.base);
        if let Some(query) = query.filter(|q| !q.is_empty()) {
            url.push('?');
            url.push_str(&query);
        }
        let mut request = self.http.request(method, url);
        if authenticated {
            request = request.bearer_auth(self.token.as_str());
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let unreachable = |e: reqwest::Error| ClientError::Unreachable {
            address: self.base.clone(),
            detail: e.without_url().to_string(),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        // The answer may hold plaintext (a resolution): it is zeroized once parsed.
        let bytes = Zeroizing::new(response.bytes().await.map_err(unreachable)?.to_vec());
        Ok((status, bytes))
    }

    /// One call: `body` serialized as JSON, the answer parsed as `T` on success or as
    /// a problem otherwise.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: Option<String>,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> ClientResult<T> {
        let (status, bytes) = self.exchange(method, path, query, body, true).await?;
        parse(status, &bytes)
    }

    async fn call_empty(&self, method: Method, path: &str) -> ClientResult<()> {
        let (status, bytes) = self.exchange(method, path, None, None::<&()>, true).await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(problem(status, &bytes))
        }
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        query: Option<String>,
        body: Option<&(impl Serialize + ?Sized)>,
        authenticated: bool,
    ) -> ClientResult<(StatusCode, Zeroizing<Vec<u8>>)> {
        let body = body
            .map(|b| serde_json::to_vec(b))
            .transpose()
            .map_err(|e| ClientError::Config {
                setting: "request",
                detail: e.to_string(),
            })?;
        self.send(method, path, query, body, authenticated).await
    }

    // --- user secrets -------------------------------------------------------------

    pub async fn create_secret(&self, body: &CreateSecret) -> ClientResult<SecretView> {
        self.call(Method::POST, "/v1/secrets", None, Some(body))
            .await
    }

    pub async fn list_secrets(&self, params: &ListParams) -> ClientResult<SecretPage> {
        self.call(Method::GET, "/v1/secrets", query(params)?, None::<&()>)
            .await
    }

    // --- any entry ----------------------------------------------------------------

    pub async fn entry(&self, entry: &EntryRef) -> ClientResult<SecretView> {
        self.call(Method::GET, &entry.path(), None, None::<&()>)
            .await
    }

    pub async fn update_entry(
        &self,
        entry: &EntryRef,
        change: &EntryChange,
    ) -> ClientResult<SecretView> {
        let path = entry.path();
        match change {
            EntryChange::Profiles(body) => self.call(Method::PATCH, &path, None, Some(body)).await,
            EntryChange::Milestones(body) => {
                self.call(Method::PATCH, &path, None, Some(body)).await
            }
        }
    }

    pub async fn delete_entry(&self, entry: &EntryRef) -> ClientResult<()> {
        self.call_empty(Method::DELETE, &entry.path()).await
    }

    pub async fn entry_versions(&self, entry: &EntryRef) -> ClientResult<VersionList> {
        let path = format!("{}/versions", entry.path());
        self.call(Method::GET, &path, None, None::<&()>).await
    }

    pub async fn rollback_entry(
        &self,
        entry: &EntryRef,
        body: &Rollback,
    ) -> ClientResult<SecretView> {
        let path = format!("{}/rollback", entry.path());
        self.call(Method::POST, &path, None, Some(body)).await
    }

    /// Whether `body`'s value is the entry's current one; nothing changes. Audited,
    /// and counted against the caller's comparison budget.
    pub async fn compare_entry(
        &self,
        entry: &EntryRef,
        body: &CompareValue,
    ) -> ClientResult<ValueComparison> {
        let path = format!("{}/compare", entry.path());
        self.call(Method::POST, &path, None, Some(body)).await
    }

    // --- workspaces ---------------------------------------------------------------

    pub async fn create_workspace_key(
        &self,
        workspace: &WorkspaceId,
        body: &CreateKey,
    ) -> ClientResult<SecretView> {
        let path = format!("/v1/workspaces/{workspace}/keys");
        self.call(Method::POST, &path, None, Some(body)).await
    }

    pub async fn list_workspace_keys(
        &self,
        workspace: &WorkspaceId,
        params: &KeyListParams,
    ) -> ClientResult<SecretPage> {
        let path = format!("/v1/workspaces/{workspace}/keys");
        self.call(Method::GET, &path, query(params)?, None::<&()>)
            .await
    }

    /// Every workspace's keys (operators).
    pub async fn list_all_workspace_keys(
        &self,
        params: &KeyListParams,
    ) -> ClientResult<SecretPage> {
        self.call(
            Method::GET,
            "/v1/workspace-keys",
            query(params)?,
            None::<&()>,
        )
        .await
    }

    /// `role` is `admins` or `members`.
    async fn workspace_users(
        &self,
        workspace: &WorkspaceId,
        role: &str,
    ) -> ClientResult<WorkspaceUserList> {
        let path = format!("/v1/workspaces/{workspace}/{role}");
        self.call(Method::GET, &path, None, None::<&()>).await
    }

    pub async fn list_workspace_admins(
        &self,
        workspace: &WorkspaceId,
    ) -> ClientResult<WorkspaceUserList> {
        self.workspace_users(workspace, "admins").await
    }

    pub async fn list_workspace_members(
        &self,
        workspace: &WorkspaceId,
    ) -> ClientResult<WorkspaceUserList> {
        self.workspace_users(workspace, "members").await
    }

    pub async fn workspace_member(
        &self,
        workspace: &WorkspaceId,
        user: &UserId,
    ) -> ClientResult<WorkspaceUserView> {
        let path = format!("/v1/workspaces/{workspace}/members/{user}");
        self.call(Method::GET, &path, None, None::<&()>).await
    }

    pub async fn put_workspace_admin(
        &self,
        workspace: &WorkspaceId,
        user: &UserId,
    ) -> ClientResult<WorkspaceUserView> {
        let path = format!("/v1/workspaces/{workspace}/admins/{user}");
        self.call(Method::PUT, &path, None, None::<&()>).await
    }

    pub async fn remove_workspace_admin(
        &self,
        workspace: &WorkspaceId,
        user: &UserId,
    ) -> ClientResult<()> {
        self.call_empty(
            Method::DELETE,
            &format!("/v1/workspaces/{workspace}/admins/{user}"),
        )
        .await
    }

    pub async fn put_workspace_member(
        &self,
        workspace: &WorkspaceId,
        user: &UserId,
    ) -> ClientResult<WorkspaceUserView> {
        let path = format!("/v1/workspaces/{workspace}/members/{user}");
        self.call(Method::PUT, &path, None, None::<&()>).await
    }

    pub async fn remove_workspace_member(
        &self,
        workspace: &WorkspaceId,
        user: &UserId,
    ) -> ClientResult<()> {
        self.call_empty(
            Method::DELETE,
            &format!("/v1/workspaces/{workspace}/members/{user}"),
        )
        .await
    }

    // --- projects -----------------------------------------------------------------

    pub async fn create_project(&self, body: &CreateProject) -> ClientResult<ProjectView> {
        self.call(Method::POST, "/v1/projects", None, Some(body))
            .await
    }

    pub async fn list_projects(&self, params: &ProjectListParams) -> ClientResult<ProjectPage> {
        self.call(Method::GET, "/v1/projects", query(params)?, None::<&()>)
            .await
    }

    pub async fn project(&self, project: &ProjectId) -> ClientResult<ProjectView> {
        let path = format!("/v1/projects/{project}");
        self.call(Method::GET, &path, None, None::<&()>).await
    }

    pub async fn delete_project(&self, project: &ProjectId) -> ClientResult<ProjectRemovalView> {
        let path = format!("/v1/projects/{project}");
        self.call(Method::DELETE, &path, None, None::<&()>).await
    }

    pub async fn create_milestone(
        &self,
        project: &ProjectId,
        body: &CreateMilestone,
    ) -> ClientResult<MilestoneView> {
        let path = format!("/v1/projects/{project}/milestones");
        self.call(Method::POST, &path, None, Some(body)).await
    }

    pub async fn delete_milestone(
        &self,
        project: &ProjectId,
        milestone: &vault_core::MilestoneId,
    ) -> ClientResult<MilestoneRemovalView> {
        let path = format!("/v1/projects/{project}/milestones/{milestone}");
        self.call(Method::DELETE, &path, None, None::<&()>).await
    }

    pub async fn put_project_member(
        &self,
        project: &ProjectId,
        user: &UserId,
        body: &PutMember,
    ) -> ClientResult<MemberView> {
        let path = format!("/v1/projects/{project}/members/{user}");
        self.call(Method::PUT, &path, None, Some(body)).await
    }

    pub async fn remove_project_member(
        &self,
        project: &ProjectId,
        user: &UserId,
    ) -> ClientResult<()> {
        self.call_empty(
            Method::DELETE,
            &format!("/v1/projects/{project}/members/{user}"),
        )
        .await
    }

    pub async fn create_project_entry(
        &self,
        project: &ProjectId,
        body: &CreateEntry,
    ) -> ClientResult<SecretView> {
        let path = format!("/v1/projects/{project}/vault");
        self.call(Method::POST, &path, None, Some(body)).await
    }

    /// Full metadata, or names and categories only for an Informed member.
    pub async fn list_project_entries(
        &self,
        project: &ProjectId,
        params: &EntryListParams,
    ) -> ClientResult<EntryList> {
        let path = format!("/v1/projects/{project}/vault");
        self.call(Method::GET, &path, query(params)?, None::<&()>)
            .await
    }

    // --- resolution and sessions --------------------------------------------------

    /// The env map of one agent context (orchestrator tokens).
    pub async fn resolve(&self, body: &ResolveRequest) -> ClientResult<ResolveResponse> {
        self.call(Method::POST, "/v1/resolve", None, Some(body))
            .await
    }

    pub async fn create_session(&self, body: &CreateSession) -> ClientResult<SessionView> {
        self.call(Method::POST, "/v1/sessions", None, Some(body))
            .await
    }

    pub async fn end_session(&self, session_id: &str) -> ClientResult<()> {
        self.call_empty(Method::DELETE, &format!("/v1/sessions/{session_id}"))
            .await
    }

    /// The whole env of the session's context (session tokens): what the runner in a
    /// container starts its command with.
    pub async fn runtime_env(&self) -> ClientResult<RuntimeEnv> {
        self.call(Method::GET, "/v1/runtime/env", None, None::<&()>)
            .await
    }

    /// One name of the session's context (session tokens).
    pub async fn runtime_secret(&self, name: &EnvName) -> ClientResult<RuntimeSecret> {
        let path = format!("/v1/runtime/secrets/{name}");
        self.call(Method::GET, &path, None, None::<&()>).await
    }

    // --- tokens and audit ---------------------------------------------------------

    pub async fn create_token(&self, body: &CreateToken) -> ClientResult<IssuedTokenView> {
        self.call(Method::POST, "/v1/tokens", None, Some(body))
            .await
    }

    pub async fn list_tokens(&self) -> ClientResult<TokenList> {
        self.call(Method::GET, "/v1/tokens", None, None::<&()>)
            .await
    }

    pub async fn revoke_token(&self, token_id: &str) -> ClientResult<()> {
        self.call_empty(Method::DELETE, &format!("/v1/tokens/{token_id}"))
            .await
    }

    pub async fn audit(&self, params: &AuditParams) -> ClientResult<AuditPage> {
        self.call(Method::GET, "/v1/audit", query(params)?, None::<&()>)
            .await
    }

    // --- change events ------------------------------------------------------------

    // --- webhooks -------------------------------------------------------------------

    /// Registers an endpoint; the answer holds its signing secret, once.
    pub async fn create_webhook(&self, body: &CreateWebhook) -> ClientResult<WebhookWithSecret> {
        self.call(Method::POST, "/v1/webhooks", None, Some(body))
            .await
    }

    pub async fn list_webhooks(&self, params: &WebhookListParams) -> ClientResult<WebhookList> {
        self.call(Method::GET, "/v1/webhooks", query(params)?, None::<&()>)
            .await
    }

    /// The endpoint's latest deliveries, newest first.
    pub async fn webhook_deliveries(&self, webhook_id: &str) -> ClientResult<DeliveryList> {
        self.call(
            Method::GET,
            &format!("/v1/webhooks/{webhook_id}/deliveries"),
            None,
            None::<&()>,
        )
        .await
    }

    /// A page of the events this token may see.
    pub async fn events(&self, params: &EventParams) -> ClientResult<EventPage> {
        self.call(Method::GET, "/v1/events", query(params)?, None::<&()>)
            .await
    }

    /// Opens the live stream: from after `last_event_id` (sent as `Last-Event-ID`),
    /// or from now without one. Refusals (401, 403, 410 when the position is older
    /// than the vault keeps) come back as problems, as from any call.
    pub async fn event_stream(
        &self,
        params: &EventParams,
        last_event_id: Option<u64>,
    ) -> ClientResult<crate::events::EventStream> {
        let mut url = format!("{}/v1/events", self.base);
        if let Some(query) = query(params)?.filter(|q| !q.is_empty()) {
            url.push('?');
            url.push_str(&query);
        }
        let mut request = self
            .streaming
            .get(url)
            .bearer_auth(self.token.as_str())
            .header(reqwest::header::ACCEPT, EVENT_STREAM);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let unreachable = |e: reqwest::Error| ClientError::Unreachable {
            address: self.base.clone(),
            detail: e.without_url().to_string(),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        if !status.is_success() {
            let bytes = response.bytes().await.map_err(unreachable)?;
            return Err(problem(status, &bytes));
        }
        Ok(crate::events::EventStream::new(
            response,
            last_event_id,
            self.base.clone(),
        ))
    }

    // --- probes -------------------------------------------------------------------

    pub async fn health(&self) -> ClientResult<Health> {
        let (status, bytes) = self
            .exchange(Method::GET, "/healthz", None, None::<&()>, false)
            .await?;
        parse(status, &bytes)
    }

    /// Readiness, ready or not: a 503 still carries the readiness document.
    pub async fn readiness(&self) -> ClientResult<Readiness> {
        let (status, bytes) = self
            .exchange(Method::GET, "/readyz", None, None::<&()>, false)
            .await?;
        let status = if status == StatusCode::SERVICE_UNAVAILABLE {
            StatusCode::OK
        } else {
            status
        };
        parse(status, &bytes)
    }

    // --- pagination ---------------------------------------------------------------

    /// Walks a list route from its first page until it ends or `max` items are in.
    /// `fetch` gets the cursor of the page to load (`None` for the first).
    pub async fn collect_pages<P, F, Fut>(
        &self,
        max: usize,
        mut fetch: F,
    ) -> ClientResult<Vec<P::Item>>
    where
        P: Page,
        F: FnMut(Option<String>) -> Fut,
        Fut: std::future::Future<Output = ClientResult<P>>,
    {
        let mut items = Vec::new();
        let mut cursor = None;
        loop {
            let (page, next) = fetch(cursor).await?.into_parts();
            items.extend(page);
            cursor = next;
            if cursor.is_none() || items.len() >= max {
                items.truncate(max);
                return Ok(items);
            }
        }
    }
}

fn query(params: &impl Serialize) -> ClientResult<Option<String>> {
    serde_urlencoded::to_string(params)
        .map(Some)
        .map_err(|e| ClientError::Config {
            setting: "query",
            detail: e.to_string(),
        })
}

fn parse<T: DeserializeOwned>(status: StatusCode, bytes: &[u8]) -> ClientResult<T> {
    if !status.is_success() {
        return Err(problem(status, bytes));
    }
    serde_json::from_slice(bytes).map_err(|e| ClientError::UnexpectedAnswer {
        status: status.as_u16(),
        // The position only: the text around it may be a value.
        detail: format!(
            "line {} column {}: {:?}",
            e.line(),
            e.column(),
            e.classify()
        ),
    })
}

fn problem(status: StatusCode, bytes: &[u8]) -> ClientError {
    match serde_json::from_slice::<Problem>(bytes) {
        Ok(problem) => ClientError::Problem(Box::new(problem)),
        Err(_) => ClientError::UnexpectedAnswer {
            status: status.as_u16(),
            detail: "not a problem document".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(token: &str) -> Client {
        Client::new(Config::new(
            "http://127.0.0.1:1",
            Zeroizing::new(token.to_owned()),
        ))
        .expect("a client")
    }

    #[test]
    fn the_token_kind_is_read_from_its_prefix() {
        for kind in vault_core::TokenKind::ALL {
            let token = format!("{}AAAA", kind.prefix());
            assert_eq!(client(&token).token_kind(), Some(kind), "{token}");
        }
        assert_eq!(client("not-a-vault-token").token_kind(), None);
    }
}
