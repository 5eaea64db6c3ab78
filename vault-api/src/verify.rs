//! `vault-api audit verify`: recomputes the whole hash chain and names the first
//! record that does not fit.

use vault_core::{ChainBreak, ChainVerifier};
use vault_store::Store;

use crate::error::{ApiError, ApiResult};

const PAGE: u32 = 1_000;

/// The number of records checked, or the first break.
pub async fn verify_chain(store: &Store) -> ApiResult<Result<u64, ChainBreak>> {
    let mut verifier = ChainVerifier::default();
    let mut after = 0;
    loop {
        let page = store
            .audit_since(after, PAGE)
            .await
            .map_err(ApiError::from)?;
        let Some(last) = page.last().map(|r| r.seq) else {
            return Ok(Ok(verifier.checked()));
        };
        for record in &page {
            if let Err(broken) = verifier.check(record) {
                return Ok(Err(broken));
            }
        }
        after = last;
    }
}
