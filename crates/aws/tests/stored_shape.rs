//! The stored shape, pinned: the exact item the DynamoDB store writes for each kind of record,
//! compared with a committed golden file in `tests/golden/` (DynamoDB attribute-value JSON,
//! keys sorted). Items already in a table keep the shape they were written in, so a change here
//! — a renamed serde field of oms-core's `Order`, a renamed attribute in
//! `src/dynamo/items.rs` — is a data migration and has to be made on purpose:
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test -p oms-aws --test stored_shape
//! ```
//!
//! rewrites the goldens, to be reviewed and committed with the migration. A missing golden file
//! fails the test. Pure codec calls: no AWS server, fixed ids and timestamps.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use oms_aws::dynamo::items;
use oms_core::customer::{CountryCode, Customer, Email, Phone, ShippingAddress};
use oms_core::order::{DisputeReport, DisputeStatus, NewRefund, OrderDraft, PaymentCapture};
use oms_core::ports::{
    EventOutcome, EventRecord, EventSource, IdempotencyRecord, OutboxEntry, ProviderRefund,
    ProviderRefundStatus, Trace,
};
use oms_core::webhook::{ChargeTotal, RefundReport};
use oms_core::{
    InvoiceInfo, Order, OrderId, OrderLine, OrderNumber, Owner, PaymentInfo, Product, ProviderKind,
    Quantity, ShipmentInfo, Sku, StockRecord, Timestamp, TokenHash, UserId,
};
use oms_memory::fixtures::inr;
use serde_json::{Map, Value, json};

type Item = HashMap<String, AttributeValue>;

// ---------------------------------------------------------------------------------------------
// The records, fixed.

/// `s` seconds after 2027-01-15T08:00:00Z.
fn at(s: u64) -> Timestamp {
    Timestamp::from_unix_millis(1_800_000_000_000).plus(Duration::from_secs(s))
}

fn order_id() -> OrderId {
    OrderId::parse("ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0").expect("a valid order id")
}

fn sku(s: &str) -> Sku {
    Sku::parse(s).expect("a valid SKU")
}

fn line(code: &str, name: &str, quantity: u64, unit_minor: i64) -> OrderLine {
    let quantity = Quantity::new(quantity).expect("a valid quantity");
    OrderLine {
        sku: sku(code),
        name: name.into(),
        quantity,
        unit_price: inr(unit_minor),
        line_total: inr(unit_minor * i64::from(quantity.get())),
    }
}

fn address(line2: Option<&str>) -> ShippingAddress {
    ShippingAddress {
        name: "Asha Rao".into(),
        line1: "1 MG Road".into(),
        line2: line2.map(str::to_owned),
        city: "Bengaluru".into(),
        state: "KA".into(),
        postal_code: "560001".into(),
        country: CountryCode::parse("IN").expect("IN"),
    }
}

/// An order with every field set: a signed-in owner, a customer with a phone, an address with
/// a second line, two lines, a Stripe payment captured, an invoice, a shipment, fulfilled and
/// notified, then partly refunded, held for review and leased to a worker. The timeline has an
/// entry for each step.
fn full_order() -> Order {
    let lines = vec![
        line("CHAI-250G", "Masala chai 250 g", 2, 25_000),
        line("MUG-STEEL", "Steel tumbler", 1, 30_000),
    ];
    let mut o = Order::open(
        OrderDraft {
            id: order_id(),
            number: OrderNumber::parse("ORD-20270115-ABCDEFGH").expect("a valid number"),
            owner: Owner::User {
                user_id: UserId::parse("user-1").expect("a valid user"),
            },
            customer: Customer {
                email: Email::parse("asha@example.in").expect("a valid email"),
                name: "Asha Rao".into(),
                phone: Some(Phone::parse("+91 98450-12345").expect("a valid phone")),
            },
            shipping_address: address(Some("Flat 4B")),
            lines,
            total: inr(80_000),
            payment: PaymentInfo {
                provider: ProviderKind::Stripe,
                provider_order_id: "cs_test_a1".into(),
                provider_payment_id: None,
                checkout_url: Some("https://checkout.stripe.com/c/pay/cs_test_a1".into()),
                key_id: Some("pk_test_key".into()),
                captured: None,
            },
            expires_at: at(1800),
        },
        at(0),
    );
    o.record_payment(
        &PaymentCapture {
            provider_payment_id: "pi_1".into(),
            amount: inr(80_000),
        },
        at(60),
    )
    .expect("an unpaid order is paid");
    o.record_invoice(
        InvoiceInfo {
            number: "INV-000042".into(),
            key: "invoices/INV-000042.pdf".into(),
            issued_at: at(120),
        },
        at(120),
    )
    .expect("a paid order is invoiced");
    o.record_shipment(
        ShipmentInfo {
            carrier: "delhivery".into(),
            shipment_id: "shp_1".into(),
            awb: "AWB0001".into(),
            status: "manifested".into(),
        },
        at(180),
    )
    .expect("an invoiced order ships");
    o.mark_fulfilled(at(240))
        .expect("a shipped order is fulfilled");
    o.record_notified(at(250))
        .expect("a fulfilled order is notified");
    o.record_refunds(
        &RefundReport {
            payment_id: Some("pi_1".into()),
            refunds: vec![("re_1".into(), inr(10_000))],
            charge: Some(ChargeTotal {
                charge_id: "ch_1".into(),
                total: Some(inr(10_000)),
            }),
            our_ids: Vec::new(),
        },
        at(300),
    )
    .expect("a refund is recorded");
    o.hold_unreadable("a refund event without an amount", at(360))
        .expect("an order is held for review");
    o.claim_fulfilment(at(400), at(700))
        .expect("no other worker holds the lease");
    let refund = |id: &str, amount: i64, reason: Option<&str>, key: &str| NewRefund {
        refund_id: id.into(),
        amount: Some(amount),
        reason: reason.map(str::to_owned),
        requested_by: "admin-1".into(),
        idempotency_key: Some(key.into()),
        request_hash: Some(format!("hash-of-{key}")),
    };
    o.request_refund(
        refund(
            "rf_01JDQ7Z3K5M8N9P0QRSTVWXYZ2",
            5_000,
            Some("damaged in transit"),
            "key-1",
        ),
        at(420),
        at(480),
    )
    .expect("a paid order can be refunded");
    o.record_refund_sent(
        "rf_01JDQ7Z3K5M8N9P0QRSTVWXYZ2",
        &ProviderRefund {
            provider_refund_id: "re_2".into(),
            status: ProviderRefundStatus::Pending,
            amount: inr(5_000),
            charge_id: Some("ch_1".into()),
        },
        at(430),
        at(1030),
    )
    .expect("the provider's answer is recorded");
    // Still owed a provider call: the order is in the sweep's refund index.
    o.request_refund(
        refund("rf_01JDQ7Z3K5M8N9P0QRSTVWXYZ3", 1_000, None, "key-2"),
        at(440),
        at(500),
    )
    .expect("the balance covers a second refund");
    o.record_dispute(
        &DisputeReport {
            dispute_id: "dp_1".into(),
            payment_id: Some("pi_1".into()),
            status: DisputeStatus::UnderReview,
            amount: inr(2_000),
            reason: "product_not_received".into(),
            evidence_due_by: Some(at(86_400)),
        },
        at(450),
    )
    .expect("a dispute is recorded");
    o
}

/// A guest's order still awaiting payment: in the unpaid sweep's index, not in any owner's, and
/// with the optional fields left out.
fn unpaid_guest_order() -> Order {
    Order::open(
        OrderDraft {
            id: OrderId::parse("ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ1").expect("a valid order id"),
            number: OrderNumber::parse("ORD-20270115-GUEST001").expect("a valid number"),
            owner: Owner::Guest {
                token_hash: TokenHash::of("guest-access-token"),
            },
            customer: Customer {
                email: Email::parse("guest@example.in").expect("a valid email"),
                name: "Guest".into(),
                phone: None,
            },
            shipping_address: address(None),
            lines: vec![line("CHAI-250G", "Masala chai 250 g", 1, 25_000)],
            total: inr(25_000),
            payment: PaymentInfo {
                provider: ProviderKind::Razorpay,
                provider_order_id: "order_Q1".into(),
                provider_payment_id: None,
                checkout_url: None,
                key_id: Some("rzp_test_key".into()),
                captured: None,
            },
            expires_at: at(1800),
        },
        at(0),
    )
}

fn product() -> Product {
    Product {
        sku: sku("CHAI-250G"),
        name: "Masala chai 250 g".into(),
        unit_price: inr(25_000),
        available: 40,
    }
}

fn stock_record() -> StockRecord {
    StockRecord {
        sku: sku("CHAI-250G"),
        number: 7,
        at: at(500),
        by: UserId::parse("admin-1").expect("a valid user"),
        delta: -3,
        reason: "damaged in transit".into(),
        level: 37,
    }
}

fn event_record() -> EventRecord {
    EventRecord {
        provider: ProviderKind::Stripe,
        event_id: "evt_1".into(),
        event_type: "charge.refunded".into(),
        received_at: at(300),
        order_id: Some(order_id()),
        outcome: EventOutcome::Applied,
        detail: "refund recorded".into(),
        payload: r#"{"id":"evt_1","type":"charge.refunded"}"#.into(),
        expires_at: at(300 + 4 * 24 * 3600),
        // A Stripe event found by a backfill keeps its own `evt_…` id: only the stored source
        // says where it came from.
        source: EventSource::Backfill,
    }
}

fn idempotency_record() -> IdempotencyRecord {
    IdempotencyRecord {
        scope: "user-1#key-123".into(),
        request_hash: "5f2b9c0e".into(),
        order_id: order_id(),
        response: r#"{"orderId":"ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0"}"#.into(),
        created_at: at(0),
        expires_at: at(24 * 3600),
    }
}

fn outbox_entry() -> OutboxEntry {
    OutboxEntry {
        order_id: order_id(),
        created_at: at(60),
        lease_until: at(90),
        trace: Trace::request("req_01JDQ7Z3K5M8N9P0QRSTVWXYZ9").with_event("evt_1PaidXyZ"),
    }
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[test]
fn a_fully_populated_order_is_stored_in_its_pinned_shape() {
    let order = full_order();
    let item = items::order_item(&order).expect("the order encodes");
    assert_golden("order", &item);
    assert_eq!(
        items::order_from(item).expect("the order decodes"),
        order,
        "an order must read back as it was written"
    );
}

#[test]
fn an_unpaid_guest_order_is_stored_with_the_sweep_index_and_no_owner_index() {
    let order = unpaid_guest_order();
    let item = items::order_item(&order).expect("the order encodes");
    assert_golden("order_unpaid_guest", &item);
    assert_eq!(items::order_from(item).expect("the order decodes"), order);
}

/// A guest's order, paid, with one refund the provider accepted and has not settled: in the
/// sweep's refund index by when that refund is next checked.
fn refund_pending_order() -> Order {
    let mut o = unpaid_guest_order();
    o.record_payment(
        &PaymentCapture {
            provider_payment_id: "pay_Q1".into(),
            amount: inr(25_000),
        },
        at(60),
    )
    .expect("an unpaid order is paid");
    o.request_refund(
        NewRefund {
            refund_id: "rf_01JDQ7Z3K5M8N9P0QRSTVWXYZ4".into(),
            amount: Some(25_000),
            reason: None,
            requested_by: "admin-1".into(),
            idempotency_key: Some("key-9".into()),
            request_hash: Some("hash-of-key-9".into()),
        },
        at(120),
        at(180),
    )
    .expect("a paid order can be refunded");
    o.record_refund_sent(
        "rf_01JDQ7Z3K5M8N9P0QRSTVWXYZ4",
        &ProviderRefund {
            provider_refund_id: "rfnd_Q1".into(),
            status: ProviderRefundStatus::Pending,
            amount: inr(25_000),
            charge_id: None,
        },
        at(125),
        at(725),
    )
    .expect("the provider's answer is recorded");
    o
}

#[test]
fn an_order_with_a_refund_pending_is_indexed_by_when_the_refund_is_next_checked() {
    let order = refund_pending_order();
    let item = items::order_item(&order).expect("the order encodes");
    assert_golden("order_refund_pending", &item);
    assert_eq!(
        item.get("GSI2SK")
            .and_then(|v| v.as_s().ok())
            .map(String::as_str),
        Some(format!("{}#{}", at(725), order.id()).as_str()),
        "due at its check, not when it was asked for"
    );
    assert_eq!(items::order_from(item).expect("the order decodes"), order);
}

#[test]
fn a_product_is_stored_in_its_pinned_shape() {
    let product = product();
    let item = items::product_item(&product).expect("the product encodes");
    assert_golden("product", &item);
    let level = items::stock_from(item).expect("the product decodes");
    assert_eq!(level.product, product);
    assert_eq!(level.adjustments, 0);
}

#[test]
fn a_stock_adjustment_is_stored_under_its_product_with_a_20_digit_number() {
    let record = stock_record();
    let item = items::stock_item(&record).expect("the stock record encodes");
    assert_golden("stock_record", &item);
    assert_eq!(
        items::stock_record_from(item).expect("the stock record decodes"),
        record
    );
}

#[test]
fn a_provider_event_record_is_stored_in_its_pinned_shape() {
    let record = event_record();
    let item = items::event_item(&record).expect("the event encodes");
    assert_golden("event", &item);
    assert_eq!(items::event_from(item).expect("the event decodes"), record);
}

#[test]
fn an_event_record_stored_before_its_source_was_kept_reads_its_source_from_its_id() {
    for (id, source) in [
        ("evt_1", EventSource::Webhook),
        ("reconcile:pay_1", EventSource::Reconciliation),
        ("replay:evt_1", EventSource::Replay),
        ("backfill:pay_1#captured", EventSource::Backfill),
    ] {
        let record = EventRecord {
            event_id: id.into(),
            ..event_record()
        };
        let mut item = items::event_item(&record).expect("the event encodes");
        item.remove("source").expect("the source is stored");
        assert_eq!(
            items::event_from(item).expect("the event decodes").source,
            source,
            "{id}"
        );
    }
    let mut item = items::event_item(&event_record()).unwrap();
    item.insert("source".into(), AttributeValue::S("carrier pigeon".into()));
    assert!(
        items::event_from(item).is_err(),
        "an unknown source is corrupt data"
    );
}

#[test]
fn an_idempotency_record_is_stored_in_its_pinned_shape() {
    let record = idempotency_record();
    let item = items::idempotency_item(&record).expect("the record encodes");
    assert_golden("idempotency", &item);
    assert_eq!(
        items::idempotency_from(item).expect("the record decodes"),
        record
    );
}

#[test]
fn an_outbox_entry_and_a_payment_reference_are_stored_in_their_pinned_shapes() {
    let entry = outbox_entry();
    let item = items::outbox_item(&entry);
    assert_golden("outbox", &item);
    assert_eq!(items::outbox_from(&item).expect("the entry decodes"), entry);
    // An entry written before traces were recorded reads with none.
    let mut untraced = item.clone();
    untraced.remove("requestId");
    untraced.remove("eventId");
    assert_eq!(
        items::outbox_from(&untraced).expect("an untraced entry decodes"),
        OutboxEntry {
            trace: Trace::default(),
            ..entry
        }
    );

    let item = items::payref_item(ProviderKind::Stripe, "pi_1", &order_id());
    assert_golden("payment_reference", &item);
    assert_eq!(
        items::payref_order_from(&item).expect("the reference decodes"),
        order_id()
    );
}

#[test]
fn a_missing_golden_file_fails_instead_of_passing() {
    let path = std::env::temp_dir().join(format!(
        "oms-stored-shape-absent-{}.json",
        std::process::id()
    ));
    let err = compare("order", &path, "{}\n", false).expect_err("a missing golden must fail");
    assert!(err.contains("UPDATE_GOLDEN=1"), "{err}");
    assert!(!path.exists(), "checking must never write the golden");
}

#[test]
fn a_renamed_field_is_reported_as_a_data_migration_naming_the_attributes() {
    let path = std::env::temp_dir().join(format!(
        "oms-stored-shape-rename-{}.json",
        std::process::id()
    ));
    // Items made by hand, so this check of the message does not depend on today's field names.
    let with = |name: &str| -> Item {
        HashMap::from([
            ("PK".to_owned(), AttributeValue::S("ORDER#x".into())),
            (
                "data".to_owned(),
                AttributeValue::M(HashMap::from([(
                    name.to_owned(),
                    AttributeValue::Bool(true),
                )])),
            ),
        ])
    };
    std::fs::write(&path, pretty(&with("requiresReview"))).expect("a temporary golden is written");
    let renamed = pretty(&with("needsReview"));
    let result = compare("order", &path, &renamed, false);
    let _ = std::fs::remove_file(&path);
    let err = result.expect_err("a renamed attribute must fail");
    assert!(err.to_lowercase().contains("data migration"), "{err}");
    assert!(err.contains("data.requiresReview"), "{err}");
    assert!(err.contains("data.needsReview"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Golden files.

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Compares `item` with `tests/golden/<name>.json`, or rewrites that file when `UPDATE_GOLDEN=1`.
fn assert_golden(name: &str, item: &Item) {
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let path = golden_dir().join(format!("{name}.json"));
    if let Err(message) = compare(name, &path, &pretty(item), update) {
        panic!("{message}");
    }
}

fn compare(name: &str, path: &Path, now: &str, update: bool) -> Result<(), String> {
    if update {
        std::fs::create_dir_all(golden_dir()).map_err(|e| e.to_string())?;
        return std::fs::write(path, now).map_err(|e| format!("writing {}: {e}", path.display()));
    }
    let golden = std::fs::read_to_string(path)
        .map_err(|e| {
            format!(
                "no golden file for the stored shape of `{name}` ({}: {e}).\n\
                 Every stored record's shape is pinned. Create it with\n    \
                 UPDATE_GOLDEN=1 cargo test -p oms-aws --test stored_shape\n\
                 then review and commit it.",
                path.display()
            )
        })?
        .replace("\r\n", "\n");
    if golden == now {
        return Ok(());
    }
    Err(format!(
        "the stored shape of `{name}` changed: what this build writes no longer matches {}.\n\n\
         Items already in DynamoDB have the committed shape. Renaming, removing or retyping a \
         stored field\n(a serde name in oms-core's `Order` and what it holds, or an attribute in \
         crates/aws/src/dynamo/items.rs)\nis a DATA MIGRATION, not a refactoring: the code must \
         still read the items already stored\n(`#[serde(alias = \"old\")]`, a default, or a \
         backfill; see docs/data-model.md).\nIf the change is deliberate and old items are taken \
         care of, accept the new shape with\n    \
         UPDATE_GOLDEN=1 cargo test -p oms-aws --test stored_shape\n\
         and commit the golden file with the migration.\n\n{}\
         line diff (- golden, + now):\n{}",
        path.display(),
        attribute_summary(&golden, now),
        line_diff(&golden, now)
    ))
}

// ---------------------------------------------------------------------------------------------
// DynamoDB attribute-value JSON, keys sorted.

fn pretty(item: &Item) -> String {
    let mut text = serde_json::to_string_pretty(&item_json(item)).expect("JSON always prints");
    text.push('\n');
    text
}

fn item_json(item: &Item) -> Value {
    let sorted: BTreeMap<&String, &AttributeValue> = item.iter().collect();
    Value::Object(
        sorted
            .into_iter()
            .map(|(k, v)| (k.clone(), attribute_json(v)))
            .collect::<Map<_, _>>(),
    )
}

fn attribute_json(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(b) => json!({ "NULL": b }),
        AttributeValue::M(m) => json!({ "M": item_json(m) }),
        AttributeValue::L(l) => json!({ "L": l.iter().map(attribute_json).collect::<Vec<_>>() }),
        AttributeValue::Ss(ss) => json!({ "SS": ss }),
        AttributeValue::Ns(ns) => json!({ "NS": ns }),
        AttributeValue::B(b) => json!({ "B": STANDARD.encode(b.as_ref()) }),
        AttributeValue::Bs(bs) => json!({
            "BS": bs.iter().map(|b| STANDARD.encode(b.as_ref())).collect::<Vec<_>>()
        }),
        other => panic!("an attribute type the golden files do not know: {other:?}"),
    }
}

/// The attributes (as dotted paths, `data.requiresReview`) only in the golden, only in what is
/// written now, and changed: the readable half of a failure.
fn attribute_summary(golden: &str, now: &str) -> String {
    let (Ok(golden), Ok(now)) = (
        serde_json::from_str::<Value>(golden),
        serde_json::from_str::<Value>(now),
    ) else {
        return String::new();
    };
    let (mut before, mut after) = (BTreeMap::new(), BTreeMap::new());
    flatten(&golden, "", &mut before);
    flatten(&now, "", &mut after);
    let mut out = String::new();
    let mut section = |title: &str, lines: Vec<String>| {
        if !lines.is_empty() {
            out.push_str(title);
            out.push('\n');
            for l in lines {
                out.push_str("    ");
                out.push_str(&l);
                out.push('\n');
            }
            out.push('\n');
        }
    };
    section(
        "only in the golden (stored today, no longer written):",
        before
            .iter()
            .filter(|(k, _)| !after.contains_key(*k))
            .map(|(k, v)| format!("{k} = {v}"))
            .collect(),
    );
    section(
        "only in what this build writes:",
        after
            .iter()
            .filter(|(k, _)| !before.contains_key(*k))
            .map(|(k, v)| format!("{k} = {v}"))
            .collect(),
    );
    section(
        "changed:",
        before
            .iter()
            .filter_map(|(k, v)| match after.get(k) {
                Some(w) if w != v => Some(format!("{k}: {v} -> {w}")),
                _ => None,
            })
            .collect(),
    );
    out
}

/// Leaf attributes of attribute-value JSON by path: maps by key, lists by index.
fn flatten(v: &Value, path: &str, out: &mut BTreeMap<String, String>) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        Value::Object(fields) if path.is_empty() => {
            for (k, field) in fields {
                flatten(field, &join(k), out);
            }
        }
        Value::Object(typed) => match typed.iter().next() {
            Some((tag, Value::Object(fields))) if tag == "M" && typed.len() == 1 => {
                if fields.is_empty() {
                    out.insert(path.to_owned(), "M {}".into());
                }
                for (k, field) in fields {
                    flatten(field, &join(k), out);
                }
            }
            Some((tag, Value::Array(elements))) if tag == "L" && typed.len() == 1 => {
                if elements.is_empty() {
                    out.insert(path.to_owned(), "L []".into());
                }
                for (i, element) in elements.iter().enumerate() {
                    flatten(element, &format!("{path}[{i}]"), out);
                }
            }
            Some((tag, value)) if typed.len() == 1 => {
                out.insert(path.to_owned(), format!("{tag} {value}"));
            }
            _ => {
                out.insert(path.to_owned(), v.to_string());
            }
        },
        other => {
            out.insert(path.to_owned(), other.to_string());
        }
    }
}

/// A line diff of two texts (longest common subsequence), changed lines with two lines of
/// context around them.
fn line_diff(golden: &str, now: &str) -> String {
    const CONTEXT: usize = 2;
    let a: Vec<&str> = golden.lines().collect();
    let b: Vec<&str> = now.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    let mut out = String::new();
    let mut skipped = false;
    for (k, (tag, text)) in ops.iter().enumerate() {
        let window = k.saturating_sub(CONTEXT)..=(k + CONTEXT).min(ops.len() - 1);
        if window.into_iter().any(|m| ops[m].0 != ' ') {
            if skipped {
                out.push_str("  …\n");
                skipped = false;
            }
            out.push_str(&format!("{tag} {text}\n"));
        } else {
            skipped = true;
        }
    }
    if skipped {
        out.push_str("  …\n");
    }
    out
}
