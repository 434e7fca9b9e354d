//! `cargo run -p dev-server` — the whole service on one local port, no AWS, no Docker.
//! `cargo run -p dev-server -- token [--sub ID] [--email E] [--admin]` prints a dev JWT.
//! `cargo run -p dev-server -- load-catalog --api URL --token JWT FILE` loads a catalog into a
//! running stack (deployed or local) through its admin route.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use dev_server::{DevSettings, mint_token, spawn, wait};
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage:
  dev-server                      run the service (env: PORT, DEV_JWT_SECRET, LOG_LEVEL, ...)
  dev-server token [--sub ID] [--email EMAIL] [--admin] [--days N]
                                  print a bearer token the dev server accepts
  dev-server pay <orderId> [--provider stripe|razorpay] [--amount MINOR] [--fail] [--refund MINOR]
                                  send the running server a signed provider event for the order
  dev-server load-catalog --api <base URL ending /api/v1> [--token <admin JWT>] <catalog.json>
                                  PUT every product of the file into a running stack (safe to re-run)";

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

fn token_command(args: &[String], secret: &str) -> Result<String, String> {
    let mut sub = "demo-user".to_owned();
    let mut email = Some("demo@example.com".to_owned());
    let mut groups = Vec::new();
    let mut days = 30u64;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "--sub" => sub = value()?,
            "--email" => email = Some(value()?),
            "--admin" => groups.push("admin"),
            "--days" => {
                days = value()?
                    .parse()
                    .map_err(|_| "--days takes a number".to_owned())?
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(mint_token(
        secret,
        &sub,
        email.as_deref(),
        &groups,
        Duration::from_secs(days * 86_400),
    ))
}

/// `load-catalog`: needs no local settings, since it talks to whatever stack `--api` names.
async fn load_catalog_command(args: &[String]) -> ExitCode {
    use dev_server::load_catalog::{self, TOKEN_ENV, USAGE};
    let parsed = match load_catalog::parse_args(args, std::env::var(TOKEN_ENV).ok()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("dev-server: {e}\nusage: {USAGE}");
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

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("load-catalog") {
        return load_catalog_command(&args[1..]).await;
    }
    let settings = match DevSettings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dev-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    match args.first().map(String::as_str) {
        None => {}
        Some("pay") => {
            let result = match dev_server::pay::parse_args(&args[1..]) {
                Ok(a) => dev_server::pay::run(&settings, a).await,
                Err(e) => Err(format!("{e}\nusage: {}", dev_server::pay::USAGE)),
            };
            return match result {
                Ok(out) => {
                    println!("{out}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("dev-server: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        Some("token") => {
            return match token_command(&args[1..], &settings.jwt_secret) {
                Ok(t) => {
                    println!("{t}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("dev-server: {e}\n{USAGE}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(_) => {
            eprintln!("{USAGE}");
            return ExitCode::FAILURE;
        }
    }

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
        "\n  Order service (dev) listening on {base}\n  API base:        {api}\n  Store:           {store}\n  Payments:        {mode:?} (offline = local stand-in, no provider is called)\n  DEV_JWT_SECRET:  {secret}\n  Webhook secrets: stripe {stripe_wh}, razorpay {rzp_wh}\n  Pay an order:    cargo run -p dev-server -- pay <orderId> [--fail] [--refund MINOR]\n  User token:      {user}\n                   (more: cargo run -p dev-server -- token --sub alice [--admin])\n\n  Try it:\n    curl -s {api}/products\n    curl -s -X POST {api}/orders -H 'Content-Type: application/json' -H 'Idempotency-Key: try-1' \\\n      -d '{{\"items\":[{{\"sku\":\"CHAI-250G\",\"quantity\":2}}],\"currency\":\"INR\",\"paymentProvider\":\"razorpay\",\"customer\":{{\"email\":\"asha@example.in\",\"name\":\"Asha Rao\"}},\"shippingAddress\":{{\"name\":\"Asha Rao\",\"line1\":\"12 MG Road\",\"city\":\"Bengaluru\",\"state\":\"Karnataka\",\"postalCode\":\"560001\",\"country\":\"IN\"}}}}'\n",
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
