//! A real vault-api on a loopback port over vault-testkit's per-test database (a temp
//! SQLite file, or a fresh database on the PostgreSQL server `cargo xtask test`
//! starts), with a clock the test moves.

#![allow(dead_code)]

pub mod leaks;

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use reqwest::{Client, Method, Response};
use serde_json::Value;
use tokio::net::TcpListener;
use vault_api::audit::{Actor, AuditContext};
use vault_api::clock::ManualClock;
use vault_api::server::{self, NameRules, RootConfig, RootKeys};
use vault_api::service::tokens::TokenRequest;
use vault_api::{AppState, StateOptions};
use vault_kms::KeyringConfig;
use vault_store::{Store, StoreConfig};
use zeroize::Zeroizing;

pub use vault_testkit::TestDb;

pub struct TestServer {
    pub base: String,
    pub client: Client,
    pub clock: Arc<ManualClock>,
    pub store: Store,
    pub operator: String,
    pub orchestrator: String,
    pub db: TestDb,
    pub state: AppState,
    key: Zeroizing<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Another vault-api process's worth of state on the same database and key: what a
/// second replica behind the load balancer is.
pub struct Replica {
    pub base: String,
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn serve_on_loopback(state: AppState) -> (String, tokio::sync::oneshot::Sender<()>) {
    let options = server::ServeOptions {
        grace: Duration::from_secs(5),
        ..server::ServeOptions::default()
    };
    serve_on_loopback_with(state, options).await
}

/// Serves `state` with `options` on a fresh loopback port; `https://` when they
/// carry TLS. The sender stops it.
pub async fn serve_on_loopback_with(
    state: AppState,
    options: server::ServeOptions,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let base = format!("{scheme}://{}", listener.local_addr().expect("bound"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::serve_with(
        listener,
        state,
        async move {
            let _ = stopped.await;
        },
        options,
    ));
    (base, stop)
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A loopback port nothing listens on now.
pub fn test_key() -> Zeroizing<String> {
    vault_kms::RootKey::generate_encoded().expect("random")
}

/// What a test server is configured with beyond its database and key, as `serve`
/// takes it from its flags.
#[derive(Clone, Default)]
pub struct ServerOptions {
    pub names: NameRules,
    /// `VAULT_MAX_ENV_BYTES`; the default when `None`.
    pub max_env_bytes: Option<usize>,
    /// `VAULT_MAX_ENTRIES_PER_OWNER`; the default when `None`.
    pub max_entries_per_owner: Option<u32>,
    /// How connections are served (TLS, timeouts, the cap); plain HTTP by default.
    pub serve: Option<server::ServeOptions>,
    /// The client the server's helpers call with (one that trusts its CA, say).
    pub client: Option<Client>,
    /// The rest of the state's settings (the flood limits, say); `env_limit` is
    /// taken from `max_env_bytes`.
    pub state: Option<StateOptions>,
}

impl ServerOptions {
    pub fn reserved(names: &[&str]) -> ServerOptions {
        ServerOptions {
            names: NameRules {
                reserved: names.iter().map(|s| s.to_string()).collect(),
                ..NameRules::default()
            },
            ..ServerOptions::default()
        }
    }
}

impl TestServer {
    pub async fn start(db: TestDb) -> TestServer {
        Self::start_configured(db, test_key(), ServerOptions::default()).await
    }

    pub async fn start_with(db: TestDb, key: Zeroizing<String>, reserved: &[&str]) -> TestServer {
        Self::start_configured(db, key, ServerOptions::reserved(reserved)).await
    }

    pub async fn start_configured(
        db: TestDb,
        key: Zeroizing<String>,
        options: ServerOptions,
    ) -> TestServer {
        let clock = Arc::new(ManualClock::new(
            Utc.timestamp_opt(1_800_000_000, 0).single().expect("valid"),
        ));
        let mut config = StoreConfig::default();
        if let Some(limit) = options.max_entries_per_owner {
            config.max_entries_per_owner = std::num::NonZeroU32::new(limit).expect("non-zero");
        }
        let store = server::open_store(&db.url, config)
            .await
            .expect("store opens");
        let keys = RootConfig::Local(RootKeys {
            current: key.clone(),
            previous: Vec::new(),
        });
        let keyring = server::open_keyring(&store, &keys, clock.clone(), KeyringConfig::default())
            .await
            .expect("keyring opens");
        let policy = server::policy(&options.names).expect("valid policy");
        let state_options = StateOptions {
            env_limit: options
                .max_env_bytes
                .map(|bytes| vault_core::EnvLimit::new(bytes).expect("valid limit"))
                .unwrap_or_default(),
            ..options.state.clone().unwrap_or_default()
        };
        let state =
            AppState::with_options(store.clone(), keyring, policy, clock.clone(), state_options);
        let serve = options
            .serve
            .clone()
            .unwrap_or_else(|| server::ServeOptions {
                grace: Duration::from_secs(5),
                ..server::ServeOptions::default()
            });
        let (base, stop) = serve_on_loopback_with(state.clone(), serve).await;
        let mut server = TestServer {
            base,
            client: options.client.clone().unwrap_or_default(),
            state,
            clock,
            store,
            operator: String::new(),
            orchestrator: String::new(),
            db,
            key,
            stop: Some(stop),
        };
        server.operator = server.token("operator", None).await;
        server.orchestrator = server.token("orchestrator", None).await;
        server
    }

    /// A second replica: its own store pool, keyring and caches, the same database.
    pub async fn replica(&self) -> Replica {
        self.replica_with(StateOptions::default()).await
    }

    /// As `replica`, with these settings (a restarted vault configured otherwise).
    pub async fn replica_with(&self, options: StateOptions) -> Replica {
        let store = server::open_store(&self.db.url, StoreConfig::default())
            .await
            .expect("store opens");
        let keys = RootConfig::Local(RootKeys {
            current: self.key.clone(),
            previous: Vec::new(),
        });
        let keyring =
            server::open_keyring(&store, &keys, self.clock.clone(), KeyringConfig::default())
                .await
                .expect("keyring opens");
        let policy = server::policy(&NameRules::default()).expect("valid policy");
        let state = AppState::with_options(store, keyring, policy, self.clock.clone(), options);
        let (base, stop) = serve_on_loopback(state.clone()).await;
        Replica {
            base,
            state,
            stop: Some(stop),
        }
    }

    /// Issues a token the way `vault-api token create` does.
    pub async fn token(&self, kind: &str, user: Option<&str>) -> String {
        self.token_lasting(kind, user, None).await.1
    }

    /// As `token`, with a lifetime such as `1h`; returns the token's id and value.
    pub async fn token_lasting(
        &self,
        kind: &str,
        user: Option<&str>,
        ttl: Option<&str>,
    ) -> (String, String) {
        let audit = AuditContext {
            clock: self.clock.clone(),
        };
        let (stored, secret) = TokenRequest::parse(kind, user, ttl, None)
            .expect("valid request")
            .issue(&self.store, &audit, "req_test", &Actor::cli())
            .await
            .expect("issues");
        (stored.id, secret.to_string())
    }

    /// Calls and checks the status, returning the body.
    pub async fn expect(
        &self,
        status: u16,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Value {
        let (got, json) = self.call(method.clone(), path, token, body).await;
        assert_eq!(got, status, "{method} {path}: {json}");
        json
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let response = self.send(method, path, token, body).await;
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Response {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("the server answers")
    }

    /// The root key this server runs with.
    pub fn key(&self) -> Zeroizing<String> {
        self.key.clone()
    }

    /// Writes secret `id`'s row MAC over the row as it now stands, as the vault does
    /// when it first installs its integrity master over rows an older version left:
    /// for tests of rows that reached the database before today's rules.
    pub async fn restamp_row(&self, id: &str) {
        let keys = self
            .store
            .integrity_keys()
            .expect("the vault holds its keys");
        // A store without the keys reads the row as it stands, unchecked.
        let unchecked = server::open_store(&self.db.url, StoreConfig::default())
            .await
            .expect("opens");
        let meta = unchecked
            .secret(vault_core::SecretId::parse(id).expect("an id"))
            .await
            .expect("reads");
        let literal = self.db.blob(&vault_core::row_mac(&keys, &meta));
        self.db.execute(&format!(
            "UPDATE secrets SET row_mac = {literal} WHERE id = '{id}'"
        ));
    }

    pub async fn resolve(&self, body: Value) -> Value {
        let (status, json) = self
            .call(Method::POST, "/v1/resolve", &self.orchestrator, Some(body))
            .await;
        assert_eq!(status, 200, "{json}");
        json
    }
}
