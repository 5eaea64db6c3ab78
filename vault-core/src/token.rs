//! The kinds of bearer token and the prefix each carries. The prefixes are a contract
//! with the world outside the vault: secret scanners (GitHub's, gitleaks rules) match
//! them, and tokens already issued carry them, so they never change.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Operator,
    Orchestrator,
    User,
    Session,
}

impl TokenKind {
    /// Every kind, once: the one list the rest of the vault iterates.
    pub const ALL: [TokenKind; 4] = [
        TokenKind::Operator,
        TokenKind::Orchestrator,
        TokenKind::User,
        TokenKind::Session,
    ];

    /// The name in the API, the database and the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Operator => "operator",
            TokenKind::Orchestrator => "orchestrator",
            TokenKind::User => "user",
            TokenKind::Session => "session",
        }
    }

    /// What every token of this kind starts with.
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::Operator => "vault_op_",
            TokenKind::Orchestrator => "vault_orch_",
            TokenKind::User => "vault_user_",
            TokenKind::Session => "vault_sess_",
        }
    }

    /// The kind whose prefix `token` starts with; says nothing of the rest of it.
    pub fn of_prefixed(token: &str) -> Option<TokenKind> {
        Self::ALL
            .into_iter()
            .find(|kind| token.starts_with(kind.prefix()))
    }

    /// The kind a presented token claims, when it has the exact shape the vault issues:
    /// a known prefix, then [`TOKEN_RANDOM_CHARS`] characters of unpadded URL-safe
    /// base64. Anything else is refused before its hash is ever looked up.
    pub fn claimed_by(token: &str) -> Option<TokenKind> {
        let kind = Self::of_prefixed(token)?;
        let random = token.get(kind.prefix().len()..)?;
        let well_formed = random.len() == TOKEN_RANDOM_CHARS
            && random
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then_some(kind)
    }
}

/// The characters after a token's prefix: 256 random bits in unpadded URL-safe base64.
pub const TOKEN_RANDOM_CHARS: usize = 43;

/// The credential of an `Authorization: Bearer <token>` header value (the scheme in any
/// case, surrounding blanks ignored); `None` for any other scheme or shape.
pub fn bearer_credential(header_value: &str) -> Option<&str> {
    let (scheme, credential) = header_value.split_once(' ')?;
    let credential = credential.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !credential.is_empty()).then_some(credential)
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TokenKind {
    type Err = CoreError;

    fn from_str(text: &str) -> Result<Self, CoreError> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or(CoreError::UnknownTokenKind {
                expected: "operator, orchestrator, user, session",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pinned forever: changing a prefix orphans every issued token and blinds the
    /// secret scanners that look for leaked ones.
    #[test]
    fn every_kind_keeps_its_name_and_prefix() {
        let pinned = [
            (TokenKind::Operator, "operator", "vault_op_"),
            (TokenKind::Orchestrator, "orchestrator", "vault_orch_"),
            (TokenKind::User, "user", "vault_user_"),
            (TokenKind::Session, "session", "vault_sess_"),
        ];
        assert_eq!(TokenKind::ALL.len(), pinned.len());
        for (kind, name, prefix) in pinned {
            assert!(TokenKind::ALL.contains(&kind));
            assert_eq!(kind.as_str(), name);
            assert_eq!(kind.to_string(), name);
            assert_eq!(kind.prefix(), prefix);
            assert_eq!(name.parse::<TokenKind>().ok(), Some(kind));
            assert_eq!(TokenKind::of_prefixed(&format!("{prefix}abc")), Some(kind));
            assert_eq!(
                serde_json::to_string(&kind).ok(),
                Some(format!("\"{name}\""))
            );
        }
    }

    #[test]
    fn unknown_names_and_prefixes_are_refused() {
        assert!("Operator".parse::<TokenKind>().is_err());
        assert!("".parse::<TokenKind>().is_err());
        assert_eq!(TokenKind::of_prefixed("vault_opx"), None);
        assert_eq!(TokenKind::of_prefixed("bearer vault_op_x"), None);
    }

    #[test]
    fn only_the_issued_shape_claims_a_kind() {
        let random = "A".repeat(TOKEN_RANDOM_CHARS - 2) + "-_";
        for kind in TokenKind::ALL {
            let token = format!("{}{random}", kind.prefix());
            assert_eq!(TokenKind::claimed_by(&token), Some(kind), "{token}");
            // One character short, one too many, or one outside the alphabet: no kind.
            assert_eq!(TokenKind::claimed_by(&token[..token.len() - 1]), None);
            assert_eq!(TokenKind::claimed_by(&format!("{token}A")), None);
            for bad in ['=', '+', '/', ' ', '.', '\u{e9}'] {
                let token = format!("{}{bad}{}", kind.prefix(), &random[1..]);
                assert_eq!(TokenKind::claimed_by(&token), None, "{token:?}");
            }
        }
        assert_eq!(TokenKind::claimed_by(&random), None);
        assert_eq!(TokenKind::claimed_by(""), None);
        assert_eq!(TokenKind::claimed_by("vault_op_short"), None);
    }

    #[test]
    fn only_a_bearer_header_yields_a_credential() {
        assert_eq!(bearer_credential("Bearer abc"), Some("abc"));
        assert_eq!(bearer_credential("bEaReR   abc  "), Some("abc"));
        assert_eq!(bearer_credential("Basic abc"), None);
        assert_eq!(bearer_credential("Bearerabc"), None);
        assert_eq!(bearer_credential("Bearer "), None);
        assert_eq!(bearer_credential("Bearer    "), None);
        assert_eq!(bearer_credential(""), None);
        assert_eq!(bearer_credential("abc"), None);
    }

    #[test]
    fn no_prefix_is_a_prefix_of_another() {
        for a in TokenKind::ALL {
            for b in TokenKind::ALL {
                if a != b {
                    assert!(!a.prefix().starts_with(b.prefix()), "{a} vs {b}");
                }
            }
        }
    }
}
