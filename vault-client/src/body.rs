//! How a request body is read: a JSON object of the [`wire`](crate::wire) types, parsed
//! with the path of the first bad field so a refusal can name it. The server reads every
//! body with [`parse_body`]; it lives beside the types it parses so both are one
//! contract (and so it can be fuzzed without the server around it).
//!
//! Syntax errors, trailing bytes, unknown and duplicate fields are [`BodyRefusal::Malformed`]
//! (400); a field missing or of the wrong type or value is [`BodyRefusal::Invalid`] (422).
//! No refusal ever quotes the input: a value typed into the wrong field would
//! otherwise reach a response or a log.

use serde::de::DeserializeOwned;

use crate::ProblemCode;

/// Why a body was refused, and the field it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyRefusal {
    /// Not a well-formed body for this request: the syntax, or a field that is not
    /// the request's (`code` says which).
    Malformed {
        code: ProblemCode,
        detail: String,
        field: Option<String>,
    },
    /// A well-formed body with a field that is missing, or of the wrong type or value.
    Invalid { field: String, detail: String },
}

/// Parses `bytes` as `T`, classifying the failure.
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyRefusal> {
    // Every body is a JSON object. serde would also fill a struct from an array, one
    // element per field in order, so `[null]` would pass as a PATCH that changes
    // nothing: refused here as the wrong type, like any other non-object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(describe_data_error(
            "invalid type: sequence, expected a JSON object",
            None,
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    let value = parsed.map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let field = (path != ".").then_some(path);
        match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                BodyRefusal::Malformed {
                    code: ProblemCode::MalformedJson,
                    detail: format!(
                        "the body is not valid JSON (line {}, column {})",
                        inner.line(),
                        inner.column()
                    ),
                    field: None,
                }
            }
            _ => describe_data_error(&inner.to_string(), field),
        }
    })?;
    deserializer.end().map_err(|_| BodyRefusal::Malformed {
        code: ProblemCode::MalformedJson,
        detail: "the body has trailing characters after the JSON value".into(),
        field: None,
    })?;
    Ok(value)
}

/// serde's messages for data errors quote the offending input only for type mismatches
/// of scalars (`invalid type: string "..."`); those are replaced, so a value typed
/// into the wrong field never reaches a response or a log.
pub fn describe_data_error(message: &str, field: Option<String>) -> BodyRefusal {
    // serde names the key alone; the path it sits at is the field, said once.
    let named = |rest: &str| {
        let name = rest.split('`').next().unwrap_or_default();
        match &field {
            Some(path) if path.ends_with(name) => path.clone(),
            Some(path) => format!("{path}.{name}"),
            None => name.to_owned(),
        }
    };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let field = named(rest);
        return BodyRefusal::Malformed {
            code: ProblemCode::UnknownField,
            detail: format!("unknown field {field}"),
            field: Some(field),
        };
    }
    if let Some(rest) = message.strip_prefix("duplicate field `") {
        let field = named(rest);
        return BodyRefusal::Malformed {
            code: ProblemCode::DuplicateField,
            detail: format!("the field {field} appears more than once; send it once"),
            field: Some(field),
        };
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        let field = match field {
            Some(path) => format!("{path}.{name}"),
            None => name.to_owned(),
        };
        return BodyRefusal::Invalid {
            field,
            detail: "is required".into(),
        };
    }
    let field = field.unwrap_or_else(|| "body".into());
    let detail = if message.starts_with("invalid type") {
        let expected = message
            .split("expected ")
            .nth(1)
            .and_then(|e| e.split(" at line").next())
            .unwrap_or("another type");
        format!("has the wrong type; expected {expected}")
    } else if message.starts_with("unknown variant") {
        let expected = message
            .split("expected ")
            .nth(1)
            .and_then(|e| e.split(" at line").next())
            .unwrap_or("a known value");
        format!("is not a known value; expected {expected}")
    } else {
        "is not acceptable here".into()
    };
    BodyRefusal::Invalid { field, detail }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{CreateSecret, ResolveRequest};

    /// Found by the `request_body` fuzz target: a body whose key is the empty string.
    /// It is an unknown field like any other, named as sent (empty) at the top level,
    /// and by the object that holds it when nested.
    #[test]
    fn an_empty_key_is_an_unknown_field() {
        let named = |refusal: Option<BodyRefusal>| match refusal {
            Some(BodyRefusal::Malformed {
                code: ProblemCode::UnknownField,
                field: Some(field),
                ..
            }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            named(parse_body::<CreateSecret>(br#"{"": null}"#).err()),
            ""
        );
        assert_eq!(
            named(parse_body::<ResolveRequest>(br#"{"context": {"": 1}}"#).err()),
            "context"
        );
    }

    /// What the fuzz target asserts for every body: a value never reaches a refusal.
    #[test]
    fn refusals_never_quote_a_value() {
        for body in [
            r#"{"name": "s3cr3t-marker"}"#,
            r#"{"name": "API_KEY", "value": 7, "scope": "s3cr3t-marker"}"#,
            r#"{"name": ["s3cr3t-marker"]}"#,
        ] {
            let Err(refusal) = parse_body::<CreateSecret>(body.as_bytes()) else {
                panic!("accepted {body}");
            };
            assert!(
                !format!("{refusal:?}").contains("s3cr3t-marker"),
                "{refusal:?}"
            );
        }
    }
}
