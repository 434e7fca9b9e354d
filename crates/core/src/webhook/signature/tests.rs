//! Every vector in `../shared/vectors/` (copied byte for byte into `tests/fixtures/vectors`),
//! plus the behaviour cases the providers' own libraries test.

use super::*;

const STRIPE_BODY: &[u8] =
    include_bytes!("../../../tests/fixtures/vectors/stripe_invoiceitem_created_event.json");
const RAZORPAY_BODY: &[u8] =
    include_bytes!("../../../tests/fixtures/vectors/razorpay_payment_authorized_webhook.json");
const STRIPE_HEADER: &str = "t=1533204620,v1=d7373bc68f4bd320b253cd7461f87af6e1cdf1b4d7db1614d8d1d746972d2d0a,v0=63f3a72374a733066c4be69ed7f8e5ac85c22c9f0a6a612ab9a025a9e4ee7eef";

fn at(unix: i64) -> Timestamp {
    Timestamp::from_unix_millis(unix * 1000)
}

fn secret(s: &str) -> Vec<Secret> {
    vec![Secret::new(s)]
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

#[test]
fn the_fixture_bodies_are_byte_exact_copies() {
    assert_eq!(STRIPE_BODY.len(), 569);
    assert_eq!(
        sha256_hex(STRIPE_BODY),
        "1f7199c057af783c020bc84c7b9e49395a0be554209e80d5a912b2dc1569249c"
    );
    assert_eq!(RAZORPAY_BODY.len(), 971);
    assert_eq!(
        sha256_hex(RAZORPAY_BODY),
        "9cc0236491299f34a154292eaed46d94b010f44b22095c034f884ca6a1862bef"
    );
}

#[test]
fn the_stripe_vector_verifies_within_tolerance_on_both_sides() {
    for now in [1_533_204_620, 1_533_204_620 + 300, 1_533_204_620 - 300] {
        assert_eq!(
            verify_stripe(
                Some(STRIPE_HEADER),
                STRIPE_BODY,
                &secret("secret"),
                at(now),
                STRIPE_TOLERANCE
            ),
            Ok(1_533_204_620),
            "now = {now}"
        );
    }
}

#[test]
fn the_stripe_vector_is_too_old_301_seconds_later() {
    assert_eq!(
        verify_stripe(
            Some(STRIPE_HEADER),
            STRIPE_BODY,
            &secret("secret"),
            at(1_533_204_620 + 301),
            STRIPE_TOLERANCE
        ),
        Err(SignatureError::OutsideTolerance)
    );
}

#[test]
fn an_extra_bad_v1_does_not_spoil_a_good_one() {
    let header = format!("{STRIPE_HEADER},v1=bad_signature");
    assert!(
        verify_stripe(
            Some(&header),
            STRIPE_BODY,
            &secret("secret"),
            at(1_533_204_620),
            STRIPE_TOLERANCE
        )
        .is_ok()
    );
}

/// Found by `scripts/fuzz` (stripe_signature, the empty input): the genuine header followed by
/// a stray comma was refused as malformed, where Stripe's libraries skip such an element.
#[test]
fn a_stray_element_without_a_value_does_not_spoil_a_good_v1() {
    for header in [
        format!("{STRIPE_HEADER},"),
        format!(",{STRIPE_HEADER}"),
        format!("{STRIPE_HEADER},garbage,,"),
    ] {
        assert!(
            verify_stripe(
                Some(&header),
                STRIPE_BODY,
                &secret("secret"),
                at(1_533_204_620),
                STRIPE_TOLERANCE
            )
            .is_ok(),
            "{header:?}"
        );
    }
    // Skipping it never makes a forged header pass.
    assert_eq!(
        verify_stripe(
            Some("t=1533204620,,v1=00"),
            STRIPE_BODY,
            &secret("secret"),
            at(1_533_204_620),
            STRIPE_TOLERANCE
        ),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn a_header_with_only_v0_or_without_t_fails() {
    let only_v0 =
        "t=1533204620,v0=63f3a72374a733066c4be69ed7f8e5ac85c22c9f0a6a612ab9a025a9e4ee7eef";
    assert_eq!(
        verify_stripe(
            Some(only_v0),
            STRIPE_BODY,
            &secret("secret"),
            at(1_533_204_620),
            STRIPE_TOLERANCE
        ),
        Err(SignatureError::NoSignature)
    );
    let no_t = "v1=d7373bc68f4bd320b253cd7461f87af6e1cdf1b4d7db1614d8d1d746972d2d0a";
    assert_eq!(
        verify_stripe(
            Some(no_t),
            STRIPE_BODY,
            &secret("secret"),
            at(1_533_204_620),
            STRIPE_TOLERANCE
        ),
        Err(SignatureError::NoTimestamp)
    );
}

#[test]
fn stripe_rejects_other_secrets_changed_bodies_and_missing_headers() {
    let now = at(1_533_204_620);
    assert_eq!(
        verify_stripe(
            Some(STRIPE_HEADER),
            STRIPE_BODY,
            &secret("other"),
            now,
            STRIPE_TOLERANCE
        ),
        Err(SignatureError::Mismatch)
    );
    let mut body = STRIPE_BODY.to_vec();
    body.push(b' ');
    assert_eq!(
        verify_stripe(
            Some(STRIPE_HEADER),
            &body,
            &secret("secret"),
            now,
            STRIPE_TOLERANCE
        ),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_stripe(None, STRIPE_BODY, &secret("secret"), now, STRIPE_TOLERANCE),
        Err(SignatureError::Missing)
    );
    assert_eq!(
        verify_stripe(
            Some("garbage"),
            STRIPE_BODY,
            &secret("secret"),
            now,
            STRIPE_TOLERANCE
        ),
        Err(SignatureError::NoTimestamp)
    );
    assert_eq!(
        verify_stripe(Some(STRIPE_HEADER), STRIPE_BODY, &[], now, STRIPE_TOLERANCE),
        Err(SignatureError::NoSecret)
    );
}

#[test]
fn stripe_accepts_any_configured_secret_for_rotation() {
    let secrets = vec![Secret::new("new-secret"), Secret::new("secret")];
    assert!(
        verify_stripe(
            Some(STRIPE_HEADER),
            STRIPE_BODY,
            &secrets,
            at(1_533_204_620),
            STRIPE_TOLERANCE
        )
        .is_ok()
    );
}

#[test]
fn the_hmac_building_blocks_match_stripe_nodes_vectors() {
    let key = Secret::new("test_secret");
    assert_eq!(
        hmac_hex(&key, b""),
        "f7f9bd47fb987337b5796fdc1fdb9ba221d0d5396814bfcaf9521f43fd8927fd"
    );
    assert_eq!(
        hmac_hex(&key, br#"{"obj1":"hello","obj2":"world"}"#),
        "bebb1a643997f419b315ddba19e6f5411e1ce7f810ba6d3617ce72823092f363"
    );
    assert_eq!(
        hmac_hex(&key, "\u{1F600}".as_bytes()),
        "837da296d05c4fe31f61d5d7ead035099d9585a5bcde87de952012a78f0b0c43"
    );
}

#[test]
fn the_razorpay_webhook_vector_verifies_byte_exact() {
    let sig = "d60e67fd884556c045e9be7dad57903e33efc7172c17c6e3ef77db42d2b366e9";
    assert_eq!(
        verify_razorpay(Some(sig), RAZORPAY_BODY, &secret("key_secret")),
        Ok(())
    );
    assert_eq!(
        verify_razorpay(Some(sig), RAZORPAY_BODY, &secret("other")),
        Err(SignatureError::Mismatch)
    );
    // Re-serialising the body (here: dropping the trailing newline) breaks the signature.
    assert_eq!(
        verify_razorpay(
            Some(sig),
            &RAZORPAY_BODY[..RAZORPAY_BODY.len() - 1],
            &secret("key_secret")
        ),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_razorpay(None, RAZORPAY_BODY, &secret("key_secret")),
        Err(SignatureError::Missing)
    );
    assert_eq!(
        verify_razorpay(Some("zz"), RAZORPAY_BODY, &secret("key_secret")),
        Err(SignatureError::Malformed)
    );
    let rotated = vec![Secret::new("new"), Secret::new("key_secret")];
    assert_eq!(verify_razorpay(Some(sig), RAZORPAY_BODY, &rotated), Ok(()));
}

#[test]
fn the_razorpay_checkout_and_subscription_vectors_verify() {
    let key = Secret::new("key_secret");
    assert_eq!(
        verify_razorpay_checkout(
            "fake_order_id",
            "fake_payment_id",
            "b2335e3b0801106b84a7faff035df56ecffde06918c9ddd1f0fafbb37a51cc89",
            &key
        ),
        Ok(())
    );
    assert_eq!(
        verify_razorpay_checkout(
            "fake_order_id",
            "other_payment",
            "b2335e3b0801106b84a7faff035df56ecffde06918c9ddd1f0fafbb37a51cc89",
            &key
        ),
        Err(SignatureError::Mismatch)
    );
    // The subscription signature is the same construction over "<payment_id>|<subscription_id>".
    assert_eq!(
        verify_razorpay_checkout(
            "pay_IDZNwZZFtnjyym",
            "sub_ID6MOhgkcoHj9I",
            "601f383334975c714c91a7d97dd723eb56520318355863dcf3821c0d07a17693",
            &Secret::new("EnLs21M47BllR3X8PSFtjtbd")
        ),
        Ok(())
    );
}

/// `verify_stripe` of `header` over the Stripe vector's body, under `secret_`, at `now`.
fn vector_at(header: &str, secret_: &str, now: Timestamp) -> Result<i64, SignatureError> {
    verify_stripe(
        Some(header),
        STRIPE_BODY,
        &secret(secret_),
        now,
        STRIPE_TOLERANCE,
    )
}

/// A bogus `v1` element: well-formed hex of the right length that no secret produces.
fn bogus_v1(i: usize) -> String {
    format!("v1={i:064x}")
}

/// `t=<t>`, then `bogus` bogus v1 elements, then the genuine `v1` of the Stripe vector last.
fn header_with_bogus_v1s(t: &str, bogus: usize, genuine_last: bool) -> String {
    let mut elements = vec![format!("t={t}")];
    elements.extend((0..bogus).map(bogus_v1));
    if genuine_last {
        elements
            .push("v1=d7373bc68f4bd320b253cd7461f87af6e1cdf1b4d7db1614d8d1d746972d2d0a".to_owned());
    }
    elements.join(",")
}

/// Found by a hostile black-box run: 2 000 bogus `v1` values over a 1 MiB body cost one full
/// HMAC each (seconds of CPU for one unauthenticated request). Such a header is now refused
/// as it is read, before any MAC — even when the genuine `v1` is among the elements. (The
/// cost itself is measured in `benches/webhook.rs`, not timed here.)
#[test]
fn a_header_with_thousands_of_bogus_v1_values_is_refused_without_computing_a_mac_for_each() {
    let genuine_first = format!(
        "{STRIPE_HEADER},{}",
        (0..2_000).map(bogus_v1).collect::<Vec<_>>().join(",")
    );
    for header in [
        genuine_first,
        header_with_bogus_v1s("1533204620", 2_000, true),
    ] {
        assert_eq!(
            vector_at(&header, "secret", at(1_533_204_620)),
            Err(SignatureError::Malformed)
        );
    }
}

#[test]
fn the_real_v1_last_among_bogus_ones_passes_at_the_element_cap_and_not_one_element_beyond() {
    // `t` and the genuine v1 are two of the elements.
    let at_cap = header_with_bogus_v1s("1533204620", MAX_STRIPE_ELEMENTS - 2, true);
    assert_eq!(
        vector_at(&at_cap, "secret", at(1_533_204_620)),
        Ok(1_533_204_620)
    );
    let beyond = header_with_bogus_v1s("1533204620", MAX_STRIPE_ELEMENTS - 1, true);
    assert_eq!(
        vector_at(&beyond, "secret", at(1_533_204_620)),
        Err(SignatureError::Malformed)
    );
}

/// The timestamp is checked before any MAC, so a stale header costs no HMAC over the body
/// however many signatures it carries; its error is therefore `OutsideTolerance`, where it
/// used to be `Mismatch`.
#[test]
fn an_expired_timestamp_is_refused_as_outside_the_tolerance_even_with_bogus_signatures() {
    let stale = at(1_533_204_620 + 301);
    for header in [
        header_with_bogus_v1s("1533204620", MAX_STRIPE_ELEMENTS - 1, false),
        "t=1533204620,v1=00".to_owned(),
    ] {
        assert_eq!(
            vector_at(&header, "secret", stale),
            Err(SignatureError::OutsideTolerance),
            "{header:?}"
        );
    }
    // The genuine vector under a secret that is not its own: stale first, too.
    assert_eq!(
        vector_at(STRIPE_HEADER, "other", stale),
        Err(SignatureError::OutsideTolerance)
    );
}

/// Found by a hostile black-box run: `now - t` overflowed (a panic in debug builds) for a
/// correctly signed `t=-9223372036854775808`.
#[test]
fn the_most_negative_timestamp_is_outside_the_tolerance_not_a_panic() {
    let key = Secret::new("secret");
    for t in [i64::MIN, i64::MAX] {
        let header = super::super::simulate::stripe_signature(
            &key,
            t,
            std::str::from_utf8(STRIPE_BODY).expect("the fixture is UTF-8"),
        );
        for now in [at(1_533_204_620), at(0)] {
            assert_eq!(
                verify_stripe(
                    Some(&header),
                    STRIPE_BODY,
                    std::slice::from_ref(&key),
                    now,
                    STRIPE_TOLERANCE
                ),
                Err(SignatureError::OutsideTolerance),
                "t = {t}"
            );
        }
    }
}
