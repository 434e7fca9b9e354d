//! `dev-server pay <orderId> …`: what `stripe trigger` is for Stripe, for both providers. It
//! reads the order from the running dev server, builds the provider-shaped event a real payment
//! (or failure, or refund) would produce, signs it with the configured webhook secret and posts
//! it to the server's webhook route, exactly as the provider would.

use oms_app::system::{RandomIds, SystemClock};
use oms_core::ports::{Clock, IdGenerator};
use oms_core::webhook::simulate;
use oms_core::{Currency, Money, Secret};
use serde_json::Value;

use crate::{AdminRead, DevSettings, read_order_as_admin};

/// `dev-server pay`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct PayArgs {
    /// The order (its `orderId`)
    #[arg(value_name = "ORDER_ID")]
    pub order_id: String,
    /// Whose event to send [default: the order's own provider]
    #[arg(long, value_parser = ["stripe", "razorpay"])]
    pub provider: Option<String>,
    /// Pay this many minor units instead of the order's total (the order is then held for review)
    #[arg(long, value_name = "MINOR")]
    pub amount: Option<i64>,
    /// Send a payment failure
    #[arg(long, conflicts_with_all = ["refund", "dispute"])]
    pub fail: bool,
    /// Send a chargeback of the whole payment: opened, or closed won or lost (the same dispute
    /// each time for one order)
    #[arg(long, value_name = "STATE", value_parser = ["open", "won", "lost"], conflicts_with = "refund")]
    pub dispute: Option<String>,
    /// Send a refund of this many minor units
    #[arg(long, value_name = "MINOR")]
    pub refund: Option<i64>,
    /// Pay (or, with --fail, fail) at the offline provider's checkout but lose the webhook:
    /// the provider holds the payment, the server is never told, only reconciliation finds it
    #[arg(long, conflicts_with_all = ["refund", "dispute", "amount", "provider"])]
    pub no_deliver: bool,
    /// The running dev server [default: http://127.0.0.1:$PORT]
    #[arg(long, value_name = "BASE")]
    pub url: Option<String>,
}

/// A provider-looking id derived from the order id, so repeated runs name the same payment.
fn derived(prefix: &str, order_id: &str) -> String {
    let tail: String = order_id
        .trim_start_matches("ord_")
        .chars()
        .rev()
        .take(14)
        .collect();
    format!("{prefix}{tail}")
}

/// Runs the command; returns what to print.
pub async fn run(settings: &DevSettings, args: PayArgs) -> Result<String, String> {
    let AdminRead {
        base,
        api,
        http,
        admin,
        order,
    } = read_order_as_admin(settings, args.url.as_deref(), &args.order_id, "dev-pay").await?;
    let provider = args
        .provider
        .clone()
        .or_else(|| {
            order
                .pointer("/payment/provider")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "razorpay".into());
    let currency = order["currency"]
        .as_str()
        .and_then(|c| Currency::parse(c).ok())
        .ok_or("the order has no currency")?;
    let money = |minor: i64| Money::new(minor, currency).map_err(|e| e.to_string());
    let total = order["amount"].as_i64().ok_or("the order has no amount")?;
    let amount = money(args.amount.unwrap_or(total))?;
    let provider_order_id = order
        .pointer("/payment/providerOrderId")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let known_payment = order
        .pointer("/payment/providerPaymentId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if args.no_deliver {
        return lose_the_webhook(&http, &base, &args, &provider_order_id).await;
    }
    let order_id = Some(args.order_id.as_str());
    let now = SystemClock.now();
    let unique = RandomIds.ulid(now);
    let dispute_spec = |id: &'static str, payment| {
        let state = args.dispute.as_deref()?;
        Some((
            state,
            derived(id, &args.order_id),
            payment,
            money(total).ok()?,
        ))
    };

    let (path, body, headers): (&str, String, Vec<(&str, String)>) = match provider.as_str() {
        "stripe" => {
            let pi = known_payment.unwrap_or_else(|| derived("pi_", &args.order_id));
            let event_id = format!("evt_{unique}");
            let body = if let Some((state, id, pi, amount)) = dispute_spec("du_", pi.clone()) {
                let (kind, status) = match state {
                    "open" => ("charge.dispute.created", "needs_response"),
                    _ => ("charge.dispute.closed", state),
                };
                simulate::stripe_dispute_event(
                    &event_id,
                    kind,
                    &dispute(&id, &pi, amount, status, now),
                    &derived("ch_", &args.order_id),
                    now.unix_seconds(),
                )
            } else if let Some(refund) = args.refund {
                let already = order["refundedAmount"].as_i64().unwrap_or(0);
                let captured = money(total)?;
                simulate::stripe_charge_refunded(
                    &event_id,
                    &derived("ch_", &args.order_id),
                    &pi,
                    captured,
                    already + refund,
                    Some(&[(&format!("re_{unique}"), refund)]),
                    now.unix_seconds(),
                )
            } else if args.fail {
                simulate::stripe_intent_failed(&event_id, &pi, order_id, amount, now.unix_seconds())
            } else {
                simulate::stripe_session_paid(
                    &event_id,
                    "checkout.session.completed",
                    &provider_order_id,
                    &pi,
                    order_id,
                    amount,
                    now.unix_seconds(),
                )
            };
            let secret = settings
                .config
                .secrets
                .env
                .stripe
                .webhook_secrets
                .first()
                .ok_or("no STRIPE_WEBHOOK_SECRET configured")?;
            let sig = simulate::stripe_signature(secret, now.unix_seconds(), &body);
            ("/webhooks/stripe", body, vec![("stripe-signature", sig)])
        }
        "razorpay" => {
            let pay = known_payment.unwrap_or_else(|| derived("pay_", &args.order_id));
            let body = if let Some((state, id, pay, amount)) = dispute_spec("disp_", pay.clone()) {
                let kind = match state {
                    "open" => "payment.dispute.created",
                    "won" => "payment.dispute.won",
                    _ => "payment.dispute.lost",
                };
                simulate::razorpay_dispute_event(
                    kind,
                    &dispute(&id, &pay, amount, state, now),
                    &provider_order_id,
                    order_id,
                    money(total)?,
                )
            } else if let Some(refund) = args.refund {
                simulate::razorpay_refund_processed(
                    &format!("rfnd_{unique}"),
                    &pay,
                    &provider_order_id,
                    order_id,
                    money(total)?,
                    refund,
                )
            } else if args.fail {
                simulate::razorpay_payment_event(
                    "payment.failed",
                    &pay,
                    &provider_order_id,
                    order_id,
                    amount,
                )
            } else {
                simulate::razorpay_payment_event(
                    "payment.captured",
                    &pay,
                    &provider_order_id,
                    order_id,
                    amount,
                )
            };
            let secret: &Secret = settings
                .config
                .secrets
                .env
                .razorpay
                .webhook_secrets
                .first()
                .ok_or("no RAZORPAY_WEBHOOK_SECRET configured")?;
            let sig = simulate::razorpay_signature(secret, &body);
            (
                "/webhooks/razorpay",
                body,
                vec![
                    ("x-razorpay-signature", sig),
                    ("x-razorpay-event-id", format!("evt_{unique}")),
                ],
            )
        }
        other => {
            return Err(format!(
                "--provider must be stripe or razorpay, not {other}"
            ));
        }
    };

    let mut req = http
        .post(format!("{api}{path}"))
        .header("content-type", "application/json")
        .body(body);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let res = req.send().await.map_err(|e| e.to_string())?;
    let status = res.status();
    let answer = res.text().await.unwrap_or_default();
    let after: Value = http
        .get(format!("{api}/orders/{}", args.order_id))
        .bearer_auth(&admin)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "POST {path} -> {status} {answer}\norder {} is now {} (paymentStatus: {}, requiresReview: {}, refundedAmount: {}, dispute: {})",
        args.order_id,
        after["status"],
        after["paymentStatus"],
        after["requiresReview"],
        after["refundedAmount"],
        after["dispute"]["status"],
    ))
}

/// The customer pays at the offline provider's checkout (`POST /dev/checkout/{checkout}`) and
/// the provider's webhook is lost.
async fn lose_the_webhook(
    http: &reqwest::Client,
    base: &str,
    args: &PayArgs,
    checkout: &str,
) -> Result<String, String> {
    let outcome = if args.fail { "failed" } else { "succeeded" };
    let res = http
        .post(format!(
            "{}/dev/checkout/{checkout}",
            base.trim_end_matches('/')
        ))
        .json(&serde_json::json!({"outcome": outcome, "deliverWebhook": false}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status();
    let answer = res.text().await.unwrap_or_default();
    Ok(format!(
        "POST /dev/checkout/{checkout} -> {status} {answer}\nthe provider holds the payment; no webhook was sent: the sweep's reconciliation finds it (RECONCILE_AFTER_MINUTES)"
    ))
}

/// A chargeback of `amount`, evidence due in a week.
fn dispute<'a>(
    id: &'a str,
    payment: &'a str,
    amount: Money,
    status: &'a str,
    now: oms_core::Timestamp,
) -> simulate::DisputeSpec<'a> {
    simulate::DisputeSpec {
        id,
        payment_id: payment,
        amount,
        status,
        reason: "product_not_received",
        due_by: Some(now.unix_seconds() + 7 * 24 * 60 * 60),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{Cli, Command};

    fn parse(args: &[&str]) -> Result<PayArgs, clap::Error> {
        let cli = Cli::try_parse_from(["dev-server", "pay"].iter().chain(args))?;
        match cli.subcommand() {
            Command::Pay(a) => Ok(a),
            other => panic!("not pay: {other:?}"),
        }
    }

    #[test]
    fn pay_arguments_parse_and_refuse_nonsense() {
        let a = parse(&["ord_1", "--provider", "stripe", "--amount", "500"]).unwrap();
        assert_eq!(
            (a.order_id.as_str(), a.provider.as_deref(), a.amount, a.fail),
            ("ord_1", Some("stripe"), Some(500), false)
        );
        let b = parse(&["ord_2", "--refund", "700", "--url", "http://127.0.0.1:4000"]).unwrap();
        assert_eq!(
            (b.refund, b.url.as_deref(), b.provider),
            (Some(700), Some("http://127.0.0.1:4000"), None)
        );
        assert!(parse(&["ord_3", "--fail"]).unwrap().fail);
        assert_eq!(
            parse(&["ord_4", "--dispute", "won"])
                .unwrap()
                .dispute
                .as_deref(),
            Some("won")
        );
        for bad in [
            &[][..],
            &["ord_1", "--amount", "ten"],
            &["ord_1", "--fail", "--refund", "1"],
            &["ord_1", "--bogus"],
            &["ord_1", "--provider", "paypal"],
            &["ord_1", "--refund"],
            &["ord_1", "--dispute", "maybe"],
            &["ord_1", "--dispute", "open", "--refund", "5"],
            &["ord_1", "--dispute", "open", "--fail"],
            &["ord_1", "--no-deliver", "--refund", "5"],
            &["ord_1", "--no-deliver", "--amount", "5"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
