use std::time::Duration;

use super::*;

fn load(pairs: &[(&str, &str)], mode: Option<ProviderMode>) -> Result<Config, ConfigError> {
    Config::read(&Env::from_pairs(pairs), mode)
}

const OFFLINE: Option<ProviderMode> = Some(ProviderMode::Offline);

#[test]
fn the_dev_defaults_need_no_variables() {
    let c = load(&[], OFFLINE).unwrap();
    assert_eq!(c.http.api_prefix, "/api/v1");
    assert_eq!(c.payments.mode, ProviderMode::Offline);
    assert_eq!(c.cleanup.policy.payment_window, Duration::from_secs(1800));
    assert_eq!(c.cleanup.batch_limit, 100);
    assert!(!c.production);
}

#[test]
fn a_lambda_must_be_told_its_provider_mode() {
    let e = load(&[], None).unwrap_err();
    assert!(e.to_string().contains("PAYMENT_PROVIDER_MODE"), "{e}");
    assert!(load(&[("PAYMENT_PROVIDER_MODE", "sandbox")], None).is_err());
}

#[test]
fn live_mode_requires_credentials_for_at_least_one_provider() {
    let e = load(&[("PAYMENT_PROVIDER_MODE", "live")], None).unwrap_err();
    assert!(e.to_string().contains("STRIPE_SECRET_KEY"), "{e}");
    let e = load(
        &[
            ("PAYMENT_PROVIDER_MODE", "live"),
            ("STRIPE_SECRET_KEY", "sk_test_x"),
        ],
        None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("CHECKOUT_SUCCESS_URL"), "{e}");
    let c = load(
        &[
            ("PAYMENT_PROVIDER_MODE", "live"),
            ("RAZORPAY_KEY_ID", "rzp_test_1"),
            ("RAZORPAY_KEY_SECRET", "s3cret"),
        ],
        None,
    )
    .unwrap();
    assert!(c.payments.stripe.is_none());
    assert_eq!(c.payments.razorpay.unwrap().api_base, RAZORPAY_API_BASE);
    let e = load(
        &[
            ("PAYMENT_PROVIDER_MODE", "live"),
            ("RAZORPAY_KEY_ID", "rzp_test_1"),
        ],
        None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("RAZORPAY_KEY_SECRET"), "{e}");
    let arn = load(
        &[
            ("PAYMENT_PROVIDER_MODE", "live"),
            (
                "STRIPE_SECRET_ARN",
                "arn:aws:secretsmanager:ap-south-1:1:secret:stripe",
            ),
            ("CHECKOUT_SUCCESS_URL", "https://s/ok"),
            ("CHECKOUT_CANCEL_URL", "https://s/no"),
        ],
        None,
    )
    .unwrap();
    assert!(
        arn.payments.stripe.is_some(),
        "a Secrets Manager ARN enables the provider"
    );
    assert_eq!(
        arn.secrets.stripe_arn.as_deref(),
        Some("arn:aws:secretsmanager:ap-south-1:1:secret:stripe")
    );
    let e = load(&[("SECRETS_TTL_SECONDS", "901")], OFFLINE).unwrap_err();
    assert!(e.to_string().contains("SECRETS_TTL_SECONDS"));
}

#[test]
fn bad_values_are_named() {
    for (name, value) in [
        ("API_PREFIX", "api"),
        ("API_PREFIX", "/api//v1"),
        ("CLEANUP_FAILED_PAYMENT_MINUTES", "-3"),
        ("CLEANUP_BATCH_LIMIT", "lots"),
        ("CLEANUP_BATCH_LIMIT", "0"),
        ("STRIPE_WEBHOOK_TOLERANCE_SECONDS", "0"),
        ("APP_ENV", "staging"),
        ("LATE_PAYMENT_POLICY", "keep"),
        ("RECONCILE_AFTER_MINUTES", "1441"),
        ("EVENT_RETENTION_DAYS", "3"),
        ("EVENT_RETENTION_DAYS", "401"),
        ("SHIPROCKET_DRY_RUN", "maybe"),
    ] {
        let e = load(&[(name, value)], OFFLINE).unwrap_err();
        assert!(e.to_string().contains(name), "{name}={value}: {e}");
    }
    let c = load(
        &[
            ("API_PREFIX", "/shop/v2/"),
            ("CLEANUP_FAILED_PAYMENT_MINUTES", "0"),
            ("CLEANUP_BATCH_LIMIT", "25"),
            ("APP_ENV", "prod"),
            ("LATE_PAYMENT_POLICY", "review"),
            ("RECONCILE_AFTER_MINUTES", "0"),
            ("EVENT_RETENTION_DAYS", "90"),
        ],
        OFFLINE,
    )
    .unwrap();
    let policy = &c.cleanup.policy;
    assert_eq!(
        policy.late_payment,
        oms_core::order::LatePaymentPolicy::Review
    );
    assert_eq!(policy.reconcile_after, Duration::ZERO);
    assert_eq!(policy.event_retention, Duration::from_secs(90 * 86_400));
    assert_eq!(c.http.api_prefix, "/shop/v2");
    assert_eq!(c.cleanup.policy.payment_window, Duration::ZERO);
    assert_eq!(c.cleanup.batch_limit, 25);
    assert!(c.production);
}

#[test]
fn webhook_secrets_list_rotations_and_have_dev_defaults_only_offline() {
    let c = load(
        &[("STRIPE_WEBHOOK_SECRET", "whsec_new, whsec_old")],
        OFFLINE,
    )
    .unwrap();
    let stripe: Vec<&str> = c
        .secrets
        .env
        .stripe
        .webhook_secrets
        .iter()
        .map(|s| s.expose())
        .collect();
    assert_eq!(stripe, vec!["whsec_new", "whsec_old"]);
    assert_eq!(
        c.secrets.env.razorpay.webhook_secrets[0].expose(),
        DEV_RAZORPAY_WEBHOOK_SECRET
    );
    assert_eq!(
        c.secrets.env.razorpay.key_id.as_deref(),
        Some(OFFLINE_RAZORPAY_KEY_ID)
    );
    let live = load(
        &[
            ("PAYMENT_PROVIDER_MODE", "live"),
            ("RAZORPAY_KEY_ID", "rzp_live_1"),
            ("RAZORPAY_KEY_SECRET", "k"),
        ],
        None,
    )
    .unwrap();
    assert!(
        live.secrets.env.stripe.webhook_secrets.is_empty(),
        "no dev secret in live mode"
    );
    assert!(live.secrets.env.razorpay.webhook_secrets.is_empty());
    assert_eq!(
        live.secrets
            .env
            .razorpay
            .api_secret
            .clone()
            .unwrap()
            .expose(),
        "k"
    );
}

#[test]
fn a_user_pool_needs_an_https_issuer_and_at_least_one_app_client() {
    assert!(load(&[], OFFLINE).unwrap().http.cognito.is_none());
    let c = load(
        &[
            (
                "COGNITO_ISSUER",
                "https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_X/",
            ),
            ("COGNITO_AUDIENCE", "web, mobile"),
        ],
        OFFLINE,
    )
    .unwrap()
    .http
    .cognito
    .unwrap();
    assert_eq!(
        c.jwks_url(),
        "https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_X/.well-known/jwks.json"
    );
    assert_eq!(c.audiences, vec!["web", "mobile"]);
    for (pairs, named) in [
        (
            &[("COGNITO_ISSUER", "https://cognito-idp.x/p")][..],
            "COGNITO_AUDIENCE",
        ),
        (&[("COGNITO_AUDIENCE", "web")][..], "COGNITO_ISSUER"),
        (
            &[
                ("COGNITO_ISSUER", "http://idp.example.com/p"),
                ("COGNITO_AUDIENCE", "web"),
            ][..],
            "COGNITO_ISSUER",
        ),
        (
            &[
                ("COGNITO_ISSUER", "https://cognito-idp.x/p"),
                ("COGNITO_AUDIENCE", " , "),
            ][..],
            "COGNITO_AUDIENCE",
        ),
    ] {
        let e = load(pairs, OFFLINE).unwrap_err();
        assert!(e.to_string().contains(named), "{pairs:?}: {e}");
    }
}

#[test]
fn secrets_do_not_appear_in_debug_output() {
    let c = load(
        &[
            ("PAYMENT_PROVIDER_MODE", "live"),
            ("RAZORPAY_KEY_ID", "rzp_test_1"),
            ("RAZORPAY_KEY_SECRET", "very-secret-value"),
        ],
        None,
    )
    .unwrap();
    assert!(!format!("{c:?}").contains("very-secret-value"));
}

#[test]
fn the_offline_configuration_is_valid() {
    assert_eq!(Config::offline().payments.mode, ProviderMode::Offline);
}
