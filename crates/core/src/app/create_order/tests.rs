use super::*;

fn valid() -> serde_json::Value {
    serde_json::json!({
        "items": [{"sku": "CHAI-250G", "quantity": 2}, {"sku": "MUG-STEEL", "quantity": 1}],
        "currency": "INR",
        "paymentProvider": "razorpay",
        "customer": {"email": "asha@example.in", "name": "Asha Rao", "phone": "+91 98765 43210"},
        "shippingAddress": {
            "name": "Asha Rao", "line1": "12 MG Road", "city": "Bengaluru",
            "state": "Karnataka", "postalCode": "560001", "country": "IN"
        }
    })
}

fn parse(v: serde_json::Value) -> Result<OrderRequest, ValidationErrors> {
    serde_json::from_value::<CreateOrderInput>(v)
        .unwrap()
        .parse()
}

fn fields(e: ValidationErrors) -> Vec<String> {
    e.fields().iter().map(|f| f.field.clone()).collect()
}

#[test]
fn a_well_formed_request_parses_into_domain_types() {
    let r = parse(valid()).unwrap();
    assert_eq!(r.items.len(), 2);
    assert_eq!(r.items[0].0.as_str(), "CHAI-250G");
    assert_eq!(r.items[0].1.get(), 2);
    assert_eq!(r.currency.as_str(), "INR");
    assert_eq!(r.provider, ProviderKind::Razorpay);
    assert_eq!(r.email.unwrap().as_str(), "asha@example.in");
    assert_eq!(r.shipping_address.line2, None);
}

#[test]
fn every_broken_field_is_named_at_once() {
    let mut v = valid();
    v["items"][0]["quantity"] = 0.into();
    v["items"][1]["sku"] = "bad sku".into();
    v["currency"] = "inr".into();
    v["paymentProvider"] = "paypal".into();
    v["customer"]["email"] = "not-an-email".into();
    v["customer"]["name"] = "   ".into();
    v["shippingAddress"]["country"] = "India".into();
    v["shippingAddress"]["postalCode"] = "5".into();
    let got = fields(parse(v).unwrap_err());
    assert_eq!(
        got,
        vec![
            "items[0].quantity",
            "items[1].sku",
            "currency",
            "paymentProvider",
            "customer.email",
            "customer.name",
            "shippingAddress.postalCode",
            "shippingAddress.country",
        ]
    );
}

#[test]
fn an_order_needs_between_one_and_fifty_distinct_items() {
    let mut v = valid();
    v["items"] = serde_json::json!([]);
    assert_eq!(fields(parse(v).unwrap_err()), vec!["items"]);

    let mut v = valid();
    v["items"] = (0..51)
        .map(|i| serde_json::json!({"sku": format!("S{i}"), "quantity": 1}))
        .collect();
    assert_eq!(fields(parse(v).unwrap_err()), vec!["items"]);

    let mut v = valid();
    v["items"][1]["sku"] = "CHAI-250G".into();
    assert_eq!(fields(parse(v).unwrap_err()), vec!["items[1].sku"]);
}

#[test]
fn more_lines_than_the_maximum_are_one_error_on_items_without_checking_each_line() {
    let mut v = valid();
    v["items"] = (0..20_000)
        .map(|_| serde_json::json!({"sku": "not a sku!", "quantity": 0}))
        .collect();
    let e = parse(v).unwrap_err();
    assert_eq!(fields(e.clone()), vec!["items"]);
    assert_eq!(e.fields()[0].message, "must contain at most 50 items");
    assert_eq!(e.omitted(), 0);
}

#[test]
fn the_field_errors_of_one_request_are_bounded_whatever_is_wrong_with_it() {
    let mut v = valid();
    v["items"] = (0..MAX_LINES)
        .map(|i| serde_json::json!({"sku": format!("bad sku {i}"), "quantity": 0}))
        .collect();
    v["currency"] = "inr".into();
    let e = parse(v).unwrap_err();
    assert_eq!(e.fields().len(), crate::validation::MAX_FIELD_ERRORS);
    assert_eq!(e.total(), 2 * MAX_LINES + 1);
}

#[test]
fn quantities_above_the_line_maximum_are_refused() {
    let mut v = valid();
    v["items"][0]["quantity"] = 101.into();
    assert_eq!(fields(parse(v).unwrap_err()), vec!["items[0].quantity"]);
}

#[test]
fn email_and_phone_are_optional_at_parse_time() {
    let mut v = valid();
    v["customer"] = serde_json::json!({"name": "Asha"});
    let r = parse(v).unwrap();
    assert!(r.email.is_none());
    assert!(r.phone.is_none());
}

#[test]
fn unknown_fields_are_rejected_by_the_decoder() {
    let mut v = valid();
    v["discount"] = 100.into();
    assert!(serde_json::from_value::<CreateOrderInput>(v).is_err());
}

#[test]
fn a_guest_without_email_is_asked_for_one() {
    let mut v = valid();
    v["customer"] = serde_json::json!({"name": "Asha"});
    let r = parse(v).unwrap();
    let err = resolve_customer(&Buyer::Guest, &r).unwrap_err();
    assert_eq!(fields(err), vec!["customer.email"]);
    let user = Buyer::User {
        id: UserId::parse("u1").unwrap(),
        email: Some(Email::parse("u1@example.com").unwrap()),
    };
    assert_eq!(
        resolve_customer(&user, &r).unwrap().email.as_str(),
        "u1@example.com"
    );
}

#[test]
fn the_fingerprint_ignores_json_layout_but_not_content() {
    let a = parse(valid()).unwrap();
    let b: CreateOrderInput =
        serde_json::from_str(&serde_json::to_string_pretty(&valid()).unwrap()).unwrap();
    let b = b.parse().unwrap();
    assert_eq!(
        fingerprint(&Buyer::Guest, &a),
        fingerprint(&Buyer::Guest, &b)
    );
    let mut v = valid();
    v["items"][0]["quantity"] = 3.into();
    let c = parse(v).unwrap();
    assert_ne!(
        fingerprint(&Buyer::Guest, &a),
        fingerprint(&Buyer::Guest, &c)
    );
}

#[test]
fn idempotency_scopes_separate_callers() {
    let r = parse(valid()).unwrap();
    let key = IdempotencyKey::parse("k1").unwrap();
    let u1 = Buyer::User {
        id: UserId::parse("u1").unwrap(),
        email: None,
    };
    let u2 = Buyer::User {
        id: UserId::parse("u2").unwrap(),
        email: None,
    };
    assert_ne!(
        u1.idempotency_scope(&r, &key),
        u2.idempotency_scope(&r, &key)
    );
    let guest = Buyer::Guest.idempotency_scope(&r, &key);
    assert!(
        !guest.contains("asha"),
        "the email must not be stored in clear: {guest}"
    );
}
