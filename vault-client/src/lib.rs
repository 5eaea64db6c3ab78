//! vault-client: the vault's HTTP API as Rust types, and a typed async client.
//!
//! Every request and response body of the API is defined here once ([`wire`]):
//! vault-api parses its requests and writes its answers with these very types, so a
//! client built on this crate cannot drift from the server it was built with. A
//! refusal is a [`Problem`] with a stable [`ProblemCode`] to branch on, and the
//! `field` it is about.
//!
//! Plaintext crosses the wire in two places only, and both ends keep it in
//! zeroizing, redacted types: values sent to be stored ([`Plaintext`]) and the env a
//! resolution answers with (vault-core's `SecretValue`).
//!
//! # Example: an orchestrator resolving a context
//!
//! ```no_run
//! use vault_client::{Client, ProblemCode, ClientError};
//! use vault_client::wire::{Context, ResolveRequest};
//!
//! # async fn start_task() -> Result<(), ClientError> {
//! // VAULT_ADDR, VAULT_TOKEN (an orchestrator token) and, over TLS, VAULT_CACERT.
//! let vault = Client::from_env()?;
//! let request = ResolveRequest::for_context(Context {
//!     user_id: "alice".into(),
//!     profile_id: "coder".into(),
//!     ..Context::default()
//! });
//! match vault.resolve(&request).await {
//!     Ok(resolved) => {
//!         for (name, value) in &resolved.env {
//!             // Hand each pair to the container runtime; never log `value`.
//!             let _ = (name.as_str(), value.expose());
//!         }
//!     }
//!     Err(ClientError::Problem(p)) if p.code == ProblemCode::ProjectInjectionDenied => {
//!         // The user may not have this project's secrets: start without it.
//!     }
//!     Err(other) => return Err(other),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! `examples/resolve.rs` is the same as a program.

pub mod body;
mod client;
mod config;
pub mod de;
mod error;
pub mod events;
pub mod plaintext;
mod problem;
pub mod wire;

pub use client::{Client, EntryChange, EntryRef, Page, STREAM_READ_TIMEOUT};
pub use config::{Config, DEFAULT_ADDR, TlsSettings};
pub use error::{ClientError, ClientResult};
pub use events::{EventStream, StreamItem};
pub use plaintext::Plaintext;
pub use problem::{Contributor, Problem, ProblemCode};
