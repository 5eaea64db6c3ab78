//! A secret's metadata: everything but the value, which never travels with it.

use std::fmt;
use std::num::NonZeroU32;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::category::Category;
use crate::error::CoreError;
use crate::ids::SecretId;
use crate::name::SecretName;
use crate::newtype::string_newtype;
use crate::scope::Placement;

/// A version number: 1 for the first value, +1 on every value change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Version(NonZeroU32);

impl Version {
    pub const FIRST: Version = Version(NonZeroU32::MIN);

    pub fn new(number: u32) -> Result<Self, CoreError> {
        NonZeroU32::new(number)
            .map(Version)
            .ok_or(CoreError::VersionZero)
    }

    pub fn get(self) -> u32 {
        self.0.get()
    }

    pub fn next(self) -> Result<Self, CoreError> {
        self.0
            .checked_add(1)
            .map(Version)
            .ok_or(CoreError::VersionOverflow)
    }
}

impl TryFrom<u32> for Version {
    type Error = CoreError;
    fn try_from(number: u32) -> Result<Self, Self::Error> {
        Version::new(number)
    }
}

impl From<Version> for u32 {
    fn from(version: Version) -> u32 {
        version.get()
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

pub const MAX_DESCRIPTION_CHARS: usize = 1024;

/// Free text for people: at most 1,024 characters, no control characters but
/// newline and tab (so it cannot rewrite a terminal when an operator views it).
/// What a description may not hold: every control character (Unicode `Cc`) but tab
/// and line feed, as inclusive ranges. The OpenAPI document's pattern is made from it.
pub const DESCRIPTION_FORBIDDEN_CHARS: &[(char, char)] = &[
    ('\u{0}', '\u{8}'),
    ('\u{B}', '\u{1F}'),
    ('\u{7F}', '\u{9F}'),
];

#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Description(String);

impl Description {
    pub fn parse(input: &str) -> Result<Self, CoreError> {
        let len = input.chars().count();
        if len > MAX_DESCRIPTION_CHARS {
            return Err(CoreError::DescriptionTooLong {
                len,
                max: MAX_DESCRIPTION_CHARS,
            });
        }
        if input.chars().any(|c| {
            DESCRIPTION_FORBIDDEN_CHARS
                .iter()
                .any(|(low, high)| (*low..=*high).contains(&c))
        }) {
            return Err(CoreError::DescriptionControlCharacter);
        }
        Ok(Description(input.to_owned()))
    }
}

string_newtype!(Description);

/// When a secret stops being served. The clock is never read here: every check
/// takes `now` from the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExpiresAt(DateTime<Utc>);

impl ExpiresAt {
    /// For a create or update: a moment that has already come is refused.
    pub fn in_future(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<Self, CoreError> {
        if at <= now {
            return Err(CoreError::ExpiryNotInFuture);
        }
        Ok(ExpiresAt(at))
    }

    /// For a value read back from storage, which may since have passed.
    pub fn stored(at: DateTime<Utc>) -> Self {
        ExpiresAt(at)
    }

    pub fn at(self) -> DateTime<Utc> {
        self.0
    }

    /// Expired from the very instant `expires_at` is reached.
    pub fn is_expired(self, now: DateTime<Utc>) -> bool {
        now >= self.0
    }
}

/// Everything the vault knows about a secret except its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretMeta {
    pub id: SecretId,
    pub name: SecretName,
    pub placement: Placement,
    pub category: Category,
    pub description: Option<Description>,
    pub expires_at: Option<ExpiresAt>,
    pub version: Version,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SecretMeta {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at.is_expired(now))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_version_converts_and_prints_as_its_number() {
        let version = Version::new(7).expect("non-zero");
        assert_eq!(u32::from(version), 7);
        assert_eq!(version.to_string(), "7");
        assert_eq!(Version::FIRST.to_string(), "1");
        assert_eq!(u32::from(Version::FIRST), 1);
        assert!(Version::new(0).is_err());
    }

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0)
            .single()
            .expect("valid timestamp")
    }

    #[test]
    fn expiry_must_be_strictly_in_the_future_on_write() {
        let now = at(1_000);
        assert_eq!(
            ExpiresAt::in_future(at(999), now),
            Err(CoreError::ExpiryNotInFuture)
        );
        assert_eq!(
            ExpiresAt::in_future(now, now),
            Err(CoreError::ExpiryNotInFuture)
        );
        assert!(ExpiresAt::in_future(at(1_001), now).is_ok());
    }

    #[test]
    fn expired_from_the_instant_it_is_reached() {
        let expiry = ExpiresAt::stored(at(1_000));
        assert!(!expiry.is_expired(at(999)));
        assert!(expiry.is_expired(at(1_000)));
        assert!(expiry.is_expired(at(5_000)));
    }

    #[test]
    fn versions_start_at_one_and_never_wrap() {
        assert_eq!(Version::new(0), Err(CoreError::VersionZero));
        assert_eq!(Version::FIRST.get(), 1);
        assert_eq!(Version::FIRST.next().map(Version::get), Ok(2));
        let last = Version::new(u32::MAX).expect("non-zero");
        assert_eq!(last.next(), Err(CoreError::VersionOverflow));
        assert!(serde_json::from_str::<Version>("0").is_err());
        assert_eq!(
            serde_json::from_str::<Version>("7").map(Version::get).ok(),
            Some(7)
        );
    }

    #[test]
    fn descriptions_are_bounded_and_free_of_terminal_controls() {
        assert!(Description::parse("Deploy token for org 2\n\tread-only").is_ok());
        assert!(Description::parse(&"é".repeat(MAX_DESCRIPTION_CHARS)).is_ok());
        assert_eq!(
            Description::parse(&"x".repeat(MAX_DESCRIPTION_CHARS + 1)),
            Err(CoreError::DescriptionTooLong {
                len: MAX_DESCRIPTION_CHARS + 1,
                max: MAX_DESCRIPTION_CHARS
            })
        );
        assert_eq!(
            Description::parse("red \u{1b}[31m alert"),
            Err(CoreError::DescriptionControlCharacter)
        );
    }

    /// The ranges the document's pattern is made from are exactly "every control
    /// character but tab and line feed", over every scalar value.
    #[test]
    fn the_forbidden_ranges_are_the_control_characters_but_tab_and_line_feed() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let refused = c.is_control() && c != '\n' && c != '\t';
            assert_eq!(
                Description::parse(&format!("a{c}b")).is_err(),
                refused,
                "U+{:04X}",
                u32::from(c)
            );
        }
    }
}
