//! `JsonBody<T>`: the only way handlers read a request body. Enforces the content type (415),
//! the size limit (413), JSON syntax (400 `invalid_json`) and the shape of `T`
//! (400 `validation_failed` naming the field), all in the error envelope.

use axum::extract::{FromRequest, Request};
use axum::http::header;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::error::ApiError;

/// Largest request body accepted: 1 MiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

fn is_json(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The raw request body, up to [`MAX_BODY_BYTES`] (413 beyond), whatever its content type: for
/// webhooks, whose signature covers the exact bytes.
#[derive(Debug, Clone)]
pub struct RawBody(pub axum::body::Bytes);

/// Whether the request announces a body over the limit (refused before reading a byte).
fn declared_too_large(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
}

async fn read_limited(req: Request) -> Result<axum::body::Bytes, ApiError> {
    if declared_too_large(&req) {
        return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
    }
    Ok(Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<LengthLimitError>().is_some() {
                ApiError::payload_too_large(MAX_BODY_BYTES)
            } else {
                ApiError::invalid_json("the request body could not be read")
            }
        })?
        .to_bytes())
}

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        read_limited(req).await.map(RawBody)
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        // Too large is reported before the wrong type: both are about the body as sent.
        if declared_too_large(&req) {
            return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
        }
        if !is_json(
            req.headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
        ) {
            return Err(ApiError::unsupported_media_type());
        }
        let bytes = read_limited(req).await?;
        parse(&bytes).map(JsonBody)
    }
}

/// Decodes `T` from JSON bytes with the error mapping described on [`JsonBody`].
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // serde stops at the first type mismatch, which may come before a syntax error
        // later in the body: broken JSON is reported as such, whatever else is wrong.
        let well_formed = serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok();
        match inner.classify() {
            Category::Data if well_formed => data_error(&path, &inner),
            Category::Data => ApiError::invalid_json("the request body is not valid JSON"),
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::invalid_json(format!("the request body is not valid JSON: {inner}"))
            }
        }
    })?;
    de.end().map_err(|e| {
        ApiError::invalid_json(format!("unexpected data after the JSON value: {e}"))
    })?;
    Ok(value)
}

/// Names the field at fault. serde reports a missing field at its parent's path, so its name
/// is appended; an unknown field's path already ends with it.
fn data_error(path: &str, inner: &serde_json::Error) -> ApiError {
    let msg = inner.to_string();
    let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
    let field = if path == "." { "body" } else { path };
    if let Some(name) = msg
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        let full = if path == "." {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        };
        return ApiError::field(&full, "is required");
    }
    if msg.starts_with("unknown field `") {
        return ApiError::field(field, "is not a known field");
    }
    ApiError::field(field, &msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        sku: String,
        quantity: u32,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        items: Vec<Item>,
    }

    fn field_of(e: &ApiError) -> String {
        e.details.as_ref().unwrap()["fields"][0]["field"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn json_content_types_are_recognised_with_parameters_and_suffixes() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("application/json; charset=utf-8")));
        assert!(is_json(Some("Application/JSON")));
        assert!(is_json(Some("application/merge-patch+json")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(Some("application/x-www-form-urlencoded")));
        assert!(!is_json(None));
    }

    #[test]
    fn broken_syntax_is_invalid_json() {
        for body in [
            &b"{"[..],
            b"",
            b"{\"items\": [}",
            b"{} {}",
            b"\xff",
            b"[1,2",
            b"{\"items\":1,",
        ] {
            let e = parse::<Body>(body).unwrap_err();
            assert_eq!(
                e.code,
                "invalid_json",
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn wrong_types_name_the_field_by_its_path() {
        let e = parse::<Body>(br#"{"items":[{"sku":"A","quantity":-1}]}"#).unwrap_err();
        assert_eq!(e.code, "validation_failed");
        assert_eq!(field_of(&e), "items[0].quantity");
        assert!(!e.message.contains("line"), "{}", e.message);
    }

    #[test]
    fn missing_and_unknown_fields_are_named() {
        let e = parse::<Body>(br#"{"items":[{"sku":"A"}]}"#).unwrap_err();
        assert_eq!(field_of(&e), "items[0].quantity");
        let e = parse::<Body>(br#"{"items":[],"coupon":"FREE"}"#).unwrap_err();
        assert_eq!(field_of(&e), "coupon");
        let e = parse::<Body>(br#"[]"#).unwrap_err();
        assert_eq!(field_of(&e), "body");
    }
}
