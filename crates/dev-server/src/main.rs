//! `cargo run -p dev-server` — the whole service on one local port, no AWS, no Docker.
//! `cargo run -p dev-server -- --help` lists the other subcommands: `token` prints a dev JWT,
//! `pay` plays a payment provider, `ship` plays the carrier's tracking, `load-catalog` loads a catalog into a running stack,
//! `backfill` applies a provider's events whose webhook never arrived. The
//! command line is [`dev_server::Cli`]; a `.env` file, if there is one, fills in the
//! environment first.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use dev_server::backfill::{self, BackfillArgs};
use dev_server::load_catalog::{self, LoadCatalogArgs, TOKEN_ENV};
use dev_server::pay;
use dev_server::{Cli, Command, DevSettings, mint_token, spawn, wait};
use tracing_subscriber::EnvFilter;

/// Prints a secret only when it is the documented development default.
fn shown<'a>(value: &'a str, dev_default: &'a str) -> &'a str {
    if value == dev_default {
        value
    } else {
        "(set from the environment; not shown)"
    }
}

fn init_logs() {
    let level = std::env::var("LOG_LEVEL").unwrap_or_else(|_| "info".into());
    let filter =
        EnvFilter::try_new(level.to_lowercase()).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(filter)
        .init();
}

/// Reads `.env` (the working directory's, or the nearest parent's) into the environment;
/// variables already set win. No file is fine; a file that cannot be read or parsed is not.
fn load_dotenv() -> Result<(), String> {
    match dotenvy::dotenv() {
        Ok(_) => Ok(()),
        Err(e) if e.not_found() => Ok(()),
        // The offending line is not echoed: it may hold a secret. Its name is enough to find it.
        Err(dotenvy::Error::LineParse(line, at)) => Err(match line.split_once('=') {
            Some((name, _)) => format!(
                "cannot parse the line for {} (at character {at})",
                name.trim()
            ),
            None => "a line is not NAME=value: it has no '='".to_owned(),
        }),
        Err(e) => Err(format!("cannot read it: {e}")),
    }
}

fn main() -> ExitCode {
    // First, while the process has one thread: loading `.env` sets environment variables.
    if let Err(e) = load_dotenv() {
        eprintln!("dev-server: .env: {e}");
        return ExitCode::FAILURE;
    }
    let command = Cli::parse().subcommand();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dev-server: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(command))
}

async fn run(command: Command) -> ExitCode {
    match command {
        // Needs no local settings: it talks to whatever stack `--api` names.
        Command::LoadCatalog(args) => load_catalog_command(args).await,
        Command::Token(args) => match settings() {
            Some(s) => {
                println!("{}", args.mint(&s.jwt_secret));
                ExitCode::SUCCESS
            }
            None => ExitCode::FAILURE,
        },
        Command::Backfill(args) => backfill_command(args).await,
        Command::Pay(args) => match settings() {
            Some(s) => printed(pay::run(&s, args).await),
            None => ExitCode::FAILURE,
        },
        Command::Ship(args) => match settings() {
            Some(s) => printed(dev_server::ship::run(&s, args).await),
            None => ExitCode::FAILURE,
        },
        Command::Serve => match settings() {
            Some(s) => serve(s).await,
            None => ExitCode::FAILURE,
        },
    }
}

/// The local settings, or `None` once the reason has been printed.
fn settings() -> Option<DevSettings> {
    DevSettings::from_env()
        .map_err(|e| eprintln!("dev-server: {e}"))
        .ok()
}

async fn load_catalog_command(args: LoadCatalogArgs) -> ExitCode {
    let parsed = match args.resolve(std::env::var(TOKEN_ENV).ok()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("dev-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    match load_catalog::run(&parsed, |line| println!("{line}")).await {
        Ok(summary) if summary.failed == 0 => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Ok(summary) => {
            eprintln!("dev-server: {summary}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("dev-server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn backfill_command(args: BackfillArgs) -> ExitCode {
    // A deployed stack (`--api`) needs no local settings.
    let local = if args.api.is_none() { settings() } else { None };
    let (api, token) = match backfill::target(&args, local.as_ref(), std::env::var(TOKEN_ENV).ok())
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("dev-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    match backfill::run(&api, &token, &args, |line| println!("{line}")).await {
        Ok(totals) => {
            println!("{totals}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dev-server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A provider-playing command's result: what it printed, or why it failed.
fn printed(result: Result<String, String>) -> ExitCode {
    match result {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dev-server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: DevSettings) -> ExitCode {
    init_logs();
    let server = match spawn(&settings).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "dev-server: cannot listen on {}:{}: {e}",
                settings.host, settings.port
            );
            return ExitCode::FAILURE;
        }
    };
    let user = mint_token(
        &settings.jwt_secret,
        "demo-user",
        Some("demo@example.com"),
        &[],
        Duration::from_secs(30 * 86_400),
    );
    let api = server.api_url("");
    let banner = format!(
        "\n  Order service (dev) listening on {base}\n  API base:        {api}\n  API docs:        {base}/docs  (the document: {base}/openapi.yaml)\n  Metrics:         {base}/metrics  (Prometheus text format)\n  Store:           {store}\n  Payments:        {mode:?} (offline = local stand-in, no provider is called)\n  DEV_JWT_SECRET:  {secret}\n  Webhook secrets: stripe {stripe_wh}, razorpay {rzp_wh}\n  Pay an order:    cargo run -p dev-server -- pay <orderId> [--fail] [--refund MINOR]\n  Track a parcel:  cargo run -p dev-server -- ship <orderId> --status out_for_delivery|delivered|rto|returned|…\n  User token:      {user}\n                   (more: cargo run -p dev-server -- token --sub alice [--admin])\n\n  Try it:\n    curl -s {api}/products\n    curl -s -X POST {api}/orders -H 'Content-Type: application/json' -H 'Idempotency-Key: try-1' \\\n      -d '{{\"items\":[{{\"sku\":\"CHAI-250G\",\"quantity\":2}}],\"currency\":\"INR\",\"paymentProvider\":\"razorpay\",\"customer\":{{\"email\":\"asha@example.in\",\"name\":\"Asha Rao\"}},\"shippingAddress\":{{\"name\":\"Asha Rao\",\"line1\":\"12 MG Road\",\"city\":\"Bengaluru\",\"state\":\"Karnataka\",\"postalCode\":\"560001\",\"country\":\"IN\"}}}}'\n",
        base = server.base_url,
        store = match &settings.backend {
            dev_server::Backend::Memory => format!(
                "in-memory, demo catalog ({} products)",
                settings.catalog.len()
            ),
            dev_server::Backend::Aws { prefix } => format!(
                "AWS (DynamoDB table '{prefix}', queue, topics, bucket) at {}",
                std::env::var("AWS_ENDPOINT_URL")
                    .unwrap_or_else(|_| "the account's endpoints".into())
            ),
        },
        mode = settings.config.payments.mode,
        secret = shown(&settings.jwt_secret, dev_server::DEFAULT_JWT_SECRET),
        stripe_wh = settings
            .config
            .secrets
            .env
            .stripe
            .webhook_secrets
            .first()
            .map_or("(none)", |s| shown(
                s.expose(),
                oms_app::config::DEV_STRIPE_WEBHOOK_SECRET
            )),
        rzp_wh = settings
            .config
            .secrets
            .env
            .razorpay
            .webhook_secrets
            .first()
            .map_or("(none)", |s| shown(
                s.expose(),
                oms_app::config::DEV_RAZORPAY_WEBHOOK_SECRET
            )),
    );
    let _ = std::io::stdout().write_all(banner.as_bytes());
    tracing::info!(url = %server.base_url, "dev server ready");
    wait(server).await;
    ExitCode::SUCCESS
}
