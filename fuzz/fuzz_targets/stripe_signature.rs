//! The `Stripe-Signature` header parser and verifier on hostile input: the first line of the
//! input is the header, the rest the body. It must never panic; a header it did not make never
//! verifies (unless it carries the right tag); and the header Stripe would send for the same
//! body always verifies, also with the fuzzed elements appended (within the element cap).
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use oms_core::webhook::signature::{MAX_STRIPE_ELEMENTS, hmac_hex, verify_stripe};
use oms_core::webhook::simulate::stripe_signature;
use oms_core::{Secret, Timestamp};

const NOW: i64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let header = String::from_utf8_lossy(&data[..split]);
    let body = data.get(split + 1..).unwrap_or_default();
    let secret = Secret::new("whsec_fuzz");
    let secrets = [secret.clone()];
    let now = Timestamp::from_unix_millis(NOW * 1000);
    let tolerance = Duration::from_secs(300);

    let forged = verify_stripe(Some(&header), body, &secrets, now, tolerance);
    if let Ok(t) = forged {
        let mut signed = format!("{t}.").into_bytes();
        signed.extend_from_slice(body);
        assert!(
            header.contains(&hmac_hex(&secret, &signed)),
            "a header without the right tag verified: {header:?}"
        );
    }

    if let Ok(text) = std::str::from_utf8(body) {
        let genuine = stripe_signature(&secret, NOW, text);
        assert!(verify_stripe(Some(&genuine), body, &secrets, now, tolerance).is_ok());
        // Extra elements (other schemes, other v1 tags) do not stop a matching v1 from counting,
        // unless they name another timestamp or go past the element cap (refused unread).
        let padded = format!("{genuine},{header}");
        if !header.contains("t=") && padded.split(',').count() <= MAX_STRIPE_ELEMENTS {
            assert!(
                verify_stripe(Some(&padded), body, &secrets, now, tolerance).is_ok(),
                "{padded:?}"
            );
        }
    }
});
