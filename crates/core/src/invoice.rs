//! Invoice documents: HTML (printable, archivable, no rendering dependency) with the seller, the
//! buyer, every line and tax-ready totals.

use crate::money::Money;
use crate::order::Order;
use crate::time::Timestamp;

/// Who sells: printed on every invoice (`SELLER_NAME`, `SELLER_ADDRESS`, `SELLER_TAX_ID`).
#[derive(Debug, Clone, Default)]
pub struct Seller {
    pub name: String,
    pub address: String,
    /// GSTIN or other tax registration, when the seller has one.
    pub tax_id: Option<String>,
}

/// `INV-000042`: sequential, zero-padded so they sort.
pub fn invoice_number(n: u64) -> String {
    format!("INV-{n:06}")
}

/// Where an order's invoice document is stored.
pub fn invoice_key(order: &Order) -> String {
    format!("invoices/{}.html", order.id())
}

fn esc(s: &str) -> String {
    escape_html(s)
}

/// `s` as HTML text or a quoted attribute value: `&`, `<`, `>`, `"` and `'` escaped.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn amount(m: Money) -> String {
    esc(&m.to_string())
}

/// The invoice for `order` as an HTML document. Prices are tax-inclusive catalog prices; the
/// tax column is there for sellers who register for tax (filled from the line's tax once tax
/// rates exist in the catalog).
pub fn render_html(order: &Order, number: &str, issued_at: Timestamp, seller: &Seller) -> String {
    let a = order.shipping_address();
    let c = order.customer();
    let mut rows = String::new();
    for l in order.lines() {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>\n",
            esc(l.sku.as_str()),
            esc(&l.name),
            l.quantity.get(),
            amount(l.unit_price),
            amount(l.line_total),
        ));
    }
    let zero = Money::zero(order.total().currency());
    let refunded = order.refunded();
    let refund_row = if refunded.minor() > 0 {
        format!(
            "<tr><th colspan=4>Refunded</th><td class=n>{}</td></tr>\n",
            amount(refunded)
        )
    } else {
        String::new()
    };
    format!(
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>Invoice {number}</title>\
<style>body{{font-family:sans-serif}}td,th{{padding:4px 8px;text-align:left}}.n{{text-align:right}}</style></head><body>\n\
<h1>Tax invoice {number}</h1>\n\
<p>Issued {issued}<br>Order {order_number} ({order_id})</p>\n\
<h2>Seller</h2><p>{seller}<br>{seller_address}{seller_tax}</p>\n\
<h2>Buyer</h2><p>{buyer}<br>{email}<br>{line1}{line2}<br>{city}, {state} {postal}<br>{country}</p>\n\
<table><thead><tr><th>SKU</th><th>Item</th><th class=n>Qty</th><th class=n>Unit price</th><th class=n>Amount</th></tr></thead><tbody>\n\
{rows}</tbody><tfoot>\n\
<tr><th colspan=4>Taxable value</th><td class=n>{subtotal}</td></tr>\n\
<tr><th colspan=4>Tax (included in prices)</th><td class=n>{tax}</td></tr>\n\
<tr><th colspan=4>Total</th><td class=n>{total}</td></tr>\n\
{refund_row}</tfoot></table>\n</body></html>\n",
        number = esc(number),
        issued = issued_at,
        order_number = esc(order.number().as_str()),
        order_id = esc(order.id().as_str()),
        seller = esc(&seller.name),
        seller_address = esc(&seller.address),
        seller_tax = seller
            .tax_id
            .as_deref()
            .map(|t| format!("<br>Tax id: {}", esc(t)))
            .unwrap_or_default(),
        buyer = esc(&c.name),
        email = esc(c.email.as_str()),
        line1 = esc(&a.line1),
        line2 = a
            .line2
            .as_deref()
            .map(|l| format!("<br>{}", esc(l)))
            .unwrap_or_default(),
        city = esc(&a.city),
        state = esc(&a.state),
        postal = esc(&a.postal_code),
        country = esc(a.country.as_str()),
        subtotal = amount(order.total()),
        tax = amount(zero),
        total = amount(order.total()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::Owner;

    #[test]
    fn an_invoice_shows_seller_buyer_lines_and_totals_and_escapes_text() {
        let o = crate::order::tests::sample_order(Owner::Guest {
            token_hash: crate::ids::TokenHash::of("x"),
        });
        let seller = Seller {
            name: "Chai & Co <Bengaluru>".into(),
            address: "1 Church St".into(),
            tax_id: Some("29ABCDE1234F1Z5".into()),
        };
        let html = render_html(
            &o,
            &invoice_number(42),
            Timestamp::from_unix_millis(0),
            &seller,
        );
        assert!(html.contains("Tax invoice INV-000042"));
        assert!(
            html.contains("Chai &amp; Co &lt;Bengaluru&gt;"),
            "text is escaped"
        );
        assert!(!html.contains("<Bengaluru>"));
        assert!(html.contains("29ABCDE1234F1Z5"));
        assert!(html.contains("Masala chai"));
        assert!(html.contains("INR 500.00"), "{html}");
        assert!(html.contains("Asha") && html.contains("560001"));
        assert_eq!(invoice_number(7), "INV-000007");
    }
}
