//! Cognito tokens verified inside the function, for the routes that guests share with signed-in
//! users (`POST /orders`, `GET /orders/{orderId}`, the Razorpay verify route). API Gateway's JWT
//! authorizer answers 401 to any request without a token, so those routes carry none, and the
//! function checks a bearer token itself with the authorizer's rules: RS256 with a key from the
//! user pool's JWKS, `iss` equal to the pool's issuer, `aud` (ID tokens) or `client_id` (access
//! tokens) among the configured app clients, not expired, and not used before its `nbf`.
//!
//! The key set is fetched on the first token a sandbox sees (guests and webhooks never pay for
//! it), kept for a day, and fetched again for a key id it does not know — at most once per
//! `min_refresh`, so a stream of forged key ids cannot make each request call Cognito.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::Mutex;

/// `COGNITO_ISSUER` and `COGNITO_AUDIENCE`: the user pool and the app clients whose tokens the
/// functions accept (the same values the HTTP API's authorizer is given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoConfig {
    /// `https://cognito-idp.<region>.amazonaws.com/<poolId>`, no trailing slash.
    pub issuer: String,
    pub audiences: Vec<String>,
}

impl CognitoConfig {
    /// Where the pool publishes its signing keys.
    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.issuer)
    }
}

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token is not one of ours, or no longer valid: `401`.
    #[error("token rejected: {0}")]
    Rejected(&'static str),
    /// The pool's keys could not be fetched: `503`, the caller retries.
    #[error("the user pool's signing keys are unavailable: {0}")]
    KeysUnavailable(String),
}

/// A key set is trusted for this long before it is fetched again.
const KEYS_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// Accepted clock difference for `exp` and `nbf`, as between Cognito and this sandbox.
const LEEWAY_SECONDS: u64 = 60;
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, Arc<DecodingKey>>,
    /// When the current set was fetched; `None` until a fetch has succeeded.
    fetched: Option<Instant>,
    /// The last fetch, successful or not.
    attempted: Option<Instant>,
}

/// The claims read from a verified Cognito token.
#[derive(Debug, Deserialize)]
pub struct CognitoClaims {
    pub sub: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, rename = "cognito:groups")]
    pub groups: Vec<String>,
    #[serde(default)]
    token_use: Option<String>,
    #[serde(default)]
    aud: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
}

pub struct CognitoVerifier {
    config: CognitoConfig,
    jwks_url: String,
    http: reqwest::Client,
    min_refresh: Duration,
    cache: Mutex<KeyCache>,
}

impl CognitoVerifier {
    /// A verifier that fetches the pool's keys with `http`, at most once a minute for unknown
    /// key ids.
    pub fn new(config: CognitoConfig, http: reqwest::Client) -> Self {
        Self::with_min_refresh(config, http, Duration::from_secs(60))
    }

    pub fn with_min_refresh(
        config: CognitoConfig,
        http: reqwest::Client,
        min_refresh: Duration,
    ) -> Self {
        Self {
            jwks_url: config.jwks_url(),
            config,
            http,
            min_refresh,
            cache: Mutex::new(KeyCache::default()),
        }
    }

    /// The claims of `token` if it is a valid token of the configured pool and app clients.
    pub async fn verify(&self, token: &str) -> Result<CognitoClaims, TokenError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| TokenError::Rejected("not a JWT"))?;
        // Only the algorithm Cognito signs with: never `none`, never an HMAC keyed by a public key.
        if header.alg != Algorithm::RS256 {
            return Err(TokenError::Rejected("not signed with RS256"));
        }
        let kid = header
            .kid
            .ok_or(TokenError::Rejected("the token names no key"))?;
        let key = self.key(&kid).await?;

        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        // Checked below: ID tokens carry `aud`, access tokens `client_id`.
        validation.validate_aud = false;
        // As the authorizer does: a token carrying `nbf` is refused before that time (within
        // the same leeway as `exp`); jsonwebtoken ignores `nbf` unless asked.
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        let claims = jsonwebtoken::decode::<CognitoClaims>(token, &key, &validation)
            .map_err(|_| TokenError::Rejected("bad signature, issuer, expiry or not-before"))?
            .claims;
        let client = match claims.token_use.as_deref() {
            Some("id") => claims.aud.as_deref(),
            Some("access") => claims.client_id.as_deref(),
            _ => return Err(TokenError::Rejected("not an ID or access token")),
        };
        if !client.is_some_and(|c| self.config.audiences.iter().any(|a| a == c)) {
            return Err(TokenError::Rejected("issued to another app client"));
        }
        Ok(claims)
    }

    async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, TokenError> {
        // One fetch at a time per sandbox: concurrent first requests wait for it.
        let mut cache = self.cache.lock().await;
        let known = cache.keys.get(kid).cloned();
        let fresh = cache.fetched.is_some_and(|t| t.elapsed() < KEYS_MAX_AGE);
        if let (Some(key), true) = (&known, fresh) {
            return Ok(key.clone());
        }
        let throttled = cache.fetched.is_some()
            && cache
                .attempted
                .is_some_and(|t| t.elapsed() < self.min_refresh);
        if throttled {
            return known.ok_or(TokenError::Rejected("unknown signing key"));
        }
        cache.attempted = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                cache.keys = keys;
                cache.fetched = cache.attempted;
                cache
                    .keys
                    .get(kid)
                    .cloned()
                    .ok_or(TokenError::Rejected("unknown signing key"))
            }
            Err(e) => match known {
                Some(stale) => {
                    tracing::warn!(error = %e, "JWKS refresh failed; keeping the cached keys");
                    Ok(stale)
                }
                None => Err(e),
            },
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<DecodingKey>>, TokenError> {
        let unavailable = |e: &dyn std::fmt::Display| TokenError::KeysUnavailable(e.to_string());
        let res = self
            .http
            .get(&self.jwks_url)
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        if !res.status().is_success() {
            return Err(unavailable(&format!("HTTP {}", res.status())));
        }
        let set: JwkSet = res.json().await.map_err(|e| unavailable(&e))?;
        let keys: HashMap<_, _> = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                let key = DecodingKey::from_jwk(jwk).ok()?;
                Some((kid, Arc::new(key)))
            })
            .collect();
        if keys.is_empty() {
            return Err(unavailable(&"the key set has no usable key"));
        }
        tracing::info!(keys = keys.len(), "fetched the user pool's signing keys");
        Ok(keys)
    }
}
