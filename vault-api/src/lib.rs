//! vault-api: the axum HTTP service the orchestrator, users and operators call, and
//! the server binary. It composes vault-core's rules, vault-kms's encryption and
//! vault-store's persistence; the only crate that knows axum.
