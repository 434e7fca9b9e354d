//! `dev-server load-catalog --api <base URL> --token <admin JWT> <catalog.json>`: loads a whole
//! catalog into a running stack — deployed or local — through its own admin route, one
//! `PUT /admin/products/{sku}` per product. A PUT creates a product or replaces its name and
//! price and never touches the stock of a known one, so running the command again is safe; stock
//! in the file is only the initial stock of new products.

use std::path::PathBuf;
use std::time::Duration;

use oms_core::Sku;
use serde::Deserialize;
use serde_json::{Value, json};

/// The environment variable read when `--token` is not given.
pub const TOKEN_ENV: &str = "OMS_ADMIN_TOKEN";

/// Tries per product when the answer says to retry (503) or the stack cannot be reached:
/// a PUT is safe to repeat.
const ATTEMPTS: u32 = 3;

/// `dev-server load-catalog`'s arguments as given; [`LoadCatalogArgs::resolve`] turns them into
/// the [`LoadArgs`] a run needs.
#[derive(Clone, PartialEq, Eq, clap::Args)]
#[command(
    after_help = "CATALOG_JSON: [{\"sku\",\"name\",\"unitPrice\",\"currency\",\"available\"?}, …], \
                         unitPrice in minor units, available only the initial stock of a new product."
)]
pub struct LoadCatalogArgs {
    /// The API base, API_PREFIX included, e.g. https://…/api/v1
    #[arg(long, value_name = "URL", value_parser = api_base)]
    pub api: String,
    /// An admin's JWT [default: $OMS_ADMIN_TOKEN, which keeps it out of the shell history]
    #[arg(long, value_name = "JWT")]
    pub token: Option<String>,
    /// The catalog file
    #[arg(value_name = "CATALOG_JSON")]
    pub file: PathBuf,
}

impl std::fmt::Debug for LoadCatalogArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadCatalogArgs")
            .field("api", &self.api)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("file", &self.file)
            .finish()
    }
}

/// `--api`: an http(s) URL, without a trailing `/`.
fn api_base(api: &str) -> Result<String, String> {
    if api.starts_with("http://") || api.starts_with("https://") {
        Ok(api.trim_end_matches('/').to_owned())
    } else {
        Err(format!("must be an http(s) URL, not {api}"))
    }
}

impl LoadCatalogArgs {
    /// `env_token` is [`TOKEN_ENV`]'s value, used when there is no `--token`.
    pub fn resolve(self, env_token: Option<String>) -> Result<LoadArgs, String> {
        let token = self
            .token
            .or(env_token)
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| format!("--token (or {TOKEN_ENV}) is required"))?;
        Ok(LoadArgs {
            api: self.api,
            token,
            file: self.file,
        })
    }
}

/// What a run needs.
#[derive(Clone, PartialEq, Eq)]
pub struct LoadArgs {
    /// The API base, `API_PREFIX` included (`https://…/api/v1`).
    pub api: String,
    pub token: String,
    pub file: PathBuf,
}

impl std::fmt::Debug for LoadArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadArgs")
            .field("api", &self.api)
            .field("token", &"<redacted>")
            .field("file", &self.file)
            .finish()
    }
}

/// One product of the catalog file, as the PUT route takes it. The values are checked by the
/// route, which names every bad field; only the SKU is checked here, because it goes into the
/// URL.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CatalogEntry {
    pub sku: String,
    pub name: String,
    pub unit_price: i64,
    pub currency: String,
    #[serde(default)]
    pub available: Option<u64>,
}

/// Reads a catalog file: a JSON array of products, each SKU well formed and listed once, so
/// nothing is sent for a file that is wrong as a whole.
pub fn parse_catalog(text: &str) -> Result<Vec<CatalogEntry>, String> {
    let entries: Vec<CatalogEntry> = serde_json::from_str(text).map_err(|e| {
        format!("not a catalog (a JSON array of {{\"sku\",\"name\",\"unitPrice\",\"currency\",\"available\"?}}): {e}")
    })?;
    let mut seen = std::collections::HashSet::new();
    for (i, e) in entries.iter().enumerate() {
        // `.` and `..` alone would be resolved away as path segments.
        if Sku::parse(&e.sku).is_err() || matches!(e.sku.as_str(), "." | "..") {
            return Err(format!(
                "entry {i}: sku {:?} must be 1 to 64 letters, digits, '-', '_' or '.'",
                e.sku
            ));
        }
        if !seen.insert(e.sku.as_str()) {
            return Err(format!("entry {i}: sku {} is listed twice", e.sku));
        }
    }
    Ok(entries)
}

/// What became of one product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    Created,
    Updated,
    Failed,
}

/// What the whole run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub created: usize,
    pub updated: usize,
    pub failed: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} created, {} updated, {} failed",
            self.created, self.updated, self.failed
        )
    }
}

/// The error envelope's `code: message`, or the start of whatever else came back.
fn describe(status: u16, body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    match parsed.as_ref().map(|v| &v["error"]) {
        Some(e) if e["code"].is_string() => format!(
            "{status} {}: {}",
            e["code"].as_str().unwrap_or_default(),
            e["message"].as_str().unwrap_or_default()
        ),
        _ => format!("{status} {}", body.chars().take(200).collect::<String>()),
    }
}

/// PUTs every product of `args.file`, reporting each through `emit` as it goes. `Err` when the
/// file cannot be used or the token is refused (every product would fail alike); otherwise the
/// summary, whose `failed` count says whether all went in.
pub async fn run(args: &LoadArgs, mut emit: impl FnMut(String)) -> Result<Summary, String> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
    let entries = parse_catalog(&text).map_err(|e| format!("{}: {e}", args.file.display()))?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let mut summary = Summary::default();
    for entry in &entries {
        let mut body = json!({
            "name": entry.name,
            "unitPrice": entry.unit_price,
            "currency": entry.currency,
        });
        if let Some(a) = entry.available {
            body["available"] = json!(a);
        }
        let url = format!("{}/admin/products/{}", args.api, entry.sku);
        let mut attempt = 0;
        let (status, answer) = loop {
            attempt += 1;
            let sent = http
                .put(&url)
                .bearer_auth(&args.token)
                .json(&body)
                .send()
                .await;
            let retry = match sent {
                Ok(res) if res.status().as_u16() != 503 => {
                    let status = res.status().as_u16();
                    break (status, res.text().await.unwrap_or_default());
                }
                Ok(res) => describe(503, &res.text().await.unwrap_or_default()),
                Err(e) => format!("cannot reach {}: {e}", args.api),
            };
            if attempt >= ATTEMPTS {
                break (0, retry);
            }
            tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
        };
        if matches!(status, 401 | 403) {
            return Err(format!(
                "the token was refused ({}); an admin's token is needed",
                describe(status, &answer)
            ));
        }
        let product: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
        let outcome = match status {
            201 => Loaded::Created,
            200 => Loaded::Updated,
            _ => Loaded::Failed,
        };
        let line = match outcome {
            Loaded::Created => {
                summary.created += 1;
                format!("created {} (available {})", entry.sku, product["available"])
            }
            Loaded::Updated => {
                summary.updated += 1;
                let kept = product["available"].as_u64();
                match entry.available {
                    Some(asked) if kept != Some(asked) => format!(
                        "updated {} (available stays {}: the file's {asked} only applies to new products; adjust stock with POST /admin/products/{}/stock)",
                        entry.sku, product["available"], entry.sku
                    ),
                    _ => format!("updated {}", entry.sku),
                }
            }
            Loaded::Failed => {
                summary.failed += 1;
                let why = if status == 0 {
                    answer
                } else {
                    describe(status, &answer)
                };
                format!("failed  {}: {why}", entry.sku)
            }
        };
        emit(line);
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{Cli, Command};

    fn parse(args: &[&str], env_token: Option<String>) -> Result<LoadArgs, String> {
        let cli = Cli::try_parse_from(["dev-server", "load-catalog"].iter().chain(args))
            .map_err(|e| e.to_string())?;
        match cli.subcommand() {
            Command::LoadCatalog(a) => a.resolve(env_token),
            other => panic!("not load-catalog: {other:?}"),
        }
    }

    #[test]
    fn load_catalog_arguments_parse_and_refuse_nonsense() {
        let a = parse(
            &[
                "--api",
                "https://x.example/api/v1/",
                "--token",
                "t",
                "c.json",
            ],
            None,
        )
        .unwrap();
        assert_eq!(
            (a.api.as_str(), a.token.as_str(), a.file.to_str()),
            ("https://x.example/api/v1", "t", Some("c.json"))
        );
        let from_env = parse(
            &["c.json", "--api", "http://127.0.0.1:3000/api/v1"],
            Some("env-token".into()),
        )
        .unwrap();
        assert_eq!(from_env.token, "env-token");
        assert!(!format!("{from_env:?}").contains("env-token"));
        let flag_wins = parse(
            &["--api", "https://x", "--token", "flag", "c.json"],
            Some("env-token".into()),
        )
        .unwrap();
        assert_eq!(flag_wins.token, "flag");
        for bad in [
            &["--token", "t", "c.json"][..],
            &["--api", "x.example", "--token", "t", "c.json"],
            &["--api", "https://x", "c.json"],
            &["--api", "https://x", "--token", " ", "c.json"],
            &["--api", "https://x", "--token", "t"],
            &["--api", "https://x", "--token", "t", "a.json", "b.json"],
            &["--api", "https://x", "--token", "t", "--bogus", "c.json"],
            &["--api"],
        ] {
            assert!(parse(bad, None).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_parsed_arguments_never_show_the_token() {
        let cli = Cli::try_parse_from([
            "dev-server",
            "load-catalog",
            "--api",
            "https://x",
            "--token",
            "secret-token",
            "c.json",
        ])
        .unwrap();
        assert!(!format!("{cli:?}").contains("secret-token"));
    }

    #[test]
    fn a_catalog_file_with_a_bad_or_repeated_sku_is_refused_before_anything_is_sent() {
        let ok = parse_catalog(
            r#"[{"sku":"A","name":"a","unitPrice":1,"currency":"INR"},
                {"sku":"B","name":"b","unitPrice":2,"currency":"INR","available":3}]"#,
        )
        .unwrap();
        assert_eq!((ok.len(), ok[1].available), (2, Some(3)));
        for bad in [
            r#"{"sku":"A"}"#,
            r#"[{"sku":"a b","name":"a","unitPrice":1,"currency":"INR"}]"#,
            r#"[{"sku":"..","name":"a","unitPrice":1,"currency":"INR"}]"#,
            r#"[{"sku":"A","name":"a","unitPrice":1,"currency":"INR"},{"sku":"A","name":"b","unitPrice":1,"currency":"INR"}]"#,
            r#"[{"sku":"A","name":"a","unitPrice":1,"currency":"INR","colour":"red"}]"#,
        ] {
            assert!(parse_catalog(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_example_catalog_parses() {
        let text = include_str!("../../../docs/catalog.example.json");
        let entries = parse_catalog(text).unwrap();
        assert!(entries.len() >= 3);
        assert!(entries.iter().all(|e| e.currency == "INR"));
    }
}
