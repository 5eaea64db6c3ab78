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
