//! Who is calling. In AWS, on the routes that need a user, the HTTP API's JWT authorizer has
//! already verified the token and put its claims in the request context; on the routes guests
//! share, the function verifies a Cognito bearer token itself ([`crate::cognito`]). The dev
//! server verifies HS256 bearer tokens signed with `DEV_JWT_SECRET`. All yield the same
//! [`Claims`]. No credentials means a guest; credentials that do not verify are `401`, never a
//! guest.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use oms_core::app::create_order::Buyer;
use oms_core::order::Viewer;
use oms_core::{Email, UserId};
use serde::Deserialize;

use crate::cognito::{CognitoVerifier, TokenError};
use crate::error::ApiError;

/// The group whose members may read any order, clear reviews and manage the catalog and stock.
pub const ADMIN_GROUP: &str = "admin";

/// Where verified identity comes from.
#[derive(Clone)]
pub enum IdentitySource {
    /// Claims put in the Lambda request context by the API Gateway JWT authorizer; on routes
    /// without the authorizer, a bearer token verified against the Cognito user pool (when one
    /// is configured; without one a bearer token there is refused).
    ApiGateway(Option<Arc<CognitoVerifier>>),
    /// HS256 bearer tokens verified here (dev server and tests).
    DevJwt(Arc<DevJwtKey>),
}

pub struct DevJwtKey(DecodingKey);

impl DevJwtKey {
    pub fn new(secret: &[u8]) -> Self {
        Self(DecodingKey::from_secret(secret))
    }
}

/// A verified, signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub sub: UserId,
    pub email: Option<Email>,
    pub groups: Vec<String>,
}

impl Claims {
    pub fn is_admin(&self) -> bool {
        self.groups.iter().any(|g| g == ADMIN_GROUP)
    }
}

/// The caller of this request.
#[derive(Debug, Clone)]
pub enum Caller {
    Guest,
    User(Claims),
}

impl Caller {
    pub fn claims(&self) -> Option<&Claims> {
        match self {
            Caller::User(c) => Some(c),
            Caller::Guest => None,
        }
    }

    pub fn buyer(&self) -> Buyer {
        match self {
            Caller::Guest => Buyer::Guest,
            Caller::User(c) => Buyer::User {
                id: c.sub.clone(),
                email: c.email.clone(),
            },
        }
    }

    /// The signed-in admin, or `403 forbidden` for another user and `401` for a guest.
    pub fn require_admin(&self) -> Result<&Claims, crate::error::ApiError> {
        match self {
            Caller::User(c) if c.is_admin() => Ok(c),
            Caller::User(_) => Err(crate::error::ApiError::forbidden()),
            Caller::Guest => Err(crate::error::ApiError::unauthorized("sign in as an admin")),
        }
    }

    /// The reader of an order, with the guest token the request presented (`X-Order-Token`).
    pub fn viewer(&self, order_token: Option<String>) -> Viewer {
        Viewer {
            user: self.claims().map(|c| c.sub.clone()),
            admin: self.claims().is_some_and(Claims::is_admin),
            order_token,
        }
    }
}

/// A signed-in admin, as a handler argument: the request is refused (`401` for a guest, `403`
/// for another user, as [`Caller::require_admin`]) before its body is read, so a caller who
/// may not use a route learns nothing from how it checks its input.
#[derive(Debug, Clone)]
pub struct Admin(pub Claims);

impl<S> FromRequestParts<S> for Admin
where
    IdentitySource: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require_admin().cloned().map(Admin)
    }
}

#[derive(Deserialize)]
struct JwtClaims {
    sub: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default, rename = "cognito:groups")]
    groups: Vec<String>,
}

fn claims_from(sub: &str, email: Option<&str>, groups: Vec<String>) -> Result<Claims, ApiError> {
    let sub = UserId::parse(sub)
        .map_err(|_| ApiError::unauthorized("the token's subject is not usable"))?;
    Ok(Claims {
        sub,
        // An unusable email claim is dropped, not fatal: the order body can supply one.
        email: email.and_then(|e| Email::parse(e).ok()),
        groups,
    })
}

/// `cognito:groups` as the HTTP API renders it in the context: `[admin ops]`, a JSON array, or
/// a single name.
fn parse_groups(raw: &str) -> Vec<String> {
    let raw = raw.trim();
    if let Ok(list) = serde_json::from_str::<Vec<String>>(raw) {
        return list;
    }
    raw.trim_start_matches('[')
        .trim_end_matches(']')
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn authorizer_claims(parts: &Parts) -> Option<&HashMap<String, String>> {
    #[allow(irrefutable_let_patterns)]
    let Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) =
        parts
            .extensions
            .get::<lambda_http::request::RequestContext>()
    else {
        return None;
    };
    ctx.authorizer
        .as_ref()
        .and_then(|a| a.jwt.as_ref())
        .map(|j| &j.claims)
        .filter(|c| c.contains_key("sub"))
}

/// The bearer token of the request, `None` without an `Authorization` header.
fn bearer(parts: &Parts) -> Result<Option<&str>, ApiError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| Some(t.trim()))
        .ok_or_else(|| ApiError::unauthorized("Authorization must be 'Bearer <token>'"))
}

fn invalid_token() -> ApiError {
    ApiError::unauthorized("the bearer token is invalid or expired")
}

async fn from_api_gateway(
    parts: &Parts,
    cognito: Option<&CognitoVerifier>,
) -> Result<Caller, ApiError> {
    if let Some(c) = authorizer_claims(parts) {
        let groups = c
            .get("cognito:groups")
            .map(|g| parse_groups(g))
            .unwrap_or_default();
        let sub = c.get("sub").map(String::as_str).unwrap_or_default();
        return claims_from(sub, c.get("email").map(String::as_str), groups).map(Caller::User);
    }
    let Some(token) = bearer(parts)? else {
        return Ok(Caller::Guest);
    };
    let Some(cognito) = cognito else {
        return Err(ApiError::unauthorized(
            "bearer tokens are not accepted: no user pool is configured",
        ));
    };
    match cognito.verify(token).await {
        Ok(c) => claims_from(&c.sub, c.email.as_deref(), c.groups).map(Caller::User),
        Err(TokenError::Rejected(why)) => {
            tracing::info!(reason = why, "bearer token rejected");
            Err(invalid_token())
        }
        Err(e @ TokenError::KeysUnavailable(_)) => {
            Err(ApiError::unavailable("service_unavailable", &e))
        }
    }
}

fn from_dev_jwt(parts: &Parts, key: &DevJwtKey) -> Result<Caller, ApiError> {
    let Some(token) = bearer(parts)? else {
        return Ok(Caller::Guest);
    };
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "sub"]);
    // jsonwebtoken ignores `nbf` unless asked: a token that is not valid yet is refused.
    validation.validate_nbf = true;
    // Tokens are minted and checked on the same machine: no clock skew to allow for.
    validation.leeway = 0;
    let data = jsonwebtoken::decode::<JwtClaims>(token, &key.0, &validation)
        .map_err(|_| invalid_token())?;
    let c = data.claims;
    claims_from(&c.sub, c.email.as_deref(), c.groups).map(Caller::User)
}

impl<S> FromRequestParts<S> for Caller
where
    IdentitySource: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match &IdentitySource::from_ref(state) {
            IdentitySource::ApiGateway(cognito) => {
                from_api_gateway(parts, cognito.as_deref()).await
            }
            IdentitySource::DevJwt(key) => from_dev_jwt(parts, key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    const SECRET: &[u8] = b"identity-test-secret";

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    /// The dev-JWT caller of a request bearing an HS256 token with `claims`.
    fn dev_caller(claims: serde_json::Value) -> Result<Caller, ApiError> {
        let token = jsonwebtoken::encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        let (parts, ()) = axum::http::Request::get("/")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(())
            .unwrap()
            .into_parts();
        from_dev_jwt(&parts, &DevJwtKey::new(SECRET))
    }

    #[test]
    fn a_dev_token_whose_nbf_is_an_hour_ahead_is_unauthorized() {
        let early = dev_caller(json!({"sub": "alice", "exp": now() + 7200, "nbf": now() + 3600}));
        assert_eq!(
            early.unwrap_err().status,
            axum::http::StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn a_dev_token_already_valid_or_without_nbf_is_the_user() {
        for claims in [
            json!({"sub": "alice", "exp": now() + 3600, "nbf": now() - 10}),
            json!({"sub": "alice", "exp": now() + 3600}),
        ] {
            let caller = dev_caller(claims.clone()).unwrap();
            assert_eq!(caller.claims().unwrap().sub.as_str(), "alice", "{claims}");
        }
    }

    #[test]
    fn group_claims_are_read_in_every_shape_the_gateway_uses() {
        assert_eq!(parse_groups("[admin ops]"), vec!["admin", "ops"]);
        assert_eq!(parse_groups(r#"["admin","ops"]"#), vec!["admin", "ops"]);
        assert_eq!(parse_groups("admin"), vec!["admin"]);
        assert!(parse_groups("[]").is_empty());
    }
}
