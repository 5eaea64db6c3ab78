//! The fixture of the end-to-end tests: a real `vault-api serve --dev` with alice's
//! secrets stored, and `vaultctl` pointed at it.

// Each test binary uses a part of the fixture.
#![allow(dead_code)]

use std::process::Command;

use vault_client::wire::{CreateSecret, CreateSession, CreateToken};
use vault_client::{Client, Config, Plaintext};
use vault_testkit::DevServer;
use zeroize::Zeroizing;

pub const VAULTCTL: &str = env!("CARGO_BIN_EXE_vaultctl");

/// Values with what shells, JSON and URLs escape, and a newline.
pub const VALUES: [(&str, &str); 4] = [
    ("API_KEY", "sk-live-4f9c2a7e1b8d3f6a0c5e"),
    ("DB_PASSWORD", "pa\"ss\\wörd $HOME #x/y?z=1&w"),
    (
        "CERT_PEM",
        "-----BEGIN-----\nMIIBfake0123456789\n-----END-----",
    ),
    ("QUOTED", "it's 'single' \\' and two trailing spaces  "),
];

pub struct Vault {
    pub server: DevServer,
    pub orchestrator: Client,
    /// A user token of alice, whose secrets `VALUES` are.
    pub alice: String,
}

impl Vault {
    pub async fn start() -> Vault {
        let api = vault_testkit::workspace_binary(VAULTCTL, "vault-api", "vault-api");
        let server = DevServer::start(api.to_str().expect("a UTF-8 path"));
        let client = |token: &str| {
            Client::new(Config::new(&server.base, Zeroizing::new(token.to_owned())))
                .expect("a client")
        };
        let operator = client(&server.operator);
        let issued = operator
            .create_token(&CreateToken {
                kind: "user".into(),
                user_id: Some("alice".into()),
                ..CreateToken::default()
            })
            .await
            .expect("a user token");
        let alice_token = issued.secret.expose().to_owned();
        let alice = client(&alice_token);
        for (name, value) in VALUES {
            alice
                .create_secret(&CreateSecret {
                    name: name.into(),
                    value: Plaintext::new(value),
                    ..CreateSecret::default()
                })
                .await
                .expect("stored");
        }
        let orchestrator = client(&server.orchestrator);
        Vault {
            server,
            orchestrator,
            alice: alice_token,
        }
    }

    pub async fn session(&self, ttl_seconds: Option<u64>) -> (String, String) {
        let session = self
            .orchestrator
            .create_session(&CreateSession {
                user_id: "alice".into(),
                profile_id: "p1".into(),
                ttl_seconds,
                ..CreateSession::default()
            })
            .await
            .expect("a session");
        (session.id, session.token.expose().to_owned())
    }

    /// A user token for `user`, minted by the operator.
    pub async fn user_token(&self, user: &str) -> String {
        let operator = Client::new(Config::new(
            &self.server.base,
            Zeroizing::new(self.server.operator.clone()),
        ))
        .expect("a client");
        let issued = operator
            .create_token(&CreateToken {
                kind: "user".into(),
                user_id: Some(user.into()),
                ..CreateToken::default()
            })
            .await
            .expect("a user token");
        issued.secret.expose().to_owned()
    }

    /// `vaultctl` with `token` as VAULT_TOKEN and no session token.
    pub fn as_user(&self, token: &str) -> Command {
        let mut command = Command::new(VAULTCTL);
        command
            .env("VAULT_ADDR", &self.server.base)
            .env("VAULT_TOKEN", token)
            .env_remove("VAULT_SESSION_TOKEN")
            .env_remove("VAULT_TOKEN_FILE");
        command
    }

    pub fn vaultctl(&self, token: &str) -> Command {
        let mut command = Command::new(VAULTCTL);
        command
            .env("VAULT_ADDR", &self.server.base)
            .env("VAULT_SESSION_TOKEN", token)
            .env_remove("VAULT_TOKEN");
        command
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
