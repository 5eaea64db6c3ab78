//! vault-api's test suite, in one binary so it links once: each module plays one part
//! of the API against the real server (in process or as the `vault-api` binary) on
//! SQLite and PostgreSQL, with LocalStack's KMS where a test needs it.

mod support;

mod api;
mod audit_cli;
mod authz_model;
mod binary;
mod client;
mod compare;
mod console;
mod contract;
mod events;
mod flood;
mod integrity;
mod keys;
mod kms;
mod principals;
mod projects;
mod readme;
mod serve_tls;
mod shapes;
mod transport;
mod trust;
mod webhooks;
