//! The HTTP routes, one module per resource.

pub mod audit;
pub mod entries;
pub mod health;
pub mod projects;
pub mod resolve;
pub mod secrets;
pub mod sessions;
pub mod tokens;
pub mod workspaces;

use serde::{Deserialize, Deserializer};

/// For PATCH fields where `null` clears and absence leaves alone.
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
