//! Request bodies: JSON only, at most `MAX_BODY_BYTES`, parsed with the path of the
//! first bad field so a refusal can name it. Syntax errors and unknown fields are 400;
//! a field of the wrong type or a missing one is 422 naming the field. The raw body
//! (which may hold a plaintext value) is zeroized once parsed.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;
use zeroize::Zeroize;

use crate::error::ApiError;
use vault_client::ProblemCode;
use vault_client::body::BodyRefusal;

/// 128 KiB: room for the largest value (64 KiB) with JSON escaping.
pub const MAX_BODY_BYTES: usize = 128 * 1024;

pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json")
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge {
                        limit: MAX_BODY_BYTES,
                    }
                } else {
                    ApiError::Malformed {
                        code: ProblemCode::MalformedBody,
                        detail: "the request body could not be read".into(),
                        field: None,
                    }
                }
            })?;
        let parsed = parse(&bytes);
        // The only other reference is the one hyper handed us, already consumed.
        if let Ok(mut owned) = bytes.try_into_mut() {
            owned.zeroize();
        }
        parsed.map(JsonBody)
    }
}

/// Query parameters, refused as problem+json naming the parameter.
pub struct QueryParams<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for QueryParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        let parsed: Result<T, _> = serde_path_to_error::deserialize(deserializer);
        parsed.map(QueryParams).map_err(|error| {
            let path = error.path().to_string();
            let field = (path != ".").then_some(path);
            describe_data_error(&error.into_inner().to_string(), field)
        })
    }
}

/// Parses `bytes` as `T`, classifying the failure (vault-client's reading of the wire).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    vault_client::body::parse_body(bytes).map_err(refused)
}

fn refused(refusal: BodyRefusal) -> ApiError {
    match refusal {
        BodyRefusal::Malformed {
            code,
            detail,
            field,
        } => ApiError::Malformed {
            code,
            detail,
            field,
        },
        BodyRefusal::Invalid { field, detail } => ApiError::invalid(field, detail),
    }
}

fn describe_data_error(message: &str, field: Option<String>) -> ApiError {
    refused(vault_client::body::describe_data_error(message, field))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        count: Option<u32>,
    }

    fn refusal(body: &str) -> (u16, &'static str, Option<String>, String) {
        let Err(error) = parse::<Sample>(body.as_bytes()) else {
            panic!("accepted {body}");
        };
        let detail = error.to_string();
        let field = match &error {
            ApiError::Malformed { field, .. } => field.clone(),
            ApiError::Invalid { field, .. } => Some(field.clone()),
            _ => None,
        };
        (
            error.status().as_u16(),
            error.code().as_str(),
            field,
            detail,
        )
    }

    #[test]
    fn each_kind_of_bad_body_gets_its_status_and_field() {
        assert_eq!(refusal("{").1, "malformed_json");
        assert_eq!(refusal(r#"{"name":"A"} x"#).0, 400);
        let unknown = refusal(r#"{"name":"A","extra":1}"#);
        assert_eq!((unknown.0, unknown.1), (400, "unknown_field"));
        assert_eq!(unknown.2.as_deref(), Some("extra"));
        let missing = refusal("{}");
        assert_eq!((missing.0, missing.2.as_deref()), (422, Some("name")));
        let twice = refusal(r#"{"name":"A","name":"B"}"#);
        assert_eq!((twice.0, twice.1), (400, "duplicate_field"));
        assert_eq!(twice.2.as_deref(), Some("name"));
        assert!(twice.3.contains("more than once"), "{}", twice.3);
        let float = refusal(r#"{"name":"A","count":2.0}"#);
        assert_eq!(float.0, 422, "count is a plain u32 here: {}", float.3);
        let wrong = refusal(r#"{"name":"A","count":"s3cr3t-marker"}"#);
        assert_eq!((wrong.0, wrong.2.as_deref()), (422, Some("count")));
        assert!(!wrong.3.contains("s3cr3t-marker"), "{}", wrong.3);
    }
}
