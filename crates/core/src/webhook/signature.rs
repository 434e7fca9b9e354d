//! Webhook and checkout signatures, checked on the raw body bytes before anything parses them.
//! MACs are compared in constant time (`Mac::verify_slice`, or `subtle` where one MAC is
//! compared with several candidate tags); every configured secret is tried, so a rotation can
//! list the new secret beside the old one while the provider still retries events signed with
//! the old one. Each secret costs one MAC over the body, whatever the request carries.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
// Already a direct dependency of this crate (`ids` compares tokens with it): it lets one
// finalised MAC be compared with each `v1` in constant time, where `Mac::verify_slice` would
// consume the MAC and force one recomputation over the body per candidate.
use subtle::{Choice, ConstantTimeEq};

use crate::secret::Secret;
use crate::time::Timestamp;

type HmacSha256 = Hmac<Sha256>;

/// Stripe's default tolerance between the signed timestamp and now.
pub const STRIPE_TOLERANCE: Duration = Duration::from_secs(300);

/// The most comma-separated elements a `Stripe-Signature` may have; more is `Malformed`.
/// Stripe sends `t`, one `v1` per secret active on the endpoint (two while a rolled secret's
/// old value lives on) and, in test mode, a `v0`: a handful. 64 leaves room for schemes Stripe
/// may add, while what a hostile header can make us do per element (decode a tag, compare it
/// once per secret) stays negligible next to the one HMAC per secret over the body
/// (docs/benchmarks.md, "Refusing a hostile Stripe-Signature").
pub const MAX_STRIPE_ELEMENTS: usize = 64;

/// HMAC-SHA256 tags are 32 bytes.
const TAG_LEN: usize = 32;

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
/// `t` is within `tolerance` of `now` and any `v1` matches under any secret.
///
/// Everything in the header is the caller's, and the caller is not yet authenticated, so the
/// work done before refusing is bounded by the secrets configured, never by the header: at
/// most [`MAX_STRIPE_ELEMENTS`] elements are read (more is `Malformed`), the timestamp is
/// checked before any MAC (a stale header is `OutsideTolerance` whatever its signatures), and
/// the body is MACed once per secret, that tag then compared with every `v1`.
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
    let mut saw_v1 = false;
    let mut signatures: Vec<[u8; TAG_LEN]> = Vec::new();
    for (n, item) in header.split(',').enumerate() {
        if n == MAX_STRIPE_ELEMENTS {
            return Err(SignatureError::Malformed);
        }
        // Like Stripe's own libraries, an element that is not `key=value` (a stray comma) is
        // skipped, as unknown schemes are: it must not stop a matching v1 from counting.
        let Some((k, v)) = item.trim().split_once('=') else {
            continue;
        };
        match k {
            "t" if timestamp.is_none() => timestamp = Some(v),
            "v1" => {
                saw_v1 = true;
                // A v1 that is not 32 bytes of hex cannot match; another v1 still may.
                let mut tag = [0; TAG_LEN];
                if hex::decode_to_slice(v, &mut tag).is_ok() {
                    signatures.push(tag);
                }
            }
            _ => {}
        }
    }
    let t_raw = timestamp.ok_or(SignatureError::NoTimestamp)?;
    let t: i64 = t_raw.parse().map_err(|_| SignatureError::Malformed)?;
    if !saw_v1 {
        return Err(SignatureError::NoSignature);
    }
    // `abs_diff` is exact over all of i64: `now - t` overflowed for a signed `t` near i64::MIN.
    if now.unix_seconds().abs_diff(t) > tolerance.as_secs() {
        return Err(SignatureError::OutsideTolerance);
    }
    let matched = secrets.iter().any(|s| {
        let mut m = mac(s);
        m.update(t_raw.as_bytes());
        m.update(b".");
        m.update(payload);
        let expected = m.finalize().into_bytes();
        // Every candidate is compared, in constant time, so the time taken says nothing about
        // which v1, or how much of it, came close.
        signatures
            .iter()
            .fold(Choice::from(0), |found, sig| {
                found | expected.as_slice().ct_eq(sig)
            })
            .into()
    });
    if matched {
        Ok(t)
    } else {
        Err(SignatureError::Mismatch)
    }
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
