//! Webhook CPU: what the payment-webhook Lambda spends on one realistic 3 KB Stripe
//! `checkout.session.completed` delivery — verify the signature on the raw bytes, normalise the
//! event, decide the order's transition — next to the bare HMAC-SHA256 over the same signed
//! bytes, the floor no implementation can go below. Then a hostile `Stripe-Signature` over a
//! 1 MiB body: what refusing it costs next to accepting a genuine one and next to one bare HMAC.
//! `cargo bench -p oms-core --bench webhook`; figures in docs/benchmarks.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hmac::{KeyInit, Mac};
use oms_core::app::webhook::apply_action;
use oms_core::webhook::signature::{MAX_STRIPE_ELEMENTS, SignatureError, verify_stripe};
use oms_core::webhook::{PaymentAction, simulate, stripe};
use oms_core::{Secret, Timestamp};
use oms_memory::fixtures;

/// A live-mode event as Stripe sends it (compact JSON, 2 977 bytes), for the order below.
const BODY: &[u8] = include_bytes!("fixtures/checkout_session_completed.json");
const ORDER_ID: &str = "ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0";
const SIGNED_AT: i64 = 1_800_000_100;

/// The floor every verification is compared with: one bare HMAC-SHA256 of the signed bytes.
fn hmac_floor(secret: &Secret, signed: &[u8]) -> impl Sized {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("any key length");
    mac.update(signed);
    black_box(mac.finalize().into_bytes())
}

fn webhook(c: &mut Criterion) {
    let secret = Secret::new("whsec_bench_0123456789abcdef0123456789abcdef");
    let secrets = [secret.clone()];
    let body = std::str::from_utf8(BODY).expect("the fixture is UTF-8");
    let header = simulate::stripe_signature(&secret, SIGNED_AT, body);
    let now = Timestamp::from_unix_millis(SIGNED_AT * 1000 + 800);
    let tolerance = Duration::from_secs(300);
    let order = fixtures::order(
        ORDER_ID,
        "user-bench",
        &[("SAREE-KANJI-RED", 1, 1_299_900)],
        Timestamp::from_unix_millis(1_800_000_000_000),
    );
    // The bench measures the path that pays the order; make sure it does.
    let event = stripe::normalise(BODY).expect("the fixture is a readable event");
    assert!(matches!(event.action, PaymentAction::Succeeded { .. }));
    assert_eq!(
        event.link.order_id.as_ref().map(|o| o.as_str()),
        Some(ORDER_ID)
    );
    let mut paid = order.clone();
    apply_action(&mut paid, &event.action, false, now).expect("the fixture pays the order");
    assert!(!paid.requires_review(), "the amount matches: no review");

    let signed: Vec<u8> = [format!("{SIGNED_AT}.").as_bytes(), BODY].concat();
    let mut g = c.benchmark_group("webhook_3kb");
    g.throughput(Throughput::Bytes(BODY.len() as u64));
    g.bench_function("hmac_sha256_floor", |b| {
        b.iter(|| hmac_floor(&secret, black_box(&signed)))
    });
    g.bench_function("verify", |b| {
        b.iter(|| verify_stripe(Some(&header), black_box(BODY), &secrets, now, tolerance).unwrap())
    });
    g.bench_function("normalise", |b| {
        b.iter(|| stripe::normalise(black_box(BODY)).unwrap())
    });
    g.bench_function("decide", |b| {
        b.iter(|| {
            let mut o = order.clone();
            apply_action(&mut o, black_box(&event.action), false, now).unwrap()
        })
    });
    g.bench_function("verify_parse_decide", |b| {
        b.iter(|| {
            verify_stripe(Some(&header), black_box(BODY), &secrets, now, tolerance).unwrap();
            let event = stripe::normalise(BODY).unwrap();
            let mut o = order.clone();
            apply_action(&mut o, &event.action, false, now).unwrap()
        })
    });
    g.finish();
}

/// An unauthenticated caller controls both the body (up to `oms_http::json::MAX_BODY_BYTES`,
/// 1 MiB) and the header; before the element cap, 2 000 bogus `v1` values cost 2 000 HMACs over
/// the body.
fn hostile_stripe_signature(c: &mut Criterion) {
    let secret = Secret::new("whsec_bench_0123456789abcdef0123456789abcdef");
    let secrets = [secret.clone()];
    // Verification never parses the body, so its content does not matter, only its size.
    let body = "x".repeat(1 << 20);
    let now = Timestamp::from_unix_millis(SIGNED_AT * 1000 + 800);
    let tolerance = Duration::from_secs(300);
    let good = simulate::stripe_signature(&secret, SIGNED_AT, &body);
    let bogus = |n: usize| {
        std::iter::once(format!("t={SIGNED_AT}"))
            .chain((0..n).map(|i| format!("v1={i:064x}")))
            .collect::<Vec<_>>()
            .join(",")
    };
    let thousands = bogus(2_000);
    // The most bogus v1 values a header may carry: every element but `t`.
    let at_cap = bogus(MAX_STRIPE_ELEMENTS - 1);
    let verify = |header: &str| {
        verify_stripe(
            Some(header),
            black_box(body.as_bytes()),
            &secrets,
            now,
            tolerance,
        )
    };
    // Each benchmark measures the outcome it names.
    assert_eq!(verify(&good), Ok(SIGNED_AT));
    assert_eq!(verify(&thousands), Err(SignatureError::Malformed));
    assert_eq!(verify(&at_cap), Err(SignatureError::Mismatch));

    let signed: Vec<u8> = [format!("{SIGNED_AT}.").as_bytes(), body.as_bytes()].concat();
    let mut g = c.benchmark_group("stripe_signature_1mib");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("hmac_sha256_floor", |b| {
        b.iter(|| hmac_floor(&secret, black_box(&signed)))
    });
    g.bench_function("accept_one_v1", |b| b.iter(|| verify(&good)));
    g.bench_function("refuse_2000_bogus_v1", |b| b.iter(|| verify(&thousands)));
    g.bench_function("refuse_63_bogus_v1_at_cap", |b| b.iter(|| verify(&at_cap)));
    g.finish();
}

criterion_group!(benches, webhook, hostile_stripe_signature);
criterion_main!(benches);
