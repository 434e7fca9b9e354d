//! The local host: every route of every HTTP Lambda on one port, on the in-memory adapters
//! seeded from the demo catalog, with the offline payment stand-in. The black-box tests start
//! it in-process on a random port through [`spawn`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::Path;
use axum::response::Html;
use axum::routing::get;
use jsonwebtoken::{EncodingKey, Header};
use oms_core::Product;
use oms_core::ports::Clock;
use oms_http::AppState;
use oms_http::config::{Config, ConfigError, Defaults, ProviderMode};
use oms_http::identity::{DevJwtKey, IdentitySource};
use oms_memory::{InMemoryPublisher, InMemoryQueue, InMemoryStore, SystemClock};
use serde::Serialize;
use tokio::net::TcpListener;

pub mod pay;

/// The documented default for `DEV_JWT_SECRET`. Local use only.
pub const DEFAULT_JWT_SECRET: &str = "dev-jwt-secret-not-for-production";

pub struct DevSettings {
    pub config: Config,
    pub host: String,
    pub port: u16,
    pub jwt_secret: String,
    pub catalog: Vec<Product>,
    pub clock: Arc<dyn Clock>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Invalid(String),
}

impl DevSettings {
    /// Settings from the environment, with the documented defaults.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let var = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let config = Config::from_lookup(
            &get,
            Defaults {
                provider_mode: Some(ProviderMode::Offline),
            },
        )?;
        let port = match var("PORT") {
            None => 3000,
            Some(p) => p
                .parse()
                .map_err(|_| SettingsError::Invalid(format!("PORT '{p}' is not a port number")))?,
        };
        let catalog = match var("CATALOG_FILE") {
            None => oms_memory::demo_catalog(),
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| SettingsError::Invalid(format!("CATALOG_FILE {path}: {e}")))?;
                oms_memory::parse_catalog(&text)
                    .map_err(|e| SettingsError::Invalid(format!("CATALOG_FILE {path}: {e}")))?
            }
        };
        Ok(Self {
            config,
            host: var("HOST").unwrap_or_else(|| "127.0.0.1".into()),
            port,
            jwt_secret: var("DEV_JWT_SECRET").unwrap_or_else(|| DEFAULT_JWT_SECRET.into()),
            catalog,
            clock: Arc::new(SystemClock),
        })
    }
}

/// The claims the dev server's tokens carry, shaped like a Cognito ID token.
#[derive(Serialize)]
struct DevClaims<'a> {
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(rename = "cognito:groups")]
    groups: &'a [&'a str],
    iat: u64,
    exp: u64,
}

/// An HS256 token the dev server accepts, for trying the API as a signed-in user or admin.
pub fn mint_token(
    secret: &str,
    sub: &str,
    email: Option<&str>,
    groups: &[&str],
    ttl: Duration,
) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    mint_token_expiring(secret, sub, email, groups, now + ttl.as_secs())
}

/// Like [`mint_token`], expiring at `exp` (Unix seconds): in the past, for tests of expiry.
pub fn mint_token_expiring(
    secret: &str,
    sub: &str,
    email: Option<&str>,
    groups: &[&str],
    exp: u64,
) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let claims = DevClaims {
        sub,
        email,
        groups,
        iat: now.min(exp),
        exp,
    };
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap_or_default()
}

/// The offline checkout stand-in's page: where a Stripe `checkoutUrl` points locally.
async fn offline_checkout(Path(session): Path<String>) -> Html<String> {
    let session: String = session
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(80)
        .collect();
    Html(format!(
        "<!doctype html><title>Offline checkout</title><h1>Offline checkout stand-in</h1>\
         <p>Session <code>{session}</code>. No payment provider is contacted in offline mode.</p>"
    ))
}

/// The in-memory adapters behind a dev server, kept so tests can look inside them.
#[derive(Clone)]
pub struct Local {
    pub store: Arc<InMemoryStore>,
    pub queue: Arc<InMemoryQueue>,
    pub publisher: Arc<InMemoryPublisher>,
}

/// The full application router, its state and its adapters for `settings`.
pub fn app(settings: &DevSettings, base_url: &str) -> (Router, AppState, Local) {
    let store = Arc::new(InMemoryStore::new(settings.catalog.clone()));
    let (adapters, queue, publisher) =
        oms_http::lambda::memory_adapters(store.clone(), &settings.config, settings.clock.clone());
    let state = AppState::new(
        &settings.config,
        adapters,
        IdentitySource::DevJwt(Arc::new(DevJwtKey::new(settings.jwt_secret.as_bytes()))),
        &format!("{base_url}/dev/checkout"),
    );
    let routes = create_order::routes()
        .merge(orders_api::routes())
        .merge(payment_webhook::routes());
    let router = Router::new()
        .route("/dev/checkout/{session}", get(offline_checkout))
        .merge(oms_http::mount(routes, state.clone()));
    (
        router,
        state,
        Local {
            store,
            queue,
            publisher,
        },
    )
}

/// A running dev server.
pub struct DevServer {
    pub addr: SocketAddr,
    pub base_url: String,
    pub state: AppState,
    pub local: Local,
    task: tokio::task::JoinHandle<()>,
}

impl DevServer {
    pub fn api_url(&self, path: &str) -> String {
        format!("{}{}{}", self.base_url, self.state.api_prefix, path)
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `settings.host:settings.port` (port 0 picks a free one) and serves in the background.
pub async fn spawn(settings: &DevSettings) -> std::io::Result<DevServer> {
    let listener = TcpListener::bind((settings.host.as_str(), settings.port)).await?;
    let addr = listener.local_addr()?;
    let base_url = format!("http://{addr}");
    let (router, state, local) = app(settings, &base_url);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown())
            .await
        {
            tracing::error!(error = %e, "server stopped");
        }
    });
    Ok(DevServer {
        addr,
        base_url,
        state,
        local,
        task,
    })
}

async fn shutdown() {
    let _ = tokio::signal::ctrl_c().await;
}

/// Waits until the server task ends (Ctrl-C).
pub async fn wait(server: DevServer) {
    let mut server = server;
    let task = std::mem::replace(&mut server.task, tokio::spawn(async {}));
    let _ = task.await;
}
