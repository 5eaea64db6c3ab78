//! vault-tui: the operator console (ratatui + crossterm) for browsing, rotating,
//! rolling back and deleting secrets and reading the audit trail. An HTTP client of
//! vault-api: it reaches data through the API only, never the store or the keys.

pub mod api;
pub mod app;
pub mod model;
pub mod render;
pub mod run;

#[cfg(test)]
mod tests;
