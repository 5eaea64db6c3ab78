//! The reads every owner's entries share: a page with masked values, one entry's view
//! and its version history.

use vault_client::wire::{SecretPage, SecretView, VersionList, VersionView};
use vault_core::{SecretId, SecretMeta, Version};
use vault_store::{ListCursor, ListOwner, MAX_PAGE_SIZE, Page, SecretQuery};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

use super::{ListFilter, masked_of, parse_category, view};

/// One page of `owner`'s secrets, with each one's masked current value.
pub(crate) async fn list(
    state: &AppState,
    owner: impl Into<ListOwner>,
    filter: ListFilter,
) -> ApiResult<(
    Page<SecretMeta>,
    std::collections::BTreeMap<SecretId, String>,
)> {
    let limit = filter.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_PAGE_SIZE {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {MAX_PAGE_SIZE}"),
        ));
    }
    let after = filter
        .cursor
        .as_deref()
        .map(ListCursor::decode)
        .transpose()?;
    let category = filter.category.as_deref().map(parse_category).transpose()?;
    let page = state
        .store
        .list_secrets(SecretQuery {
            owner: owner.into(),
            name_prefix: filter.name_prefix,
            category,
            expired: filter.expired,
            now: state.clock.now(),
            limit,
            after,
        })
        .await?;
    let ids = page.items.iter().map(|m| m.id.clone()).collect();
    let masked = state.store.current_masked(ids).await?;
    Ok((page, masked))
}

/// A page of full views.
pub(crate) async fn list_views(
    state: &AppState,
    owner: impl Into<ListOwner>,
    filter: ListFilter,
) -> ApiResult<SecretPage> {
    let (page, mut masked) = list(state, owner, filter).await?;
    let now = state.clock.now();
    let data = page
        .items
        .iter()
        .map(|meta| {
            let shown = masked.remove(&meta.id).unwrap_or_else(|| "****".into());
            view(meta, shown, now)
        })
        .collect();
    Ok(SecretPage {
        data,
        next_cursor: page.next.map(|c| c.encode()),
    })
}

pub(crate) async fn get(state: &AppState, meta: &SecretMeta) -> ApiResult<SecretView> {
    let masked = masked_of(state, &meta.id).await?;
    Ok(view(meta, masked, state.clock.now()))
}

pub(crate) async fn versions(state: &AppState, meta: &SecretMeta) -> ApiResult<VersionList> {
    let data = state
        .store
        .secret_versions(meta.id.clone())
        .await?
        .into_iter()
        .map(|v| VersionView {
            version: v.version.get(),
            masked: v.masked,
            current: v.version == meta.version,
            restored_from: v.restored_from.map(Version::get),
            kek_id: v.kek_id,
            created_at: v.created_at,
        })
        .collect();
    Ok(VersionList { data })
}
