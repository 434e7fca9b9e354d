//! `POST /orders`: parse the request, price it from the catalog, open a payment at the
//! provider, and reserve stock + record the order + remember the idempotency key in one
//! all-or-nothing store write.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::customer::{
    CountryCode, Customer, Email, Phone, ShippingAddress, postal_code, text_field,
};
use crate::ids::{AccessToken, IdempotencyKey, OrderId, OrderNumber, Sku, UserId};
use crate::money::{Currency, Money};
use crate::order::{Order, OrderDraft, OrderLine, Owner, ProviderKind, Quantity};
use crate::ports::{
    CheckoutRequest, Clock, CreateOutcome, IdGenerator, IdempotencyRecord, OrderStore,
    PaymentProviders, ProviderError, StockShortage, StoreError,
};
use crate::validation::{Collector, ValidationErrors};

use super::OrderPolicy;

/// Most lines one order may have.
pub const MAX_LINES: usize = 50;

/// The JSON body of `POST /orders` as a client sends it. Types are loose on purpose: the rules
/// live in [`CreateOrderInput::parse`], which names every field that breaks one.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateOrderInput {
    pub items: Vec<ItemInput>,
    pub currency: String,
    pub payment_provider: String,
    pub customer: CustomerInput,
    pub shipping_address: AddressInput,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    pub sku: String,
    pub quantity: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    #[serde(default)]
    pub email: Option<String>,
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressInput {
    pub name: String,
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
}

/// A well-formed order request. Whether its SKUs exist and are in stock is for the catalog to say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRequest {
    pub items: Vec<(Sku, Quantity)>,
    pub currency: Currency,
    pub provider: ProviderKind,
    pub email: Option<Email>,
    pub name: String,
    pub phone: Option<Phone>,
    pub shipping_address: ShippingAddress,
}

impl CreateOrderInput {
    /// Applies every field rule and reports all broken ones at once.
    pub fn parse(self) -> Result<OrderRequest, ValidationErrors> {
        let mut c = Collector::new();
        if self.items.is_empty() {
            c.push("items", "must contain at least one item");
        }
        // Too many lines is one error on `items`: the lines themselves are not read, so the
        // work and the error stay bounded by MAX_LINES whatever the body holds.
        let lines: &[ItemInput] = if self.items.len() > MAX_LINES {
            c.push("items", format!("must contain at most {MAX_LINES} items"));
            &[]
        } else {
            &self.items
        };
        let mut seen = HashSet::new();
        let mut items = Vec::with_capacity(lines.len());
        for (i, item) in lines.iter().enumerate() {
            let sku = c.take(&format!("items[{i}].sku"), Sku::parse(&item.sku));
            let qty = c.take(
                &format!("items[{i}].quantity"),
                Quantity::new(item.quantity),
            );
            if let Some(sku) = &sku
                && !seen.insert(sku.clone())
            {
                c.push(
                    format!("items[{i}].sku"),
                    "appears more than once; combine the quantities",
                );
            }
            if let (Some(sku), Some(qty)) = (sku, qty) {
                items.push((sku, qty));
            }
        }
        let currency = c.take("currency", Currency::parse(&self.currency));
        let provider = c.take(
            "paymentProvider",
            ProviderKind::parse(&self.payment_provider).ok_or("must be \"stripe\" or \"razorpay\""),
        );
        let email = match &self.customer.email {
            Some(e) => c.take("customer.email", Email::parse(e)).map(Some),
            None => Some(None),
        };
        let name = c.take("customer.name", text_field(&self.customer.name));
        let phone = match &self.customer.phone {
            Some(p) => c.take("customer.phone", Phone::parse(p)).map(Some),
            None => Some(None),
        };
        let a = &self.shipping_address;
        let address = (
            c.take("shippingAddress.name", text_field(&a.name)),
            c.take("shippingAddress.line1", text_field(&a.line1)),
            match &a.line2 {
                Some(l) if !l.trim().is_empty() => {
                    c.take("shippingAddress.line2", text_field(l)).map(Some)
                }
                _ => Some(None),
            },
            c.take("shippingAddress.city", text_field(&a.city)),
            c.take("shippingAddress.state", text_field(&a.state)),
            c.take("shippingAddress.postalCode", postal_code(&a.postal_code)),
            c.take("shippingAddress.country", CountryCode::parse(&a.country)),
        );
        c.finish()?;
        match (currency, provider, email, name, phone, address) {
            (
                Some(currency),
                Some(provider),
                Some(email),
                Some(name),
                Some(phone),
                (
                    Some(aname),
                    Some(line1),
                    Some(line2),
                    Some(city),
                    Some(state),
                    Some(postal_code),
                    Some(country),
                ),
            ) => Ok(OrderRequest {
                items,
                currency,
                provider,
                email,
                name,
                phone,
                shipping_address: ShippingAddress {
                    name: aname,
                    line1,
                    line2,
                    city,
                    state,
                    postal_code,
                    country,
                },
            }),
            // Every `None` above recorded an error, so `finish` already returned.
            _ => Err(ValidationErrors::single("body", "is invalid")),
        }
    }
}

/// Who is buying.
#[derive(Debug, Clone)]
pub enum Buyer {
    /// No credentials: must give an email, and gets an access token for the order.
    Guest,
    User {
        id: UserId,
        email: Option<Email>,
    },
}

impl Buyer {
    /// The namespace of this buyer's idempotency keys.
    fn idempotency_scope(&self, req: &OrderRequest, key: &IdempotencyKey) -> String {
        match self {
            Buyer::User { id, .. } => format!("user:{id}#{key}"),
            // Guests have no id; their email (hashed: keys are stored in clear) stands in.
            Buyer::Guest => {
                let email = req
                    .email
                    .as_ref()
                    .map(|e| e.as_str().to_ascii_lowercase())
                    .unwrap_or_default();
                let h = hex::encode(Sha256::digest(email.as_bytes()));
                format!("guest:{}#{key}", &h[..32])
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CreateOrderError {
    #[error("invalid request: {0}")]
    Validation(#[from] ValidationErrors),
    #[error("insufficient stock")]
    InsufficientStock(Vec<StockShortage>),
    #[error("idempotency key reused with a different request")]
    IdempotencyKeyReused,
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The id generator produced an identifier that is not a ULID: a broken adapter, not bad
    /// input. Nothing was written.
    #[error("the id generator produced an unusable id: {0}")]
    BadGeneratedId(String),
}

/// What the caller gets back: the response body (status 201) and whether it is a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedResponse {
    pub order_id: OrderId,
    pub body: String,
    pub replayed: bool,
}

/// Turns the new order into the exact response body, so an idempotent replay can return it.
pub type RenderReceipt<'a> = &'a (dyn Fn(&Order, Option<&AccessToken>) -> String + Sync);

pub struct CreateOrderDeps<'a> {
    pub store: &'a dyn OrderStore,
    pub providers: &'a PaymentProviders,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn IdGenerator,
    pub policy: &'a OrderPolicy,
}

pub async fn create_order(
    deps: CreateOrderDeps<'_>,
    buyer: &Buyer,
    req: OrderRequest,
    key: Option<&IdempotencyKey>,
    render: RenderReceipt<'_>,
) -> Result<CreatedResponse, CreateOrderError> {
    let now = deps.clock.now();
    let customer = resolve_customer(buyer, &req)?;
    let fingerprint = fingerprint(buyer, &req);
    let scope = key.map(|k| buyer.idempotency_scope(&req, k));

    if let Some(scope) = &scope
        && let Some(rec) = deps.store.get_idempotency(scope, now).await?
    {
        return replay(rec, &fingerprint);
    }

    let provider = deps.providers.get(req.provider).ok_or_else(|| {
        ValidationErrors::single("paymentProvider", "is not enabled on this deployment")
    })?;

    let skus: Vec<Sku> = req.items.iter().map(|(s, _)| s.clone()).collect();
    let products = deps.store.get_products(&skus).await?;
    let mut c = Collector::new();
    let mut lines = Vec::with_capacity(req.items.len());
    let mut shortages = Vec::new();
    let mut total = Money::zero(req.currency);
    for (i, (sku, qty)) in req.items.iter().enumerate() {
        let Some(p) = products.iter().find(|p| &p.sku == sku) else {
            c.push(format!("items[{i}].sku"), "is not in the catalog");
            continue;
        };
        if p.unit_price.currency() != req.currency {
            c.push(
                "currency",
                format!(
                    "must be {} (the catalog's currency for {sku})",
                    p.unit_price.currency()
                ),
            );
            continue;
        }
        let line_total = match p.unit_price.times(qty.get()) {
            Ok(t) => t,
            Err(e) => {
                c.push(format!("items[{i}].quantity"), e.to_string());
                continue;
            }
        };
        match total.checked_add(line_total) {
            Ok(t) => total = t,
            Err(e) => c.push("items", e.to_string()),
        }
        if p.available < qty.get() {
            shortages.push(StockShortage {
                sku: sku.clone(),
                requested: qty.get(),
                available: p.available,
            });
        }
        lines.push(OrderLine {
            sku: sku.clone(),
            name: p.name.clone(),
            quantity: *qty,
            unit_price: p.unit_price,
            line_total,
        });
    }
    c.finish()?;
    // Cheap early answer; the store's conditional write below is what actually guarantees it.
    if !shortages.is_empty() {
        return Err(CreateOrderError::InsufficientStock(shortages));
    }

    let ulid = deps.ids.ulid(now);
    let id = OrderId::from_ulid(&ulid)
        .map_err(|e| CreateOrderError::BadGeneratedId(format!("{ulid:?}: {e}")))?;
    let number = OrderNumber::parse(&format!("ORD-{}-{}", now.compact_date(), &ulid[18..]))
        .map_err(|e| {
            CreateOrderError::BadGeneratedId(format!("order number from {ulid:?}: {e}"))
        })?;
    let (owner, token) = match buyer {
        Buyer::User { id, .. } => (
            Owner::User {
                user_id: id.clone(),
            },
            None,
        ),
        Buyer::Guest => {
            let token = AccessToken::new(format!("otk_{}", deps.ids.secret()));
            (
                Owner::Guest {
                    token_hash: token.hash(),
                },
                Some(token),
            )
        }
    };
    let expires_at = now.plus(deps.policy.payment_window);

    let payment = provider
        .create_checkout(&CheckoutRequest {
            order_id: id.clone(),
            order_number: number.clone(),
            amount: total,
            customer: customer.clone(),
            lines: lines.clone(),
            expires_at,
            created_at: now,
        })
        .await?;

    let order = Order::open(
        OrderDraft {
            id: id.clone(),
            number,
            owner,
            customer,
            shipping_address: req.shipping_address.clone(),
            lines,
            total,
            payment,
            expires_at,
        },
        now,
    );
    let body = render(&order, token.as_ref());
    let record = scope.map(|scope| IdempotencyRecord {
        scope,
        request_hash: fingerprint.clone(),
        order_id: id,
        response: body.clone(),
        created_at: now,
        expires_at: now.plus(deps.policy.idempotency_ttl),
    });

    match deps
        .store
        .create_order(&order, record.as_ref(), now)
        .await?
    {
        CreateOutcome::Created => {
            tracing::info!(order_id = %order.id(), amount = order.total().minor(), "order created");
            Ok(CreatedResponse {
                order_id: order.id().clone(),
                body,
                replayed: false,
            })
        }
        CreateOutcome::InsufficientStock(s) => Err(CreateOrderError::InsufficientStock(s)),
        // A concurrent request with the same key won the race: answer as it did.
        CreateOutcome::IdempotencyKeyTaken(rec) => replay(rec, &fingerprint),
    }
}

fn replay(rec: IdempotencyRecord, fingerprint: &str) -> Result<CreatedResponse, CreateOrderError> {
    if rec.request_hash == fingerprint {
        Ok(CreatedResponse {
            order_id: rec.order_id,
            body: rec.response,
            replayed: true,
        })
    } else {
        Err(CreateOrderError::IdempotencyKeyReused)
    }
}

fn resolve_customer(buyer: &Buyer, req: &OrderRequest) -> Result<Customer, ValidationErrors> {
    let email = match (buyer, &req.email) {
        (_, Some(e)) => e.clone(),
        (Buyer::User { email: Some(e), .. }, None) => e.clone(),
        (Buyer::Guest, None) => {
            return Err(ValidationErrors::single(
                "customer.email",
                "is required for guest checkout",
            ));
        }
        (Buyer::User { email: None, .. }, None) => {
            return Err(ValidationErrors::single(
                "customer.email",
                "is required (the sign-in token carries no email)",
            ));
        }
    };
    Ok(Customer {
        email,
        name: req.name.clone(),
        phone: req.phone.clone(),
    })
}

/// A stable hash of what the request asks for, after parsing (so whitespace and key order in
/// the JSON do not matter).
fn fingerprint(buyer: &Buyer, req: &OrderRequest) -> String {
    let mut h = Sha256::new();
    if let Buyer::User { id, .. } = buyer {
        h.update(id.as_str().as_bytes());
    }
    h.update([0]);
    // Serialising a struct of strings and integers cannot fail.
    h.update(serde_json::to_vec(req).unwrap_or_default());
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests;
