//! Secrets of every owner kind: create, read, list, update (metadata and value), delete,
//! version history, and the candidates of one resolution context; one file per job.

mod candidates;
mod checks;
mod lists;
mod rows;
mod types;
mod writes;

pub use candidates::Generations;
pub(crate) use candidates::{candidates, generations, stamped_candidates};
pub(crate) use checks::{check_new, check_update};
pub(crate) use lists::{current_masked, get, list, sealed_version, versions};
pub(crate) use rows::{owner_from_row, stamp_every_row, stamp_row_by_id};
pub use types::{
    ListCursor, ListOwner, MAX_PAGE_SIZE, NewSecret, NewValue, Page, Sealed, SecretQuery,
    SecretUpdate, VersionInfo,
};
pub(crate) use writes::{Updated, create, delete, update};
