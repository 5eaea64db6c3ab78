//! Identifiers: the vault's own `sec_…` secret ids and the opaque ids other systems
//! hand us (users, profiles, workspaces, projects, milestones).

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, IdKind};
use crate::newtype::string_newtype;

const SECRET_ID_PREFIX: &str = "sec_";
const NANOID_LEN: usize = 21;

/// The alphabet `nanoid` draws from: URL-safe, 64 symbols.
fn is_nanoid_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// `sec_` followed by a 21-character nanoid (126 random bits).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecretId(String);

impl SecretId {
    /// A fresh random id.
    pub fn generate() -> Self {
        SecretId(format!("{SECRET_ID_PREFIX}{}", random_suffix()))
    }

    pub fn parse(input: &str) -> Result<Self, CoreError> {
        let invalid = |rule| CoreError::InvalidId {
            kind: IdKind::Secret,
            rule,
        };
        let rest = input
            .strip_prefix(SECRET_ID_PREFIX)
            .ok_or(invalid("must start with sec_"))?;
        if rest.chars().count() != NANOID_LEN || !rest.chars().all(is_nanoid_char) {
            return Err(invalid(
                "must be sec_ followed by 21 characters of A-Z, a-z, 0-9, _ or -",
            ));
        }
        Ok(SecretId(input.to_owned()))
    }
}

string_newtype!(SecretId);

/// Longest opaque id we accept; long enough for UUIDs, ARNs' resource parts and slugs.
pub const MAX_OPAQUE_ID_LEN: usize = 128;

fn parse_opaque(input: &str, kind: IdKind) -> Result<(), CoreError> {
    let rule = "must be 1-128 characters of A-Z, a-z, 0-9, _, . or -";
    let valid = !input.is_empty()
        && input.len() <= MAX_OPAQUE_ID_LEN
        && input
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(CoreError::InvalidId { kind, rule })
    }
}

/// Declares a newtype over `String` that only holds a valid opaque id of one kind.
macro_rules! opaque_id {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(input: &str) -> Result<Self, CoreError> {
                parse_opaque(input, $kind)?;
                Ok($name(input.to_owned()))
            }
        }

        string_newtype!($name);
    };
}

opaque_id!(
    /// The user a personal secret belongs to; issued by the platform's identity system.
    UserId,
    IdKind::User
);
opaque_id!(
    /// An agent profile of a user; `agents` scopes list these.
    ProfileId,
    IdKind::Profile
);
opaque_id!(
    /// A workspace, owner of BYOK keys.
    WorkspaceId,
    IdKind::Workspace
);
opaque_id!(
    /// A project, owner of project vault entries.
    ProjectId,
    IdKind::Project
);
opaque_id!(
    /// A milestone of a project; `milestone` scopes list these.
    MilestoneId,
    IdKind::Milestone
);

impl ProjectId {
    /// A fresh random id, for projects created without one.
    pub fn generate() -> Self {
        ProjectId(format!("prj_{}", random_suffix()))
    }
}

impl MilestoneId {
    /// A fresh random id, for milestones created without one.
    pub fn generate() -> Self {
        MilestoneId(format!("ms_{}", random_suffix()))
    }
}

/// `prefix` and a fresh 21-character nanoid: the ids the vault makes up.
pub fn random_id(prefix: &str) -> String {
    format!("{prefix}{}", random_suffix())
}

pub(crate) fn random_suffix() -> String {
    nanoid::format(nanoid::rngs::default, &nanoid::alphabet::SAFE, NANOID_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refusal says which kind of id it refused: a request carries five of them.
    #[test]
    fn each_refusal_names_its_kind_of_id() {
        let rule = "must be 1-128 characters of A-Z, a-z, 0-9, _, . or -";
        let refusals = [
            (
                SecretId::parse("x").map(|_| ()),
                "invalid secret id: must start with sec_",
            ),
            (UserId::parse("").map(|_| ()), "invalid user id: "),
            (ProfileId::parse("a b").map(|_| ()), "invalid profile id: "),
            (WorkspaceId::parse("").map(|_| ()), "invalid workspace id: "),
            (ProjectId::parse("").map(|_| ()), "invalid project id: "),
            (MilestoneId::parse("").map(|_| ()), "invalid milestone id: "),
        ];
        for (refused, start) in refusals {
            let message = refused.expect_err("invalid").to_string();
            assert!(message.starts_with(start), "{message}");
            assert!(
                start.contains("sec_") || message.ends_with(rule),
                "{message}"
            );
        }
    }

    #[test]
    fn generated_project_and_milestone_ids_parse_and_differ() {
        let project = ProjectId::generate();
        assert_eq!(ProjectId::parse(project.as_str()), Ok(project.clone()));
        assert_ne!(project, ProjectId::generate());
        let milestone = MilestoneId::generate();
        assert_eq!(
            MilestoneId::parse(milestone.as_str()),
            Ok(milestone.clone())
        );
        assert_ne!(milestone, MilestoneId::generate());
    }

    #[test]
    fn generated_secret_ids_parse_and_differ() {
        let a = SecretId::generate();
        let b = SecretId::generate();
        assert_ne!(a, b);
        assert_eq!(SecretId::parse(a.as_str()), Ok(a.clone()));
        assert_eq!(a.as_str().len(), 25);
        assert!(a.as_str().starts_with("sec_"));
    }

    #[test]
    fn secret_id_rejects_wrong_shapes() {
        for bad in [
            "",
            "sec_",
            "sec_abc",
            "sec_AAAAAAAAAAAAAAAAAAAAAA",
            "sec_AAAAAAAAAAAAAAAAAAAA",
            "key_AAAAAAAAAAAAAAAAAAAAA",
            "SEC_AAAAAAAAAAAAAAAAAAAAA",
            "sec_AAAAAAAAAAAAAAAAAAAA!",
            "sec_AAAAAAAAAAAAAAAAAAAAé",
            " sec_AAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(
                matches!(
                    SecretId::parse(bad),
                    Err(CoreError::InvalidId {
                        kind: IdKind::Secret,
                        ..
                    })
                ),
                "{bad:?} should be rejected"
            );
        }
        assert!(SecretId::parse("sec_V1StGXR8_Z5jdHi6B-myT").is_ok());
    }

    #[test]
    fn opaque_ids_accept_exactly_the_documented_alphabet_and_lengths() {
        let max = "a".repeat(MAX_OPAQUE_ID_LEN);
        for good in [
            "u",
            "user-42",
            "prof_billing",
            "ws.eu-1",
            "A9",
            max.as_str(),
        ] {
            assert!(UserId::parse(good).is_ok(), "{good:?} should be accepted");
        }
        let too_long = "a".repeat(MAX_OPAQUE_ID_LEN + 1);
        for bad in ["", "a b", "a/b", "é", "a\n", "a:b", too_long.as_str()] {
            assert_eq!(
                ProfileId::parse(bad),
                Err(CoreError::InvalidId {
                    kind: IdKind::Profile,
                    rule: "must be 1-128 characters of A-Z, a-z, 0-9, _, . or -"
                }),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn ids_deserialize_only_when_valid() {
        let ok: MilestoneId = serde_json::from_str("\"m-1\"").expect("valid id");
        assert_eq!(ok.as_str(), "m-1");
        assert!(serde_json::from_str::<MilestoneId>("\"m 1\"").is_err());
        assert!(serde_json::from_str::<SecretId>("\"sec_short\"").is_err());
        assert_eq!(
            serde_json::to_string(&ok).expect("serializes"),
            "\"m-1\"".to_owned()
        );
    }

    #[test]
    fn error_messages_do_not_echo_the_input() {
        let marker = "leaked-MARKER-xyz!";
        let err = WorkspaceId::parse(marker).expect_err("invalid");
        assert!(!err.to_string().contains("MARKER"));
        assert!(!format!("{err:?}").contains("MARKER"));
    }
}
