//! The demo catalog the dev server (and a Lambda smoke test) starts with: a few INR products,
//! one of them scarce (`SAREE-KANJI-RED`, 3 units) so running out of stock can be tried by hand.

use oms_core::{Currency, Money, Product, Sku};
use serde::Deserialize;

const DEMO: &str = include_str!("../demo-catalog.json");

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Catalog {
    currency: String,
    products: Vec<Item>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    sku: String,
    name: String,
    unit_price: i64,
    available: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("catalog is invalid: {0}")]
pub struct CatalogError(String);

/// Parses a catalog document (`{"currency","products":[{"sku","name","unitPrice","available"}]}`).
pub fn parse_catalog(json: &str) -> Result<Vec<Product>, CatalogError> {
    let c: Catalog = serde_json::from_str(json).map_err(|e| CatalogError(e.to_string()))?;
    let currency = Currency::parse(&c.currency).map_err(|e| CatalogError(e.to_string()))?;
    c.products
        .into_iter()
        .map(|i| {
            Ok(Product {
                sku: Sku::parse(&i.sku).map_err(|e| CatalogError(format!("{}: {e}", i.sku)))?,
                unit_price: Money::new(i.unit_price, currency)
                    .map_err(|e| CatalogError(format!("{}: {e}", i.sku)))?,
                name: i.name,
                available: i.available,
            })
        })
        .collect()
}

/// The shipped demo catalog.
pub fn demo_catalog() -> Vec<Product> {
    // Checked by `the_demo_catalog_parses_and_has_a_scarce_product`.
    parse_catalog(DEMO).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_catalog_parses_and_has_a_scarce_product() {
        let products = parse_catalog(DEMO).unwrap();
        assert!(products.len() >= 4);
        assert!(
            products
                .iter()
                .all(|p| p.unit_price.currency().as_str() == "INR")
        );
        assert!(
            products.iter().any(|p| p.available <= 5),
            "one product must be scarce"
        );
    }

    #[test]
    fn a_bad_catalog_is_refused_with_the_reason() {
        let e = parse_catalog(r#"{"currency":"INR","products":[{"sku":"a b","name":"x","unitPrice":1,"available":1}]}"#)
            .unwrap_err();
        assert!(e.to_string().contains("a b"));
        assert!(parse_catalog(r#"{"currency":"XXX","products":[]}"#).is_err());
    }
}
