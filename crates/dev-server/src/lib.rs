//! The local host: every route of every HTTP Lambda on one port, on the in-memory adapters
//! seeded from the demo catalog, with the offline payment stand-in, answering browsers with the
//! HTTP API's CORS rules. The black-box tests start it in-process on a random port through
//! [`spawn`]. The binary's command line is [`Cli`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::get;
use jsonwebtoken::{EncodingKey, Header};
use oms_app::config::{AwsResources, Config, ConfigError, Env, FulfilmentConfig, ProviderMode};
use oms_app::system::SystemClock;
use oms_app::wiring;
use oms_aws::{AwsClients, DynamoStore, S3InvoiceStorage};
use oms_core::Product;
use oms_core::app::Services;
use oms_core::ports::Clock;
use oms_core::ports::InvoiceStorage;
use oms_http::AppState;
use oms_http::identity::{DevJwtKey, IdentitySource};
use oms_memory::{
    FaultyCarrier, FaultyQueue, InMemoryInvoices, InMemoryPublisher, InMemoryQueue, InMemoryStore,
};
use post_payment_worker::Worker;
use serde::Serialize;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub mod backfill;
pub mod checkout;
pub mod downloads;
pub mod load_catalog;
pub mod observe;
pub mod pay;
pub mod serve;
pub mod ship;
pub mod standin;

/// The documented default for `DEV_JWT_SECRET`. Local use only.
pub const DEFAULT_JWT_SECRET: &str = "dev-jwt-secret-not-for-production";

/// The `dev-server` command line. With no subcommand it serves, so `cargo run -p dev-server`
/// alone starts the service.
#[derive(Debug, clap::Parser)]
#[command(
    name = "dev-server",
    version,
    about = "The whole order service on one local port: in-memory adapters, demo catalog, offline payments.",
    after_help = "Settings come from the environment (PORT, HOST, DEV_JWT_SECRET, DEV_CORS_ORIGINS,\n\
                  LOG_LEVEL, ...) and from a .env file in the working directory or the nearest parent\n\
                  that has one; the real environment wins. .env.example lists every variable."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The subcommand to run: `serve` when none was given.
    pub fn subcommand(self) -> Command {
        self.command.unwrap_or(Command::Serve)
    }
}

/// What `dev-server` does.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run the service (the default)
    Serve,
    /// Print a bearer token the dev server accepts
    Token(TokenArgs),
    /// Send the running server a signed provider event for an order, as the provider would
    Pay(pay::PayArgs),
    /// Send the running server the carrier's tracking update for an order's parcel (picked up,
    /// out for delivery, delivered, rto, returned, …), as Shiprocket would
    Ship(ship::ShipArgs),
    /// PUT every product of a catalog file into a running stack, deployed or local (safe to re-run)
    LoadCatalog(load_catalog::LoadCatalogArgs),
    /// Apply the provider's events whose webhook never arrived, page after page, through a
    /// running stack's POST /admin/backfill (safe to re-run)
    Backfill(backfill::BackfillArgs),
}

/// `dev-server token`: the claims of the token to print.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct TokenArgs {
    /// The user id (`sub`)
    #[arg(long, value_name = "ID", default_value = "demo-user")]
    pub sub: String,
    /// The `email` claim
    #[arg(long, value_name = "EMAIL", default_value = "demo@example.com")]
    pub email: String,
    /// Put the user in the `admin` group
    #[arg(long)]
    pub admin: bool,
    /// Days until the token expires
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub days: u64,
}

impl TokenArgs {
    /// The token, signed with the dev server's `secret`.
    pub fn mint(&self, secret: &str) -> String {
        let groups: &[&str] = if self.admin { &["admin"] } else { &[] };
        mint_token(
            secret,
            &self.sub,
            Some(&self.email),
            groups,
            Duration::from_secs(self.days.saturating_mul(86_400)),
        )
    }
}

/// The default `DEV_CORS_ORIGINS`: the dev stack's `StorefrontOrigins` in samconfig.toml.
pub const DEFAULT_CORS_ORIGINS: &str = "http://localhost:3001";
/// The CORS rules of the HTTP API (`CorsConfiguration` in template.yaml), which the dev server
/// answers with too; a test keeps the two in step.
pub const CORS_METHODS: [Method; 4] = [Method::GET, Method::POST, Method::PUT, Method::OPTIONS];
pub const CORS_ALLOW_HEADERS: [HeaderName; 5] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    HeaderName::from_static("idempotency-key"),
    HeaderName::from_static("x-order-token"),
    HeaderName::from_static("x-request-id"),
];
pub const CORS_EXPOSE_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("x-request-id"),
    header::LOCATION,
    HeaderName::from_static("idempotent-replayed"),
];
pub const CORS_MAX_AGE: Duration = Duration::from_secs(600);

/// The browser origins allowed to call the API (`DEV_CORS_ORIGINS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// `*`: any origin.
    Any,
    /// Exactly these origins (none: no cross-origin browser calls).
    List(Vec<HeaderValue>),
}

impl CorsOrigins {
    /// Parses `DEV_CORS_ORIGINS`'s list: `*` alone, or origins such as `http://localhost:3001`
    /// (scheme, host and port, no path: a browser's `Origin` never has one, so one with a path
    /// would silently never match).
    pub fn parse(origins: &[String]) -> Result<Self, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid {
            name: "DEV_CORS_ORIGINS",
            reason,
        };
        if origins.iter().any(|o| o == "*") {
            return match origins {
                [_] => Ok(Self::Any),
                _ => Err(invalid("'*' cannot be combined with other origins".into())),
            };
        }
        let origin = |o: &String| {
            let host = o
                .strip_prefix("http://")
                .or_else(|| o.strip_prefix("https://"));
            host.filter(|h| !h.is_empty() && !h.contains('/'))
                .and_then(|_| HeaderValue::from_str(o).ok())
                .ok_or_else(|| {
                    invalid(format!(
                        "'{o}' is not an origin like {DEFAULT_CORS_ORIGINS} (scheme, host, port; no path)"
                    ))
                })
        };
        origins
            .iter()
            .map(origin)
            .collect::<Result<_, _>>()
            .map(Self::List)
    }
}

/// The dev server's CORS: [`CORS_METHODS`] and the other rules of template.yaml, for `origins`.
pub fn cors_layer(origins: &CorsOrigins) -> CorsLayer {
    let allow = match origins {
        CorsOrigins::Any => AllowOrigin::any(),
        CorsOrigins::List(list) => AllowOrigin::list(list.iter().cloned()),
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods(CORS_METHODS)
        .allow_headers(CORS_ALLOW_HEADERS)
        .expose_headers(CORS_EXPOSE_HEADERS)
        .max_age(CORS_MAX_AGE)
}

pub struct DevSettings {
    pub config: Config,
    pub host: String,
    pub port: u16,
    pub jwt_secret: String,
    pub catalog: Vec<Product>,
    pub clock: Arc<dyn Clock>,
    pub backend: Backend,
    /// Run the post-payment worker and the cleanup sweep in-process (`DEV_BACKGROUND`, default
    /// `true`; the black-box tests turn it off where they inspect the queue themselves).
    pub background: bool,
    /// How often the in-process sweep runs (`CLEANUP_INTERVAL_SECONDS`, default 60).
    pub cleanup_interval: std::time::Duration,
    pub fulfilment: FulfilmentConfig,
    /// How long a connection may take to send a whole request head (10 s): past it the
    /// connection is closed, so half-sent requests cannot hold connections for ever.
    pub header_read_timeout: std::time::Duration,
    /// The browser origins allowed to call the API (`DEV_CORS_ORIGINS`, comma-separated;
    /// default [`DEFAULT_CORS_ORIGINS`]).
    pub cors_origins: CorsOrigins,
    /// The digital products' files, named by SKU (`DEV_DOWNLOADS_DIR`, default the
    /// repository's `demo/downloads/`): served by `/dev/downloads/{sku}`, or uploaded to the
    /// local downloads bucket with `DEV_BACKEND=aws`.
    pub downloads_dir: std::path::PathBuf,
}

/// The default [`DevSettings::header_read_timeout`]: far beyond any real client's request head
/// on a local machine.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the dev server keeps its state (`DEV_BACKEND`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// In-memory adapters (the default): nothing to install, state lost on exit.
    Memory,
    /// The AWS adapters against `AWS_ENDPOINT_URL` (a local AWS API server) or a real account.
    /// Resources are named from `DEV_AWS_PREFIX` (default `oms-dev`) and created if missing.
    Aws { prefix: String },
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
        let env = Env::from_fn(get);
        let catalog = match env.var("CATALOG_FILE") {
            None => oms_memory::demo_catalog(),
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| SettingsError::Invalid(format!("CATALOG_FILE {path}: {e}")))?;
                oms_memory::parse_catalog(&text)
                    .map_err(|e| SettingsError::Invalid(format!("CATALOG_FILE {path}: {e}")))?
            }
        };
        let backends = [("memory", false), ("aws", true)];
        let backend = match env.choice("DEV_BACKEND", &backends, Some(false))? {
            false => Backend::Memory,
            true => Backend::Aws {
                prefix: env
                    .var("DEV_AWS_PREFIX")
                    .unwrap_or_else(|| "oms-dev".into()),
            },
        };
        let interval = env.number("CLEANUP_INTERVAL_SECONDS", 60, 1..=86_400, "seconds")?;
        let cors_origins = env
            .list("DEV_CORS_ORIGINS")
            .unwrap_or_else(|| vec![DEFAULT_CORS_ORIGINS.into()]);
        Ok(Self {
            config: Config::read(&env, Some(ProviderMode::Offline))?,
            backend,
            background: env.flag("DEV_BACKGROUND", true)?,
            cleanup_interval: Duration::from_secs(interval),
            fulfilment: FulfilmentConfig::read(&env)?,
            header_read_timeout: HEADER_READ_TIMEOUT,
            cors_origins: CorsOrigins::parse(&cors_origins)?,
            downloads_dir: env
                .var("DEV_DOWNLOADS_DIR")
                .map(Into::into)
                .unwrap_or_else(downloads::default_dir),
            host: env.var("HOST").unwrap_or_else(|| "127.0.0.1".into()),
            port: env.number("PORT", 3000, 0..=65_535, "port")?,
            jwt_secret: env
                .var("DEV_JWT_SECRET")
                .unwrap_or_else(|| DEFAULT_JWT_SECRET.into()),
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

/// What the provider-playing commands (`pay`, `ship`) need of the running dev server: its
/// API base, an HTTP client, an admin token, and the order as an admin reads it.
pub struct AdminRead {
    pub base: String,
    pub api: String,
    pub http: reqwest::Client,
    pub admin: String,
    pub order: serde_json::Value,
}

/// Reads `order_id` from the dev server at `url` (default: this machine's `PORT`) as admin
/// `who`; a clear error when the server is not there or the order cannot be read.
pub async fn read_order_as_admin(
    settings: &DevSettings,
    url: Option<&str>,
    order_id: &str,
    who: &str,
) -> Result<AdminRead, String> {
    let base = url
        .map(str::to_owned)
        .unwrap_or_else(|| format!("http://127.0.0.1:{}", settings.port));
    let api = format!(
        "{}{}",
        base.trim_end_matches('/'),
        settings.config.http.api_prefix
    );
    let http = reqwest::Client::new();
    let admin = mint_token(
        &settings.jwt_secret,
        who,
        None,
        &["admin"],
        Duration::from_secs(300),
    );
    let order: serde_json::Value = http
        .get(format!("{api}/orders/{order_id}"))
        .bearer_auth(&admin)
        .send()
        .await
        .map_err(|e| format!("is the dev server running at {base}? ({e})"))?
        .json()
        .await
        .map_err(|e| format!("unexpected answer: {e}"))?;
    if order.get("error").is_some() {
        return Err(format!("cannot read order {order_id}: {order}"));
    }
    Ok(AdminRead {
        base,
        api,
        http,
        admin,
        order,
    })
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

/// What sits behind a running dev server's ports, kept so tests can look inside and inject
/// faults.
#[derive(Clone)]
pub struct Parts {
    /// Wraps the real queue: `fail_next(n)` makes the next sends fail.
    pub queue_faults: Arc<FaultyQueue>,
    /// Wraps the real carrier: `set_down(true)` makes every shipment call fail until
    /// `set_down(false)` (fulfilment jobs then fail, and end in the dead-letter queue).
    pub carrier_faults: Arc<FaultyCarrier>,
    pub memory: Option<MemoryParts>,
    pub aws: Option<AwsParts>,
    /// The offline providers' stand-ins (offline mode only).
    pub standins: Option<standin::StandIns>,
}

#[derive(Clone)]
pub struct MemoryParts {
    pub store: Arc<InMemoryStore>,
    pub queue: Arc<InMemoryQueue>,
    pub publisher: Arc<InMemoryPublisher>,
}

#[derive(Clone)]
pub struct AwsParts {
    pub clients: AwsClients,
    pub resources: AwsResources,
    pub store: DynamoStore,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot prepare the AWS backend: {0}")]
pub struct BackendError(String);

/// Creates (if missing) the table, queue, topics and bucket for `prefix`, and seeds the catalog
/// into an empty table.
async fn aws_backend(
    prefix: &str,
    catalog: &[Product],
    max_receives: u32,
    downloads_dir: &std::path::Path,
) -> Result<(AwsClients, AwsResources, DynamoStore), BackendError> {
    use oms_aws::bootstrap;
    use oms_core::ports::OrderStore;
    let err = |e: oms_core::ports::StoreError| BackendError(e.to_string());
    let clients = AwsClients::from_env().await;
    bootstrap::ensure_table(&clients, prefix)
        .await
        .map_err(err)?;
    let queues =
        bootstrap::ensure_queues(&clients, &format!("{prefix}-post-payment"), max_receives)
            .await
            .map_err(err)?;
    let resources = AwsResources {
        table: prefix.to_owned(),
        queue_url: queues.queue_url,
        dead_letter_queue_url: Some(queues.dead_letter_url),
        order_events_arn: bootstrap::ensure_topic(&clients, &format!("{prefix}-order-events"))
            .await
            .map_err(err)?,
        ops_alerts_arn: bootstrap::ensure_topic(&clients, &format!("{prefix}-ops-alerts"))
            .await
            .map_err(err)?,
        invoice_bucket: Some(format!("{prefix}-invoices")),
        downloads_bucket: Some(format!("{prefix}-downloads")),
    };
    if let Some(bucket) = &resources.invoice_bucket {
        bootstrap::ensure_bucket(&clients, bucket)
            .await
            .map_err(err)?;
    }
    if let Some(bucket) = &resources.downloads_bucket {
        bootstrap::ensure_bucket(&clients, bucket)
            .await
            .map_err(err)?;
        // The demo's product files, as an operator uploads them (docs/operations.md).
        bootstrap::upload_downloads(&clients, bucket, downloads_dir)
            .await
            .map_err(err)?;
    }
    let store = DynamoStore::new(clients.dynamodb.clone(), prefix);
    if store.list_products().await.map_err(err)?.is_empty() {
        store.put_products(catalog).await.map_err(err)?;
    }
    Ok((clients, resources, store))
}

/// The full application router, its state and its adapters for `settings`.
pub async fn app(
    settings: &DevSettings,
    base_url: &str,
) -> Result<(Router, AppState, Parts), BackendError> {
    let checkout = format!("{base_url}/dev/checkout");
    let (mut services, memory, aws) = match &settings.backend {
        Backend::Memory => {
            let store = Arc::new(InMemoryStore::new(settings.catalog.clone()));
            let (services, outlets) = wiring::memory_services(
                &settings.config,
                store.clone(),
                settings.clock.clone(),
                &checkout,
            );
            let memory = MemoryParts {
                store,
                queue: outlets.queue,
                publisher: outlets.publisher,
            };
            (services, Some(memory), None)
        }
        Backend::Aws { prefix } => {
            let (clients, resources, store) = aws_backend(
                prefix,
                &settings.catalog,
                settings.fulfilment.max_receives,
                &settings.downloads_dir,
            )
            .await?;
            let mut services = wiring::aws_services(
                &settings.config,
                &clients,
                &resources,
                settings.clock.clone(),
            );
            services.providers =
                wiring::providers(&settings.config, services.secrets.clone(), &checkout);
            let aws = AwsParts {
                clients,
                resources,
                store,
            };
            (services, None, Some(aws))
        }
    };
    let standins = (settings.config.payments.mode == ProviderMode::Offline).then(|| {
        let env = &settings.config.secrets.env;
        let standins = standin::StandIns::new(
            env.razorpay
                .key_id
                .as_deref()
                .unwrap_or(oms_app::config::OFFLINE_RAZORPAY_KEY_ID),
            &checkout,
            standin::Delivery {
                webhooks_url: format!("{base_url}{}/webhooks", settings.config.http.api_prefix),
                stripe_secret: env.stripe.webhook_secrets.first().cloned(),
                razorpay_secret: env.razorpay.webhook_secrets.first().cloned(),
                clock: settings.clock.clone(),
                http: reqwest::Client::new(),
            },
        );
        services.providers = standins.providers();
        standins
    });
    // In memory, links to this server's own signed route (S3's pre-signed links otherwise).
    let local_links = match &memory {
        Some(_) => {
            let links = downloads::LocalDownloadLinks::new(
                format!("{base_url}/dev/downloads"),
                settings.downloads_dir.clone(),
                settings.clock.clone(),
            )
            .map_err(|e| BackendError(format!("download links: {e}")))?;
            let links = Arc::new(links);
            services.downloads = links.clone();
            Some(links)
        }
        None => None,
    };
    let queue_faults = Arc::new(FaultyQueue::new(services.queue.clone()));
    services.queue = queue_faults.clone();
    let carrier_faults = Arc::new(FaultyCarrier::new(services.carrier.clone()));
    services.carrier = carrier_faults.clone();
    let key = DevJwtKey::new(settings.jwt_secret.as_bytes());
    let state = oms_app::local::http_state(
        &settings.config,
        services,
        IdentitySource::DevJwt(Arc::new(key)),
    );
    let routes = create_order::routes()
        .merge(orders_api::routes())
        .merge(payment_webhook::routes());
    let checkout_page = match &standins {
        Some(standins) => Router::new()
            .route(
                "/dev/checkout/{checkout}",
                get(checkout::checkout_page).post(checkout::pay_at_checkout),
            )
            .with_state(checkout::StandInCheckout {
                store: state.services.store.clone(),
                standins: standins.clone(),
            }),
        None => Router::new().route("/dev/checkout/{checkout}", get(checkout::no_stand_in)),
    };
    let download_files = match local_links {
        Some(links) => Router::new()
            .route("/dev/downloads/{sku}", get(downloads::serve_download))
            .with_state(links),
        None => Router::new(),
    };
    let router = Router::new()
        .merge(checkout_page)
        .merge(download_files)
        .merge(oms_http::mount(routes, state.clone()))
        .merge(observe::routes())
        .layer(axum::middleware::from_fn(observe::track_requests))
        .layer(cors_layer(&settings.cors_origins));
    Ok((
        router,
        state,
        Parts {
            queue_faults,
            carrier_faults,
            memory,
            aws,
            standins,
        },
    ))
}

/// A running dev server.
pub struct DevServer {
    pub addr: SocketAddr,
    pub base_url: String,
    pub state: AppState,
    pub parts: Parts,
    task: tokio::task::JoinHandle<()>,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl DevServer {
    pub fn api_url(&self, path: &str) -> String {
        format!("{}{}{}", self.base_url, self.state.api_prefix, path)
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        self.task.abort();
        for t in &self.background {
            t.abort();
        }
    }
}

/// The post-payment worker for the dev server's adapters.
fn worker(settings: &DevSettings, state: &AppState, parts: &Parts) -> Worker {
    let invoices: Arc<dyn InvoiceStorage> = match &parts.aws {
        Some(aws) => Arc::new(S3InvoiceStorage::new(
            aws.clients.s3(),
            aws.resources.invoice_bucket.clone().unwrap_or_default(),
        )),
        None => Arc::new(InMemoryInvoices::default()),
    };
    Worker::new(
        &state.services,
        wiring::fulfilment(&settings.fulfilment, invoices),
    )
}

/// The worker loop and the cleanup interval, as the queue and the schedule run them in AWS.
fn spawn_background(
    settings: &DevSettings,
    state: &AppState,
    parts: &Parts,
) -> Vec<tokio::task::JoinHandle<()>> {
    let worker = worker(settings, state, parts);
    let consume = match (&parts.memory, &parts.aws) {
        (Some(m), _) => tokio::spawn(consume_memory(m.queue.clone(), worker)),
        (None, Some(aws)) => tokio::spawn(consume_sqs(
            aws.clients.sqs.clone(),
            aws.resources.queue_url.clone(),
            worker,
        )),
        (None, None) => tokio::spawn(async {}),
    };
    let services = state.services.clone();
    let sweep = tokio::spawn(sweep_every(
        services,
        settings.cleanup_interval,
        settings.config.cleanup.batch_limit,
    ));
    vec![consume, sweep]
}

/// Jobs from the in-memory queue, each handed to the worker as the SQS event Lambda would
/// give it (its trace in the message attributes; so its logs, metrics and alerts are the
/// Lambda's). Like SQS, a failed job comes back after a pause, up to the receive limit, after
/// which it is set aside in the queue's dead-letter list.
async fn consume_memory(queue: Arc<InMemoryQueue>, worker: Worker) {
    let max = worker.ports.max_receives;
    let mut taken: u64 = 0;
    loop {
        let job = queue.take().await;
        taken += 1;
        let message_id = format!("mem-{taken}");
        for receive in 1..=max {
            let mut event = SqsEvent::default();
            event.records = vec![post_payment_worker::sqs_message(&job, &message_id, receive)];
            if worker.handle(event).await.batch_item_failures.is_empty() {
                break;
            }
            if receive == max {
                tracing::warn!(order_id = %job.order_id, receive, "job moved to the dead-letter list");
                queue.bury(&job, receive);
            } else {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Jobs from the SQS queue, one message an event as Lambda's event source would batch them;
/// a handled message is deleted, a failed one comes back after a pause of a second (as on the
/// in-memory queue; the queue's own visibility timeout is long enough for a slow worker), and
/// SQS's redrive policy moves it to the dead-letter queue after `MAX_RECEIVE_COUNT` receives.
async fn consume_sqs(sqs: aws_sdk_sqs::Client, url: String, worker: Worker) {
    use aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount;
    loop {
        let receive = sqs
            .receive_message()
            .queue_url(&url)
            .wait_time_seconds(1)
            .max_number_of_messages(10)
            .message_system_attribute_names(ApproximateReceiveCount)
            // The job's trace (`requestId`, `eventId`).
            .message_attribute_names("All");
        let got = match receive.send().await {
            Ok(g) => g,
            Err(e) => {
                tracing::warn!(error = %e, "receive failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        for m in got.messages() {
            let handled = worker
                .handle(sqs_event(m))
                .await
                .batch_item_failures
                .is_empty();
            let Some(h) = m.receipt_handle() else {
                continue;
            };
            if handled {
                let delete = sqs.delete_message().queue_url(&url).receipt_handle(h);
                let _ = delete.send().await;
            } else {
                let retry = sqs
                    .change_message_visibility()
                    .queue_url(&url)
                    .receipt_handle(h)
                    .visibility_timeout(1);
                let _ = retry.send().await;
            }
        }
    }
}

/// The Lambda event for one received message, its string message attributes included.
fn sqs_event(m: &aws_sdk_sqs::types::Message) -> SqsEvent {
    let attributes = m
        .attributes()
        .map(|a| {
            a.iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let mut record = SqsMessage::default();
    record.message_id = m.message_id().map(str::to_owned);
    record.body = m.body().map(str::to_owned);
    record.attributes = attributes;
    record.message_attributes = m
        .message_attributes()
        .map(|a| {
            a.iter()
                .filter_map(|(k, v)| {
                    let value = v.string_value()?;
                    Some((k.clone(), post_payment_worker::string_attribute(value)))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut event = SqsEvent::default();
    event.records = vec![record];
    event
}

/// The schedule: one bounded sweep every `every`, as the cleanup Lambda runs it.
async fn sweep_every(services: Services, every: Duration, limit: u32) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = oms_core::app::sweep::sweep(&services, limit).await {
            tracing::warn!(error = %e, "sweep failed");
        }
    }
}

/// Binds `settings.host:settings.port` (port 0 picks a free one) and serves in the background.
pub async fn spawn(settings: &DevSettings) -> std::io::Result<DevServer> {
    let listener = TcpListener::bind((settings.host.as_str(), settings.port)).await?;
    let addr = listener.local_addr()?;
    let base_url = format!("http://{addr}");
    let (router, state, parts) = app(settings, &base_url)
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let background = if settings.background {
        spawn_background(settings, &state, &parts)
    } else {
        Vec::new()
    };
    let task = tokio::spawn(serve::serve(
        listener,
        router,
        settings.header_read_timeout,
        shutdown(),
    ));
    Ok(DevServer {
        addr,
        base_url,
        state,
        parts,
        task,
        background,
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
