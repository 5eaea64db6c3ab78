//! vault-store: the vault's persistence through diesel, on SQLite (the embedded
//! default) and PostgreSQL (several vault-api replicas on one fleet), with the
//! migrations embedded and applied at start-up. The only crate that knows the
//! database; it keeps envelopes as opaque bytes and stands on vault-core alone.
