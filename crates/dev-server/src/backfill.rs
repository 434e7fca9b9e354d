//! `dev-server backfill --provider P --since T [--until T] [--undelivered]`: the operator's
//! command for events whose webhook never arrived. It calls a running stack's
//! `POST /admin/backfill` page after page, handing each answer's `nextCursor` back, until there
//! is none, and prints what each page applied. Against the local dev server it mints its own
//! admin token; against a deployed stack (`--api`) it takes an admin's JWT (`--token` or
//! `$OMS_ADMIN_TOKEN`). Safe to run again: what was applied is a duplicate the second time.

use std::time::Duration;

use serde_json::{Value, json};

use crate::load_catalog::TOKEN_ENV;
use crate::{DevSettings, mint_token};

/// Tries per page when the stack answers 503 or cannot be reached: a page is safe to repeat.
const ATTEMPTS: u32 = 3;

/// Pages before the command gives up: 100 000 events is far beyond Stripe's 30 days of a shop
/// this size, so more means a cursor that does not advance.
const MAX_PAGES: u32 = 1_000;

/// `dev-server backfill`'s arguments.
#[derive(Clone, PartialEq, Eq, clap::Args)]
pub struct BackfillArgs {
    /// Whose events to list
    #[arg(long, value_parser = ["stripe", "razorpay"])]
    pub provider: String,
    /// From when (RFC 3339, e.g. 2026-11-23T00:00:00Z; Stripe keeps 30 days)
    #[arg(long, value_name = "RFC3339")]
    pub since: String,
    /// Until when [default: now]
    #[arg(long, value_name = "RFC3339")]
    pub until: Option<String>,
    /// Only events whose webhook delivery failed (Stripe only)
    #[arg(long)]
    pub undelivered: bool,
    /// A deployed stack's API base, API_PREFIX included (e.g. https://…/api/v1) [default: the
    /// local dev server]
    #[arg(long, value_name = "URL")]
    pub api: Option<String>,
    /// An admin's JWT for --api [default: $OMS_ADMIN_TOKEN]
    #[arg(long, value_name = "JWT")]
    pub token: Option<String>,
}

impl std::fmt::Debug for BackfillArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackfillArgs")
            .field("provider", &self.provider)
            .field("since", &self.since)
            .field("until", &self.until)
            .field("undelivered", &self.undelivered)
            .field("api", &self.api)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Where to send the pages and with which token: `--api` with an admin's token, or the local
/// dev server (from `settings`) with a token minted here.
pub fn target(
    args: &BackfillArgs,
    settings: Option<&DevSettings>,
    env_token: Option<String>,
) -> Result<(String, String), String> {
    let given = args
        .token
        .clone()
        .or(env_token)
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    match (&args.api, settings) {
        (Some(api), _) => {
            if !(api.starts_with("http://") || api.starts_with("https://")) {
                return Err(format!("--api must be an http(s) URL, not {api}"));
            }
            let token = given.ok_or_else(|| format!("--token (or {TOKEN_ENV}) is required"))?;
            Ok((api.trim_end_matches('/').to_owned(), token))
        }
        (None, Some(s)) => {
            let api = format!("http://127.0.0.1:{}{}", s.port, s.config.http.api_prefix);
            let token = given.unwrap_or_else(|| {
                mint_token(
                    &s.jwt_secret,
                    "dev-backfill",
                    None,
                    &["admin"],
                    Duration::from_secs(600),
                )
            });
            Ok((api, token))
        }
        (None, None) => Err("the local settings could not be read; pass --api".into()),
    }
}

/// The totals of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub pages: u32,
    pub listed: u64,
    pub applied: u64,
    pub already_known: u64,
    pub unmatched: u64,
    pub ignored: u64,
}

impl std::fmt::Display for Totals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "backfill done: {} page(s), {} listed, {} applied, {} already known, {} unmatched, {} ignored",
            self.pages, self.listed, self.applied, self.already_known, self.unmatched, self.ignored
        )
    }
}

/// Calls `POST {api}/admin/backfill` until no `nextCursor` comes back; `print` gets a line per
/// page and per correction.
pub async fn run(
    api: &str,
    token: &str,
    args: &BackfillArgs,
    mut print: impl FnMut(&str),
) -> Result<Totals, String> {
    let http = reqwest::Client::new();
    let mut totals = Totals::default();
    let mut cursor: Option<String> = None;
    loop {
        if totals.pages == MAX_PAGES {
            return Err(format!(
                "stopped after {MAX_PAGES} pages; the cursor does not seem to advance"
            ));
        }
        let mut body = json!({ "provider": args.provider, "since": args.since });
        if let Some(until) = &args.until {
            body["until"] = until.as_str().into();
        }
        if args.undelivered {
            body["undeliveredOnly"] = true.into();
        }
        if let Some(c) = &cursor {
            body["cursor"] = c.as_str().into();
        }
        let page = page(&http, api, token, &body).await?;
        totals.pages += 1;
        let n = |k: &str| page[k].as_u64().unwrap_or(0);
        totals.listed += n("listed");
        totals.applied += n("applied");
        totals.already_known += n("alreadyKnown");
        totals.unmatched += n("unmatched");
        totals.ignored += n("ignored");
        print(&format!(
            "page {}: {} listed, {} applied, {} already known, {} unmatched, {} ignored",
            totals.pages,
            n("listed"),
            n("applied"),
            n("alreadyKnown"),
            n("unmatched"),
            n("ignored"),
        ));
        for c in page["corrections"].as_array().into_iter().flatten() {
            print(&format!(
                "  applied {} {} to order {}",
                c["type"].as_str().unwrap_or("?"),
                c["eventId"].as_str().unwrap_or("?"),
                c["orderId"].as_str().unwrap_or("?"),
            ));
        }
        match page["nextCursor"].as_str() {
            Some(next) if cursor.as_deref() == Some(next) => {
                return Err(format!("the cursor {next} came back unchanged"));
            }
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(totals),
        }
    }
}

/// One page, tried again when the stack answers 503 or cannot be reached.
async fn page(
    http: &reqwest::Client,
    api: &str,
    token: &str,
    body: &Value,
) -> Result<Value, String> {
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
        }
        let res = http
            .post(format!("{api}/admin/backfill"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await;
        match res {
            Err(e) => last = format!("cannot reach {api}: {e}"),
            Ok(res) => {
                let status = res.status();
                let answer: Value = res.json().await.unwrap_or(Value::Null);
                if status.is_success() {
                    return Ok(answer);
                }
                last = format!("POST /admin/backfill -> {status} {answer}");
                if status.as_u16() != 503 {
                    break;
                }
            }
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{Cli, Command};

    fn parse(args: &[&str]) -> Result<BackfillArgs, clap::Error> {
        let cli = Cli::try_parse_from(["dev-server", "backfill"].iter().chain(args))?;
        match cli.subcommand() {
            Command::Backfill(a) => Ok(a),
            other => panic!("not backfill: {other:?}"),
        }
    }

    #[test]
    fn backfill_arguments_parse_and_refuse_nonsense() {
        let a = parse(&[
            "--provider",
            "stripe",
            "--since",
            "2027-01-01T00:00:00Z",
            "--undelivered",
        ])
        .unwrap();
        assert_eq!(
            (
                a.provider.as_str(),
                a.since.as_str(),
                a.undelivered,
                a.until
            ),
            ("stripe", "2027-01-01T00:00:00Z", true, None)
        );
        let b = parse(&[
            "--provider",
            "razorpay",
            "--since",
            "2027-01-01T00:00:00Z",
            "--until",
            "2027-01-02T00:00:00Z",
            "--api",
            "https://api.example/api/v1",
        ])
        .unwrap();
        assert_eq!(b.until.as_deref(), Some("2027-01-02T00:00:00Z"));
        for bad in [
            &[][..],
            &["--provider", "stripe"],
            &["--since", "2027-01-01T00:00:00Z"],
            &["--provider", "paypal", "--since", "2027-01-01T00:00:00Z"],
            &["--provider", "stripe", "--since", "x", "--bogus"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_deployed_stack_needs_an_admin_token_and_an_http_url() {
        let mut a = parse(&["--provider", "stripe", "--since", "2027-01-01T00:00:00Z"]).unwrap();
        a.api = Some("https://api.example/api/v1/".into());
        assert!(target(&a, None, None).is_err(), "no token");
        assert_eq!(
            target(&a, None, Some("jwt".into())).unwrap(),
            ("https://api.example/api/v1".to_owned(), "jwt".to_owned())
        );
        a.api = Some("ftp://api.example".into());
        assert!(target(&a, None, Some("jwt".into())).is_err());
        a.api = None;
        assert!(target(&a, None, Some("jwt".into())).is_err(), "no settings");
        a.token = Some("jwt-not-to-be-shown".into());
        assert!(!format!("{a:?}").contains("jwt-not-to-be-shown"));
    }
}
