//! The HTTP routes, one module per resource.

pub mod audit;
pub mod compare;
pub mod events;
pub mod health;
pub mod projects;
pub mod resolve;
pub mod secrets;
pub mod sessions;
pub mod tokens;
pub mod webhooks;
pub mod workspaces;
