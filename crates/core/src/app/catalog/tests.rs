use super::*;
use proptest::prelude::*;

fn product_input(v: serde_json::Value) -> ProductInput {
    serde_json::from_value(v).unwrap()
}

fn stock_input(delta: i64, reason: &str) -> StockInput {
    StockInput {
        delta,
        reason: reason.into(),
    }
}

fn fields(e: ValidationErrors) -> Vec<String> {
    e.fields().iter().map(|f| f.field.clone()).collect()
}

#[test]
fn a_well_formed_product_parses_with_no_stock_unless_given() {
    let p = product_input(serde_json::json!({
        "name": "  Masala chai, 250 g ", "unitPrice": 34900, "currency": "INR"
    }))
    .parse("CHAI-250G")
    .unwrap();
    assert_eq!(p.sku.as_str(), "CHAI-250G");
    assert_eq!(p.name, "Masala chai, 250 g");
    assert_eq!(p.unit_price.minor(), 34_900);
    assert_eq!(p.unit_price.currency().as_str(), "INR");
    assert_eq!(p.available, 0);
    let p = product_input(serde_json::json!({
        "name": "Chai", "unitPrice": 1, "currency": "JPY", "available": MAX_AVAILABLE
    }))
    .parse("CHAI")
    .unwrap();
    assert_eq!(p.available, MAX_AVAILABLE);
}

#[test]
fn every_broken_product_rule_is_named_at_once() {
    let e = product_input(serde_json::json!({
        "name": " ", "unitPrice": 0, "currency": "inr", "available": -1
    }))
    .parse("bad sku")
    .unwrap_err();
    assert_eq!(
        fields(e),
        vec!["sku", "name", "currency", "unitPrice", "available"]
    );
}

#[test]
fn prices_and_initial_stock_out_of_range_are_refused() {
    for (price, currency, available, field) in [
        (-5, "INR", None, "unitPrice"),
        (0, "INR", None, "unitPrice"),
        (crate::money::MAX_MINOR + 1, "INR", None, "unitPrice"),
        (100, "XYZ", None, "currency"),
        (100, "INR", Some(i64::from(MAX_AVAILABLE) + 1), "available"),
        (100, "INR", Some(-1), "available"),
    ] {
        let e = ProductInput {
            name: "Chai".into(),
            unit_price: price,
            currency: currency.into(),
            available,
        }
        .parse("CHAI")
        .unwrap_err();
        assert_eq!(fields(e), vec![field], "{price} {currency} {available:?}");
    }
}

#[test]
fn skus_that_a_url_path_would_resolve_away_are_refused() {
    for bad in [".", "..", "", "a/b", "a b", &"x".repeat(65)] {
        let e = stock_input(1, "restock").parse(bad).unwrap_err();
        assert_eq!(fields(e), vec!["sku"], "{bad:?}");
    }
    assert!(stock_input(1, "restock").parse("...").is_ok());
    assert!(stock_input(1, "restock").parse(".v2").is_ok());
}

#[test]
fn an_adjustment_must_move_stock_within_bounds_and_say_why() {
    let ok = stock_input(-3, "  damaged in transit ")
        .parse("CHAI")
        .unwrap();
    assert_eq!((ok.delta, ok.reason.as_str()), (-3, "damaged in transit"));
    for (delta, reason, expected) in [
        (0, "restock", vec!["delta"]),
        (MAX_DELTA + 1, "restock", vec!["delta"]),
        (-MAX_DELTA - 1, "restock", vec!["delta"]),
        (i64::MIN, "restock", vec!["delta"]),
        (5, "", vec!["reason"]),
        (5, "   ", vec!["reason"]),
        (5, &"r".repeat(MAX_REASON_CHARS + 1), vec!["reason"]),
        (5, "line\nbreak", vec!["reason"]),
        (0, "", vec!["delta", "reason"]),
    ] {
        let e = stock_input(delta, reason).parse("CHAI").unwrap_err();
        assert_eq!(fields(e), expected, "{delta} {reason:?}");
    }
    assert!(stock_input(MAX_DELTA, "r").parse("CHAI").is_ok());
    assert!(
        stock_input(-MAX_DELTA, &"r".repeat(MAX_REASON_CHARS))
            .parse("CHAI")
            .is_ok()
    );
}

#[test]
fn a_write_off_larger_than_the_stock_is_short_and_a_restock_is_capped() {
    assert_eq!(next_level(10, -10), Ok(0));
    assert_eq!(next_level(10, 5), Ok(15));
    assert_eq!(next_level(3, -4), Err(LevelError::Short { available: 3 }));
    assert_eq!(
        next_level(MAX_AVAILABLE, 1),
        Err(LevelError::AboveMax {
            level: i64::from(MAX_AVAILABLE) + 1
        })
    );
    assert_eq!(
        next_level(u32::MAX, -1),
        Ok(u32::MAX - 1),
        "a write-off from above the cap still goes down"
    );
}

#[test]
fn a_cursor_names_its_product_and_a_foreign_or_forged_one_is_refused() {
    let chai = Sku::parse("CHAI").unwrap();
    let mug = Sku::parse("MUG").unwrap();
    let c = encode_cursor(&chai, 42);
    assert_eq!(decode_cursor(&chai, &c), Ok(42));
    for bad in [
        encode_cursor(&mug, 42),
        hex::encode("CHAI#0"),
        hex::encode("CHAI#-1"),
        hex::encode("CHAI"),
        "zz".into(),
        String::new(),
    ] {
        assert_eq!(
            decode_cursor(&chai, &bad),
            Err(StoreError::InvalidCursor),
            "{bad}"
        );
    }
}

proptest! {
    #[test]
    fn an_adjustment_lands_exactly_on_the_sum_or_is_refused_and_never_goes_negative(
        available in 0u32..=u32::MAX,
        delta in -MAX_DELTA..=MAX_DELTA,
    ) {
        let sum = i64::from(available) + delta;
        match next_level(available, delta) {
            Ok(level) => prop_assert_eq!(i64::from(level), sum),
            Err(LevelError::Short { available: a }) => {
                prop_assert_eq!(a, available);
                prop_assert!(sum < 0);
            }
            Err(LevelError::AboveMax { level }) => {
                prop_assert_eq!(level, sum);
                prop_assert!(delta > 0 && sum > i64::from(MAX_AVAILABLE));
            }
        }
    }
}
