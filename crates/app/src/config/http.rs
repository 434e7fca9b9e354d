//! The HTTP functions' settings: where the API is mounted, how old a signed webhook may be,
//! and the Cognito user pool whose tokens the functions verify themselves.

use std::time::Duration;

use oms_http::cognito::CognitoConfig;

use super::env::{ConfigError, Env};

#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `API_PREFIX` (`/api/v1`).
    pub api_prefix: String,
    /// `STRIPE_WEBHOOK_TOLERANCE_SECONDS` (300): how far a signed timestamp may be from now.
    pub stripe_tolerance: Duration,
    /// `COGNITO_ISSUER` + `COGNITO_AUDIENCE`.
    pub cognito: Option<CognitoConfig>,
}

impl HttpConfig {
    pub fn read(env: &Env) -> Result<Self, ConfigError> {
        let tolerance = env.number("STRIPE_WEBHOOK_TOLERANCE_SECONDS", 300, 1..=3600, "seconds")?;
        Ok(Self {
            api_prefix: api_prefix(env)?,
            stripe_tolerance: Duration::from_secs(tolerance),
            cognito: cognito(env)?,
        })
    }
}

fn api_prefix(env: &Env) -> Result<String, ConfigError> {
    let raw = env.var("API_PREFIX").unwrap_or_else(|| "/api/v1".into());
    let prefix = raw.trim_end_matches('/').to_owned();
    let segment_ok = |seg: &str| {
        !seg.is_empty()
            && seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    match prefix.strip_prefix('/') {
        Some(rest) if rest.split('/').all(segment_ok) => Ok(prefix),
        _ => Err(ConfigError::Invalid {
            name: "API_PREFIX",
            reason: "must look like /api/v1".into(),
        }),
    }
}

fn cognito(env: &Env) -> Result<Option<CognitoConfig>, ConfigError> {
    let (issuer, audiences) = match (env.var("COGNITO_ISSUER"), env.list("COGNITO_AUDIENCE")) {
        (None, None) => return Ok(None),
        (Some(i), Some(a)) => (i.trim_end_matches('/').to_owned(), a),
        (Some(_), None) => {
            return Err(ConfigError::Missing {
                name: "COGNITO_AUDIENCE",
                hint: " when COGNITO_ISSUER is set (the app client ids)",
            });
        }
        (None, Some(_)) => {
            return Err(ConfigError::Missing {
                name: "COGNITO_ISSUER",
                hint: " when COGNITO_AUDIENCE is set",
            });
        }
    };
    let loopback = ["http://127.0.0.1:", "http://localhost:"]
        .iter()
        .any(|p| issuer.starts_with(p));
    if !issuer.starts_with("https://") && !loopback {
        return Err(ConfigError::Invalid {
            name: "COGNITO_ISSUER",
            reason: "must be an https:// URL (the user pool's issuer)".into(),
        });
    }
    if audiences.is_empty() {
        return Err(ConfigError::Invalid {
            name: "COGNITO_AUDIENCE",
            reason: "names no app client id".into(),
        });
    }
    Ok(Some(CognitoConfig { issuer, audiences }))
}
