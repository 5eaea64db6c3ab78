//! What the API does, apart from HTTP: each module takes a principal and parsed input,
//! works through the store, the keyring and the audit writer, and returns domain
//! results or an `ApiError`. Route modules extract, call one of these and map the
//! answer to a response.

pub mod resolution;
