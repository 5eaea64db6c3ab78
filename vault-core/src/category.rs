//! What kind of credential a secret holds; informational, shown to people and tools.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    ApiKey,
    AccessToken,
    Secret,
    Certificate,
    Password,
    WebhookSecret,
    /// The default for user secrets and workspace keys, which carry no category of their own.
    #[default]
    Other,
}

const EXPECTED: &str =
    "api_key, access_token, secret, certificate, password, webhook_secret, other";

impl Category {
    pub const ALL: [Category; 7] = [
        Category::ApiKey,
        Category::AccessToken,
        Category::Secret,
        Category::Certificate,
        Category::Password,
        Category::WebhookSecret,
        Category::Other,
    ];

    /// The wire and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::ApiKey => "api_key",
            Category::AccessToken => "access_token",
            Category::Secret => "secret",
            Category::Certificate => "certificate",
            Category::Password => "password",
            Category::WebhookSecret => "webhook_secret",
            Category::Other => "other",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or(CoreError::UnknownCategory { expected: EXPECTED })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_round_trips_through_its_wire_spelling() {
        for category in Category::ALL {
            assert_eq!(category.as_str().parse::<Category>(), Ok(category));
            // Messages and the audit trail print the wire spelling too.
            assert_eq!(category.to_string(), category.as_str());
            let json = serde_json::to_string(&category).expect("serializes");
            assert_eq!(json, format!("\"{}\"", category.as_str()));
            let back: Category = serde_json::from_str(&json).expect("deserializes");
            assert_eq!(back, category);
        }
    }

    #[test]
    fn unknown_categories_are_rejected_listing_the_choices() {
        let err = "ApiKey"
            .parse::<Category>()
            .expect_err("wire spelling is snake_case");
        assert!(err.to_string().contains("api_key, access_token"));
        assert!(serde_json::from_str::<Category>("\"token\"").is_err());
    }
}
