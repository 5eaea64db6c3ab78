//! vault-testkit: what every crate's tests share, written once. A fresh database per
//! test on SQLite or on the PostgreSQL server `cargo xtask test` starts
//! ([`TestDb`], [`on_both_backends!`]); LocalStack's KMS ([`localstack`]); a real
//! `vault-api serve --dev` on a free port ([`DevServer`]); and the scans that prove a
//! marker value was never disclosed ([`markers`]). It is a dev-dependency only, which
//! `cargo xtask tidy` checks: nothing here may reach a shipped binary.

mod db;
mod dev_server;
pub mod localstack;
mod macros;
pub mod markers;

pub use db::{Backend, POSTGRES_URL_VAR, REQUIRE_POSTGRES_VAR, TestDb, hex_of};
pub use dev_server::{DevServer, dev_cli, free_port, serve_dev, workspace_binary};
