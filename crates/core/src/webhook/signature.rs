//! Webhook and checkout signatures, checked on the raw body bytes before anything parses them.
//! MACs are compared in constant time (`Mac::verify_slice`); every configured secret is tried,
//! so a rotation can list the new secret beside the old one while the provider still retries
//! events signed with the old one.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::secret::Secret;
use crate::time::Timestamp;

type HmacSha256 = Hmac<Sha256>;

/// Stripe's default tolerance between the signed timestamp and now.
pub const STRIPE_TOLERANCE: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is missing")]
    Missing,
    #[error("the signature header is malformed")]
    Malformed,
    #[error("the signature header has no timestamp")]
    NoTimestamp,
    #[error("the signature header has no v1 signature")]
    NoSignature,
    #[error("the signed timestamp is outside the tolerance")]
    OutsideTolerance,
    #[error("no signature matches any configured secret")]
    Mismatch,
    #[error("no webhook secret is configured")]
    NoSecret,
}

fn mac(secret: &Secret) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    <HmacSha256 as KeyInit>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
}

/// Whether `tag` is HMAC-SHA256(secret, parts…) for any of `secrets`, in constant time.
fn any_matches(secrets: &[Secret], parts: &[&[u8]], tag: &[u8]) -> bool {
    secrets.iter().any(|s| {
        let mut m = mac(s);
        for p in parts {
            m.update(p);
        }
        m.verify_slice(tag).is_ok()
    })
}

/// Hex HMAC-SHA256 of `message` (for building signatures in tests and the dev `pay` command).
pub fn hmac_hex(secret: &Secret, message: &[u8]) -> String {
    let mut m = mac(secret);
    m.update(message);
    hex::encode(m.finalize().into_bytes())
}

/// Verifies `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]` over `"<t>.<raw body>"`. Passes when
/// any `v1` matches under any secret and `t` is within `tolerance` of `now`.
pub fn verify_stripe(
    header: Option<&str>,
    payload: &[u8],
    secrets: &[Secret],
    now: Timestamp,
    tolerance: Duration,
) -> Result<i64, SignatureError> {
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp: Option<&str> = None;
    let mut signatures: Vec<Vec<u8>> = Vec::new();
    for item in header.split(',') {
        // Like Stripe's own libraries, an element that is not `key=value` (a stray comma) is
        // skipped, as unknown schemes are: it must not stop a matching v1 from counting.
        let Some((k, v)) = item.trim().split_once('=') else {
            continue;
        };
        match k {
            "t" if timestamp.is_none() => timestamp = Some(v),
            // A v1 that is not hex cannot match; another v1 still may.
            "v1" => signatures.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let t_raw = timestamp.ok_or(SignatureError::NoTimestamp)?;
    let t: i64 = t_raw.parse().map_err(|_| SignatureError::Malformed)?;
    if signatures.is_empty() && !header.split(',').any(|i| i.trim().starts_with("v1=")) {
        return Err(SignatureError::NoSignature);
    }
    let matched = signatures
        .iter()
        .any(|sig| any_matches(secrets, &[t_raw.as_bytes(), b".", payload], sig));
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    let skew = (now.unix_seconds() - t).unsigned_abs();
    if skew > tolerance.as_secs() {
        return Err(SignatureError::OutsideTolerance);
    }
    Ok(t)
}

/// Verifies `X-Razorpay-Signature`: hex HMAC-SHA256 of the raw body with the webhook secret.
pub fn verify_razorpay(
    signature: Option<&str>,
    payload: &[u8],
    secrets: &[Secret],
) -> Result<(), SignatureError> {
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let sig = signature.ok_or(SignatureError::Missing)?;
    let tag = hex::decode(sig.trim()).map_err(|_| SignatureError::Malformed)?;
    if any_matches(secrets, &[payload], &tag) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Verifies the signature Razorpay Checkout hands the storefront after a payment:
/// hex HMAC-SHA256 of `"<order_id>|<payment_id>"` with the API key secret.
pub fn verify_razorpay_checkout(
    order_id: &str,
    payment_id: &str,
    signature: &str,
    key_secret: &Secret,
) -> Result<(), SignatureError> {
    let tag = hex::decode(signature.trim()).map_err(|_| SignatureError::Malformed)?;
    let message = [order_id.as_bytes(), b"|", payment_id.as_bytes()];
    if any_matches(std::slice::from_ref(key_secret), &message, &tag) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests;
