//! The JSON body extractor: every request type of the API through the parser the
//! server reads bodies with (`vault_client::body::parse_body`). Properties: no panic;
//! only a JSON object is ever accepted, and nothing after it; a refusal names an empty
//! field only for a body with an empty key; and no refusal quotes a value from the
//! body. For that last one the input is also read as a JSON tree (keys from the
//! request types' field names or free, every string value the same marker) and no
//! refusal of that body may contain the marker.
#![cfg_attr(fuzzing, no_main)]

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use vault_client::body::{BodyRefusal, parse_body};
use vault_client::wire::{
    CompareValue, CreateEntry, CreateKey, CreateMilestone, CreateProject, CreateSecret,
    CreateSession, CreateToken, CreateWebhook, PutMember, ResolveRequest, Rollback, UpdateEntry,
    UpdateSecret, UpdateWebhook,
};

const MARKER: &str = "s3cr3t-fuzz-marker";

/// Field names the request types use, so a generated tree reaches past the first key.
const KEYS: &[&str] = &[
    "name",
    "value",
    "scope",
    "profiles",
    "milestones",
    "category",
    "description",
    "expires_at",
    "masked",
    "version",
    "user_id",
    "profile_id",
    "workspace_id",
    "project_id",
    "milestone_id",
    "context",
    "explain",
    "kind",
    "ttl_seconds",
    "url",
    "events",
    "enabled",
    "role",
    "owner",
    "profile_env",
    "baseline_env",
    "names",
    "expected_version",
    "label",
    "id",
    "target",
    "milestone",
];

fn parse_as<T: DeserializeOwned>(bytes: &[u8]) -> Option<BodyRefusal> {
    match parse_body::<T>(bytes) {
        Ok(_) => {
            let whole: Result<Map<String, Value>, _> = serde_json::from_slice(bytes);
            assert!(whole.is_ok(), "accepted a body that is not one JSON object");
            None
        }
        Err(refusal) => {
            if let BodyRefusal::Malformed {
                field: Some(field), ..
            }
            | BodyRefusal::Invalid { field, .. } = &refusal
            {
                // An empty name is only ever the body's own empty key (`{"": 1}`).
                let has_empty_key = bytes.windows(2).any(|w| w == b"\"\"");
                assert!(
                    !field.is_empty() || has_empty_key,
                    "a refusal named an empty field"
                );
            }
            Some(refusal)
        }
    }
}

fn every_type(bytes: &[u8]) -> Vec<BodyRefusal> {
    [
        parse_as::<CompareValue>(bytes),
        parse_as::<CreateEntry>(bytes),
        parse_as::<CreateKey>(bytes),
        parse_as::<CreateMilestone>(bytes),
        parse_as::<CreateProject>(bytes),
        parse_as::<CreateSecret>(bytes),
        parse_as::<CreateSession>(bytes),
        parse_as::<CreateToken>(bytes),
        parse_as::<CreateWebhook>(bytes),
        parse_as::<PutMember>(bytes),
        parse_as::<ResolveRequest>(bytes),
        parse_as::<Rollback>(bytes),
        parse_as::<UpdateEntry>(bytes),
        parse_as::<UpdateSecret>(bytes),
        parse_as::<UpdateWebhook>(bytes),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// A JSON tree whose every string value is the marker.
fn tree(u: &mut Unstructured<'_>, depth: u8) -> arbitrary::Result<Value> {
    let pick = if depth == 0 {
        u.int_in_range(0..=4)?
    } else {
        u.int_in_range(0..=6)?
    };
    Ok(match pick {
        0 => Value::Null,
        1 => Value::Bool(bool::arbitrary(u)?),
        2 => Value::from(i64::arbitrary(u)?),
        3 => serde_json::Number::from_f64(f64::arbitrary(u)?).map_or(Value::Null, Value::Number),
        4 => Value::String(MARKER.into()),
        5 => {
            let len = u.int_in_range(0..=4)?;
            (0..len)
                .map(|_| tree(u, depth - 1))
                .collect::<arbitrary::Result<_>>()?
        }
        _ => object(u, depth - 1)?,
    })
}

fn object(u: &mut Unstructured<'_>, depth: u8) -> arbitrary::Result<Value> {
    let mut map = Map::new();
    for _ in 0..u.int_in_range(0..=6)? {
        let key = if bool::arbitrary(u)? {
            (*u.choose(KEYS)?).to_owned()
        } else {
            String::arbitrary(u)?
        };
        // A key is the body's structure, and refusals name it; only values are secret.
        if key.contains(MARKER) {
            continue;
        }
        map.insert(key, tree(u, depth)?);
    }
    Ok(Value::Object(map))
}

fn check(data: &[u8]) {
    every_type(data);
    let mut u = Unstructured::new(data);
    if let Ok(body) = object(&mut u, 3) {
        let bytes = body.to_string().into_bytes();
        for refusal in every_type(&bytes) {
            let (detail, field) = match &refusal {
                BodyRefusal::Malformed { detail, field, .. } => (detail, field.as_ref()),
                BodyRefusal::Invalid { detail, field } => (detail, Some(field)),
            };
            assert!(
                !detail.contains(MARKER),
                "a refusal quoted a value: {detail}"
            );
            assert!(
                field.is_none_or(|f| !f.contains(MARKER)),
                "a refusal's field quoted a value"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| check(data));

/// Outside `cargo fuzz` (no `--cfg fuzzing`) this is a plain program with nothing to
/// do; its test replays the committed seeds, findings included, on every `cargo test`.
#[cfg(not(any(fuzzing, test)))]
fn main() {}

#[test]
fn every_seed_holds() {
    vault_fuzz::replay_seeds("request_body", check);
}
