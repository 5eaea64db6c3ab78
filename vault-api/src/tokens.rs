//! Bearer tokens: 256 random bits behind a per-kind prefix that secret scanners can
//! match (`vault_op_`, `vault_orch_`, `vault_user_`, `vault_sess_`). Only the SHA-256
//! of a token is stored, and tokens are found by that hash: the database compares
//! digests of the presented token, so timing reveals nothing about a stored token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use vault_store::{TOKEN_HASH_BYTES, TokenKind};
use zeroize::Zeroizing;

use crate::error::ApiError;

const TOKEN_RANDOM_BYTES: usize = 32;

/// A new token's plaintext (shown once) and what is stored of it.
pub struct IssuedToken {
    pub id: String,
    pub secret: Zeroizing<String>,
    pub hash: [u8; TOKEN_HASH_BYTES],
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

pub fn random_bytes<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| ApiError::Internal {
        detail: "the operating system's random number generator failed".into(),
    })?;
    Ok(bytes)
}

/// A fresh id with a readable prefix and 120 random bits.
pub fn random_id(prefix: &str) -> Result<String, ApiError> {
    Ok(format!(
        "{prefix}{}",
        URL_SAFE_NO_PAD.encode(random_bytes::<15>()?)
    ))
}

pub fn issue(kind: TokenKind) -> Result<IssuedToken, ApiError> {
    let random = Zeroizing::new(random_bytes::<TOKEN_RANDOM_BYTES>()?);
    let secret = Zeroizing::new(format!(
        "{}{}",
        kind.prefix(),
        URL_SAFE_NO_PAD.encode(random.as_slice())
    ));
    Ok(IssuedToken {
        id: random_id(if kind == TokenKind::Session {
            "ses_"
        } else {
            "tok_"
        })?,
        hash: hash(&secret),
        secret,
    })
}

pub fn hash(token: &str) -> [u8; TOKEN_HASH_BYTES] {
    Sha256::digest(token.as_bytes()).into()
}

/// The kind a presented token claims by its prefix, when it has the shape of one.
pub fn claimed_kind(token: &str) -> Option<TokenKind> {
    TokenKind::claimed_by(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_carry_their_kind_and_256_random_bits() {
        for kind in TokenKind::ALL {
            let token = issue(kind).expect("random");
            assert!(token.secret.starts_with(kind.prefix()));
            assert_eq!(claimed_kind(&token.secret), Some(kind));
            assert_eq!(
                token.secret.len(),
                kind.prefix().len() + vault_core::TOKEN_RANDOM_CHARS
            );
            assert_eq!(hash(&token.secret), token.hash);
            assert!(!format!("{token:?}").contains(token.secret.as_str()));
        }
        let a = issue(TokenKind::User).expect("random");
        let b = issue(TokenKind::User).expect("random");
        assert_ne!(a.secret, b.secret);
        assert_ne!(a.id, b.id);
        assert_eq!(claimed_kind("vault_op_short"), None);
        assert_eq!(claimed_kind("bearer"), None);
    }
}
