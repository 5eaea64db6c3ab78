//! RACI roles of project members, ordered from most to least access.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectRole {
    /// Admin: entries, members, deleting the project.
    Accountable,
    /// Write: create, rotate, roll back and delete entries.
    Responsible,
    /// Read metadata with masked values.
    Consulted,
    /// List names and categories only.
    Informed,
}

const ROLES: &str = "accountable, responsible, consulted or informed";

impl ProjectRole {
    pub const ALL: [ProjectRole; 4] = [
        ProjectRole::Accountable,
        ProjectRole::Responsible,
        ProjectRole::Consulted,
        ProjectRole::Informed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProjectRole::Accountable => "accountable",
            ProjectRole::Responsible => "responsible",
            ProjectRole::Consulted => "consulted",
            ProjectRole::Informed => "informed",
        }
    }
}

impl fmt::Display for ProjectRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProjectRole {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProjectRole::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or(CoreError::UnknownRole { expected: ROLES })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_through_its_name() {
        for role in ProjectRole::ALL {
            assert_eq!(role.as_str().parse::<ProjectRole>(), Ok(role));
        }
    }

    #[test]
    fn unknown_and_differently_cased_roles_are_refused() {
        for input in ["", "owner", "Accountable", " informed"] {
            assert!(input.parse::<ProjectRole>().is_err(), "{input:?}");
        }
    }
}
