//! What the API does, apart from HTTP: each module takes a principal and parsed input,
//! works through the store, the keyring and the audit writer, and returns domain
//! results or an `ApiError`. Route modules extract, call one of these and map the
//! answer to a response; none of them reaches the store itself (`cargo xtask tidy`).

pub mod audit;
pub mod entries;
pub mod events;
pub mod health;
pub mod project_vault;
pub mod projects;
pub mod resolution;
pub mod secrets;
pub mod sessions;
pub mod tokens;
pub mod webhooks;
pub mod workspaces;
