//! vault-kms tests, inside the crate so they can reach the plaintext DEKs and nonces
//! that the public API rightly hides.

mod envelope;
mod fixtures;
mod keyring;
mod local;
mod redaction;
mod repository;
