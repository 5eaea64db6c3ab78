//! vault-api: the axum HTTP service the orchestrator, users and operators call, and
//! the server binary. It composes vault-core's rules, vault-kms's encryption and
//! vault-store's persistence; the only crate that knows axum.

pub mod app;
pub mod audit;
pub mod auth;
pub mod authz;
pub mod body;
pub mod candidates;
pub mod checkpoint;
pub mod clock;
pub mod contract;
pub mod error;
pub mod flood;
pub mod kek_store;
pub mod keys;
pub mod logging;
pub mod metrics;
pub mod routes;
pub mod server;
pub mod service;
pub mod state;
pub mod tls;
pub mod tokens;
pub mod value;
pub mod verify;

pub use error::{ApiError, ApiResult};
pub use state::{AppState, StateOptions};
