//! Payment provider adapters for [`oms_core::ports::PaymentProvider`]:
//! - [`stripe::StripeCheckout`]: Stripe Checkout Sessions API (hosted payment page);
//! - [`razorpay::RazorpayOrders`]: Razorpay Orders API (order for the checkout widget);
//! - [`shipping`]: Shiprocket (with its dry run), no shipping, and the router between them;
//! - [`notify`]: WhatsApp Cloud API messages (with a dry run);
//! - [`offline::OfflineProvider`]: a **stand-in** for local runs and tests that talks to no
//!   network and returns provider-shaped ids.

pub mod credentials;
pub mod notify;
pub mod offline;
pub mod razorpay;
pub mod shipping;
pub mod stripe;

use std::time::Duration;

/// The HTTP client every integration shares.
pub use reqwest::Client as HttpClient;

use oms_core::ports::{ProviderError, SecretSource};
use oms_core::{ProviderKind, Secret};
use sha2::{Digest, Sha256};

/// The provider's API secret, read from the secret source at each call (it caches).
async fn api_secret(
    secrets: &dyn SecretSource,
    kind: ProviderKind,
) -> Result<Secret, ProviderError> {
    secrets
        .provider(kind)
        .await
        .map_err(|e| ProviderError::Unavailable(format!("{}: {e}", kind.as_str())))?
        .api_secret
        .ok_or_else(|| {
            ProviderError::Unavailable(format!("{}: no API secret configured", kind.as_str()))
        })
}

/// One HTTP client per process, shared by the live adapters (and the Cognito key fetch):
/// connection reuse matters on Lambda, and so does building the TLS configuration once at cold
/// start rather than once per adapter. Cheap to clone (it is a handle).
pub fn http_client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(3))
                .timeout(Duration::from_secs(10))
                .user_agent(concat!("oms/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_else(|_| reqwest::Client::new())
        })
        .clone()
}

/// Base-62 characters derived from `seed` (SHA-256 in rounds): the same seed always gives the
/// same string, distinct seeds distinct strings in practice.
pub(crate) fn derived(seed: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(len);
    let mut round = 0u32;
    while out.len() < len {
        let digest = Sha256::new()
            .chain_update(seed.as_bytes())
            .chain_update(round.to_be_bytes())
            .finalize();
        for b in digest.iter() {
            if out.len() == len {
                break;
            }
            out.push(ALPHABET[usize::from(*b) % ALPHABET.len()] as char);
        }
        round += 1;
    }
    out
}

/// At most `max` characters of `s` (providers count characters, not bytes), cut on a character
/// boundary: free text must not make a provider refuse the request it rides on.
pub(crate) fn truncated(s: &str, max: usize) -> &str {
    s.char_indices().nth(max).map_or(s, |(at, _)| &s[..at])
}

/// For a call carrying an idempotency key, a 409 means the provider is still working on an
/// earlier attempt with the same key (Stripe `idempotency_key_in_use`, Razorpay "a prior request
/// is still being processed"): its outcome is unknown and both say to retry, so it is not a
/// refusal.
pub(crate) fn in_flight_is_retryable(e: ProviderError) -> ProviderError {
    match e {
        ProviderError::Rejected {
            status: 409,
            message,
        } => ProviderError::Unavailable(message),
        e => e,
    }
}

/// Network errors, timeouts, 429 and 5xx are worth retrying; other statuses are refusals.
async fn classify(
    provider: &str,
    res: Result<reqwest::Response, reqwest::Error>,
) -> Result<serde_json::Value, ProviderError> {
    let res = res.map_err(|e| ProviderError::Unavailable(format!("{provider}: {e}")))?;
    let status = res.status();
    let body: serde_json::Value = res.json().await.unwrap_or(serde_json::Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let message = body
        .pointer("/error/message")
        .or_else(|| body.pointer("/error/description"))
        .and_then(|m| m.as_str())
        .unwrap_or("no error message")
        .to_owned();
    if status.as_u16() == 429 || status.is_server_error() {
        Err(ProviderError::Unavailable(format!(
            "{provider} answered {status}: {message}"
        )))
    } else {
        Err(ProviderError::Rejected {
            status: status.as_u16(),
            message: format!("{provider}: {message}"),
        })
    }
}

/// A provider's refund object: its id (which must carry the provider's documented `prefix`),
/// amount and status word. An answer without a proper id, amount or currency cannot be
/// recorded, yet the refund may exist: `Unavailable` (outcome unknown), never `Rejected`.
fn refund_parts<'a>(
    provider: &str,
    body: &'a serde_json::Value,
    prefix: &str,
) -> Result<(String, oms_core::Money, Option<&'a str>), ProviderError> {
    let unreadable =
        |what: &str| ProviderError::Unavailable(format!("{provider}: refund without {what}"));
    let id = body["id"]
        .as_str()
        .filter(|id| id.starts_with(prefix))
        .ok_or_else(|| unreadable("an id"))?;
    let amount = reported_money(&body["amount"], &body["currency"])
        .ok_or_else(|| unreadable("a readable amount"))?;
    Ok((id.to_owned(), amount, body["status"].as_str()))
}

/// An amount in minor units and a currency code as a provider reports them; `None` when either
/// is missing or not a valid amount.
fn reported_money(
    minor: &serde_json::Value,
    currency: &serde_json::Value,
) -> Option<oms_core::Money> {
    let currency = currency
        .as_str()
        .and_then(oms_core::Currency::parse_reported)?;
    oms_core::Money::new(minor.as_i64()?, currency).ok()
}

/// Whether `id` may become a path segment: a provider id is `[A-Za-z0-9_]+`, and anything else
/// could address another resource.
fn is_plain_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}
