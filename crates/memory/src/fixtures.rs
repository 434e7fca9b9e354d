//! Ready-made orders for tests across the workspace (and nothing else): one place that knows how
//! to build a valid order, so test files do not each repeat it.

use oms_core::customer::{CountryCode, Customer, Email, ShippingAddress};
use oms_core::order::{OrderDraft, PaymentCapture};
use oms_core::{
    Currency, Money, Order, OrderId, OrderLine, OrderNumber, Owner, PaymentInfo, ProviderKind,
    Quantity, Sku, Timestamp, UserId,
};

/// `minor` paise.
pub fn inr(minor: i64) -> Money {
    Money::new(minor, Currency::parse("INR").expect("INR is supported"))
        .expect("a test amount in range")
}

/// An unpaid Razorpay order by `user` for `lines` of `(sku, quantity, unit price in paise)`,
/// opened at `at`, expiring 30 minutes later. Panics on invalid input: it is for tests.
pub fn order(id: &str, user: &str, lines: &[(&str, u32, i64)], at: Timestamp) -> Order {
    let lines: Vec<OrderLine> = lines
        .iter()
        .map(|(sku, q, price)| OrderLine {
            sku: Sku::parse(sku).expect("a valid test SKU"),
            name: sku.to_string(),
            quantity: Quantity::new(u64::from(*q)).expect("a valid test quantity"),
            unit_price: inr(*price),
            line_total: inr(price * i64::from(*q)),
        })
        .collect();
    let total = lines
        .iter()
        .try_fold(inr(0), |a, l| a.checked_add(l.line_total))
        .expect("a test total in range");
    let id = OrderId::parse(id).expect("a valid test order id");
    Order::open(
        OrderDraft {
            number: OrderNumber::parse(&format!("ORD-{}", &id.as_str()[22..]))
                .expect("a valid number"),
            owner: Owner::User {
                user_id: UserId::parse(user).expect("a valid test user"),
            },
            customer: Customer {
                email: Email::parse("a@example.com").expect("a valid email"),
                name: "A".into(),
                phone: None,
            },
            shipping_address: ShippingAddress {
                name: "A".into(),
                line1: "1 Road".into(),
                line2: None,
                city: "City".into(),
                state: "State".into(),
                postal_code: "560001".into(),
                country: CountryCode::parse("IN").expect("IN"),
            },
            lines,
            total,
            payment: PaymentInfo {
                provider: ProviderKind::Razorpay,
                provider_order_id: format!("order_{}", &id.as_str()[12..]),
                provider_payment_id: None,
                checkout_url: None,
                key_id: None,
                captured: None,
            },
            expires_at: at.plus(std::time::Duration::from_secs(30 * 60)),
            id,
        },
        at,
    )
}

/// `o` paid in full by `payment_id` at `at`.
pub fn paid(o: &Order, payment_id: &str, at: Timestamp) -> Order {
    let mut next = o.clone();
    next.record_payment(
        &PaymentCapture {
            provider_payment_id: payment_id.into(),
            amount: o.total(),
        },
        at,
    )
    .expect("an unpaid order can be paid");
    next
}
