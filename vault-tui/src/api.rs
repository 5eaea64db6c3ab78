//! The console's only way to data: vault-api over HTTP with an operator token. The
//! `ApiClient` trait keeps the event loop testable; `HttpClient` is the real one.
//! Responses carry masked values only; the one value sent is a rotation's, in the body
//! of a PATCH, from a zeroizing buffer.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::app::Tab;
use crate::model::{ApiFailure, AuditRow, RowPage, SecretRow, VersionRow};

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
}

pub struct HttpClient {
    base: String,
    token: Zeroizing<String>,
    http: reqwest::Client,
}

/// How the client trusts the vault and proves itself, by the Vault CLI's variables:
/// `VAULT_CACERT` (PEM CA certificates that alone are trusted for the server),
/// `VAULT_CLIENT_CERT` and `VAULT_CLIENT_KEY` (a client certificate for mTLS).
#[derive(Clone, Debug, Default)]
pub struct TlsSettings {
    pub ca_cert: Option<std::path::PathBuf>,
    pub client_cert: Option<std::path::PathBuf>,
    pub client_key: Option<std::path::PathBuf>,
}

impl TlsSettings {
    pub fn from_env() -> Self {
        let path = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(std::path::PathBuf::from)
        };
        TlsSettings {
            ca_cert: path("VAULT_CACERT"),
            client_cert: path("VAULT_CLIENT_CERT"),
            client_key: path("VAULT_CLIENT_KEY"),
        }
    }

    fn apply(&self, builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder, ApiFailure> {
        let read = |variable: &str, path: &std::path::Path| {
            std::fs::read(path)
                .map_err(|e| failure("tls", format!("{variable} {}: {e}", path.display())))
        };
        let mut builder = builder;
        if let Some(path) = &self.ca_cert {
            let certs = reqwest::Certificate::from_pem_bundle(&read("VAULT_CACERT", path)?)
                .map_err(|e| failure("tls", format!("VAULT_CACERT {}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(failure(
                    "tls",
                    format!("VAULT_CACERT {}: no PEM certificate in it", path.display()),
                ));
            }
            builder = builder.tls_certs_only(certs);
        }
        match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => {
                let mut pem = read("VAULT_CLIENT_CERT", cert)?;
                pem.push(b'\n');
                pem.extend(Zeroizing::new(read("VAULT_CLIENT_KEY", key)?).iter());
                let pem = Zeroizing::new(pem);
                let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
                    failure("tls", format!("VAULT_CLIENT_CERT / VAULT_CLIENT_KEY: {e}"))
                })?;
                builder = builder.identity(identity);
            }
            (None, None) => {}
            _ => {
                return Err(failure(
                    "tls",
                    "VAULT_CLIENT_CERT and VAULT_CLIENT_KEY go together; set both or neither"
                        .into(),
                ));
            }
        }
        Ok(builder)
    }
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
        let builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(15));
        let http = tls
            .apply(builder)?
            .build()
            .map_err(|e| failure("client", e.to_string()))?;
        Ok(HttpClient {
            base: base.trim_end_matches('/').to_owned(),
            token,
            http,
        })
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ApiFailure> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token.as_str());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| {
            failure(
                "unreachable",
                format!(
                    "vault-api at {} did not answer ({})",
                    self.base,
                    e.without_url()
                ),
            )
        })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| failure("unreachable", e.without_url().to_string()))?;
        let json: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .map_err(|_| failure("bad_response", format!("HTTP {status}")))?
        };
        if status.is_success() {
            Ok(json)
        } else if status == StatusCode::UNAUTHORIZED {
            Err(failure("unauthenticated", "the token was rejected".into()))
        } else {
            Err(failure(
                json["code"].as_str().unwrap_or("error"),
                json["detail"]
                    .as_str()
                    .map_or_else(|| format!("HTTP {status}"), str::to_owned),
            ))
        }
    }

    /// One page of the list route `path`: its items and the next cursor.
    async fn one_page(
        &self,
        path: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>), ApiFailure> {
        let mut page_path = format!("{path}?limit={limit}");
        if let Some(cursor) = cursor {
            page_path.push_str("&cursor=");
            page_path.push_str(cursor);
        }
        let page = self.call(Method::GET, &page_path, None).await?;
        Ok((
            page["data"].as_array().cloned().unwrap_or_default(),
            page["next_cursor"].as_str().map(str::to_owned),
        ))
    }

    /// Every page of `path`, up to `max` items.
    async fn all_pages(&self, path: &str, max: usize) -> Result<Vec<Value>, ApiFailure> {
        let mut items = Vec::new();
        let mut cursor = None;
        loop {
            let (page, next) = self.one_page(path, 200, cursor.as_deref()).await?;
            items.extend(page);
            cursor = next;
            if cursor.is_none() || items.len() >= max {
                return Ok(items);
            }
        }
    }
}

fn failure(code: &str, detail: String) -> ApiFailure {
    ApiFailure {
        code: code.to_owned(),
        detail,
    }
}

fn time(value: &Value) -> Option<DateTime<Utc>> {
    value
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// A list or get response item as a row.
pub fn row_from(json: &Value) -> Result<SecretRow, ApiFailure> {
    let text = |key: &str| json[key].as_str().map(str::to_owned);
    let owner = if let Some(user) = text("user_id") {
        format!("user:{user}")
    } else if let Some(workspace) = text("workspace_id") {
        format!("workspace:{workspace}")
    } else if let Some(project) = text("project_id") {
        format!("project:{project}")
    } else {
        return Err(failure("bad_response", "an entry without an owner".into()));
    };
    let targets = json["profile_ids"]
        .as_array()
        .or(json["milestone_ids"].as_array())
        .map(|ids| {
            ids.iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(SecretRow {
        id: text("id").ok_or_else(|| failure("bad_response", "an entry without an id".into()))?,
        owner,
        name: text("name").unwrap_or_default(),
        scope: text("scope").unwrap_or_default(),
        targets,
        category: text("category").unwrap_or_default(),
        masked: text("masked").unwrap_or_else(|| "****".into()),
        version: json["version"]
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0),
        expires_at: time(&json["expires_at"]),
        description: text("description").filter(|d| !d.is_empty()),
        created_at: time(&json["created_at"]).unwrap_or_default(),
        updated_at: time(&json["updated_at"]).unwrap_or_default(),
    })
}

/// The route of one entry, from its owner.
fn entry_path(row: &SecretRow) -> Result<String, ApiFailure> {
    match row.owner.split_once(':') {
        Some(("user", _)) => Ok(format!("/v1/secrets/{}", row.id)),
        Some(("workspace", wid)) => Ok(format!("/v1/workspaces/{wid}/keys/{}", row.id)),
        Some(("project", pid)) => Ok(format!("/v1/projects/{pid}/vault/{}", row.id)),
        _ => Err(failure("bad_row", format!("unknown owner {}", row.owner))),
    }
}

#[async_trait]
impl ApiClient for HttpClient {
    async fn check(&self) -> Result<(), ApiFailure> {
        // An operator-only route: any other token kind is refused here, at start.
        self.call(Method::GET, "/v1/tokens", None).await.map(|_| ())
    }

    async fn page(&self, tab: Tab, cursor: Option<String>) -> Result<RowPage, ApiFailure> {
        let (items, next) = match tab {
            Tab::UserSecrets => {
                self.one_page("/v1/secrets", PAGE, cursor.as_deref())
                    .await?
            }
            Tab::WorkspaceKeys => {
                self.one_page("/v1/workspace-keys", PAGE, cursor.as_deref())
                    .await?
            }
            Tab::ProjectVault => {
                let (projects, next) = self
                    .one_page("/v1/projects", PROJECTS_PER_PAGE, cursor.as_deref())
                    .await?;
                let mut items = Vec::new();
                for project in projects {
                    if let Some(pid) = project["id"].as_str() {
                        let path = format!("/v1/projects/{pid}/vault");
                        items.extend(self.all_pages(&path, MAX_PROJECT_ROWS).await?);
                    }
                }
                (items, next)
            }
            Tab::Audit => {
                return Err(failure(
                    "bad_request",
                    "the audit tab loads through audit()".into(),
                ));
            }
        };
        Ok(RowPage {
            rows: items.iter().map(row_from).collect::<Result<_, _>>()?,
            next,
        })
    }

    async fn versions(&self, row: &SecretRow) -> Result<Vec<VersionRow>, ApiFailure> {
        let path = format!("{}/versions", entry_path(row)?);
        let json = self.call(Method::GET, &path, None).await?;
        Ok(json["data"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| VersionRow {
                version: v["version"]
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(0),
                masked: v["masked"].as_str().unwrap_or("****").to_owned(),
                current: v["current"].as_bool().unwrap_or(false),
                restored_from: v["restored_from"]
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok()),
                created_at: time(&v["created_at"]).unwrap_or_default(),
            })
            .collect())
    }

    async fn rotate(
        &self,
        row: &SecretRow,
        value: Zeroizing<String>,
    ) -> Result<SecretRow, ApiFailure> {
        let body = json!({"value": value.as_str(), "expected_version": row.version});
        let answer = self
            .call(Method::PATCH, &entry_path(row)?, Some(body))
            .await;
        drop(value);
        row_from(&answer?)
    }

    async fn project_counts(&self, project_id: &str) -> Result<(usize, usize), ApiFailure> {
        let project = self
            .call(Method::GET, &format!("/v1/projects/{project_id}"), None)
            .await?;
        let count = |key: &str| project[key].as_array().map_or(0, Vec::len);
        Ok((count("milestones"), count("members")))
    }

    async fn delete_project(&self, project_id: &str) -> Result<u64, ApiFailure> {
        let removal = self
            .call(Method::DELETE, &format!("/v1/projects/{project_id}"), None)
            .await?;
        Ok(removal["entries_removed"].as_u64().unwrap_or(0))
    }

    async fn audit(&self) -> Result<Vec<AuditRow>, ApiFailure> {
        let page = self.call(Method::GET, "/v1/audit?limit=200", None).await?;
        Ok(page["data"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| AuditRow {
                seq: r["seq"].as_u64().unwrap_or(0),
                id: r["id"].as_str().unwrap_or_default().to_owned(),
                at: time(&r["at"]).unwrap_or_default(),
                principal: r["principal"].as_str().unwrap_or_default().to_owned(),
                action: r["action"].as_str().unwrap_or_default().to_owned(),
                outcome: r["outcome"].as_str().unwrap_or_default().to_owned(),
                request_id: r["request_id"].as_str().unwrap_or_default().to_owned(),
                target: Some(r["target"].clone()).filter(|t| !t.is_null()),
            })
            .collect())
    }

    async fn rollback(&self, row: &SecretRow, version: u32) -> Result<SecretRow, ApiFailure> {
        let path = format!("{}/rollback", entry_path(row)?);
        let body = json!({"version": version, "expected_version": row.version});
        row_from(&self.call(Method::POST, &path, Some(body)).await?)
    }

    async fn delete(&self, row: &SecretRow) -> Result<(), ApiFailure> {
        self.call(Method::DELETE, &entry_path(row)?, None)
            .await
            .map(|_| ())
    }
}
