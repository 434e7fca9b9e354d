//! [`DynamoStore`]: the [`OrderStore`] port on one DynamoDB table. Each operation is a read, a
//! conditional write or a transaction put together from the key builders, the item codecs and
//! the transaction engine beside this module, and turns the result into the port's outcome.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    Delete, KeysAndAttributes, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oms_core::ports::{
    CommitOutcome, CreateOutcome, EventCommit, EventRecord, FulfilmentRead, IdempotencyRecord,
    InvoiceOutcome, OrderPage, OrderStore, OutboxEntry, StockLevel, StoreError, UnmatchedTracking,
    Upserted,
};
use oms_core::search::{EventPage, EventSearch, OrderSearch};
use oms_core::{Order, OrderId, Product, ProviderKind, Sku, StockRecord, Timestamp, UserId};

use super::errors::{applied, build, corrupt, sdk_error};
use super::items::{
    counter_value, event_from, event_item, idempotency_from, idempotency_item, order_from,
    order_item, outbox_from, outbox_item, payref_item, payref_order_from, product_from,
    product_item, stock_from, stock_item, stock_record_from,
};
use super::keys::{
    Cursor, INVOICE_COUNTER_PK, awb_pk, event_pk, idempotency_pk, key, order_events_pk, order_pk,
    outbox_pk, payref_pk, product_pk, stock_sk, unmatched_tracking_pk, user_pk,
};
use super::transactions::{Cancelled, reason, shortages};
use super::{DynamoStore, Item, n, s};

impl DynamoStore {
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get_item(&self, pk: String, sk: &str, op: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(op, e))?;
        Ok(out.item)
    }

    /// Strongly consistent reads of up to 100 keys in one `BatchGetItem`, retrying keys left
    /// unprocessed (throttling) with a short back-off. Items come back in no particular order.
    pub(super) async fn batch_get(
        &self,
        mut keys: Vec<Item>,
        op: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::with_capacity(keys.len());
        for attempt in 0..5u32 {
            if keys.is_empty() {
                break;
            }
            let request = build(
                KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut keys)))
                    .consistent_read(true)
                    .build(),
            )?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| sdk_error(op, e))?;
            items.extend(
                out.responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default(),
            );
            keys = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|ka| ka.keys)
                .unwrap_or_default();
            if !keys.is_empty() {
                tokio::time::sleep(Duration::from_millis(20 * 2u64.pow(attempt))).await;
            }
        }
        if !keys.is_empty() {
            return Err(StoreError::Unavailable(format!(
                "{op}: keys left unprocessed"
            )));
        }
        Ok(items)
    }

    /// Writes (or replaces) catalog products: for seeding a table.
    pub async fn put_products(&self, products: &[Product]) -> Result<(), StoreError> {
        for p in products {
            let item = product_item(p)?;
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .send()
                .await
                .map_err(|e| sdk_error("put product", e))?;
        }
        Ok(())
    }

    /// Outbox entries created before `before`, oldest first (for the sweep).
    pub async fn outbox_before(
        &self,
        before: Timestamp,
        limit: i32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("GSI2")
            .key_condition_expression("GSI2PK = :p AND GSI2SK < :before")
            .expression_attribute_values(":p", s("OUTBOX"))
            .expression_attribute_values(":before", s(before.to_string()))
            .limit(limit)
            .send()
            .await
            .map_err(|e| sdk_error("query outbox", e))?;
        out.items().iter().map(outbox_from).collect()
    }
}

#[async_trait]
impl OrderStore for DynamoStore {
    async fn list_products(&self) -> Result<Vec<Product>, StoreError> {
        let mut products = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("GSI2")
                .key_condition_expression("GSI2PK = :p")
                .expression_attribute_values(":p", s("PRODUCT"))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("list products", e))?;
            for item in out.items.unwrap_or_default() {
                products.push(product_from(item)?);
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(products),
            }
        }
    }

    async fn get_products(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError> {
        let mut products = Vec::with_capacity(skus.len());
        for chunk in skus.chunks(100) {
            let keys = chunk
                .iter()
                .map(|k| key(product_pk(k), "PRODUCT"))
                .collect();
            for item in self.batch_get(keys, "get products").await? {
                products.push(product_from(item)?);
            }
        }
        Ok(products)
    }

    async fn upsert_product(&self, product: &Product) -> Result<Upserted, StoreError> {
        // One conditional-free update: the stock is only written when the item is new
        // (`if_not_exists`), and the old item says which of the two happened.
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(product_pk(&product.sku), "PRODUCT")))
            .update_expression(
                "SET #sku = :sku, #name = :name, #price = :price, #currency = :currency, \
                 GSI2PK = :catalog, GSI2SK = :sku, #available = if_not_exists(#available, :available)",
            )
            .expression_attribute_names("#sku", "sku")
            .expression_attribute_names("#name", "name")
            .expression_attribute_names("#price", "unitPrice")
            .expression_attribute_names("#currency", "currency")
            .expression_attribute_names("#available", "available")
            .expression_attribute_values(":sku", s(product.sku.as_str()))
            .expression_attribute_values(":name", s(&product.name))
            .expression_attribute_values(":price", n(product.unit_price.minor()))
            .expression_attribute_values(
                ":currency",
                s(product.unit_price.currency().as_str()),
            )
            .expression_attribute_values(":catalog", s("PRODUCT"))
            .expression_attribute_values(":available", n(product.available))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_error("upsert product", e))?;
        match out.attributes.filter(|old| !old.is_empty()) {
            None => Ok(Upserted::Created(product.clone())),
            Some(old) => {
                let available = old
                    .get("available")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| corrupt("product", "no available"))?;
                Ok(Upserted::Updated(Product {
                    available,
                    ..product.clone()
                }))
            }
        }
    }

    async fn get_stock(&self, sku: &Sku) -> Result<Option<StockLevel>, StoreError> {
        self.get_item(product_pk(sku), "PRODUCT", "get stock")
            .await?
            .map(stock_from)
            .transpose()
    }

    async fn adjust_stock(&self, record: &StockRecord, expected: u32) -> Result<bool, StoreError> {
        let previous = record.number.saturating_sub(1);
        // A product never adjusted has no `adjustments` attribute (seeded by `put_products`
        // before it existed, or by another tool).
        let condition = if previous == 0 {
            "available = :expected AND (attribute_not_exists(adjustments) OR adjustments = :previous)"
        } else {
            "available = :expected AND adjustments = :previous"
        };
        let items = vec![
            TransactWriteItem::builder()
                .update(build(
                    Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(product_pk(&record.sku), "PRODUCT")))
                        .update_expression("SET available = :level, adjustments = :number")
                        .condition_expression(condition)
                        .expression_attribute_values(":level", n(record.level))
                        .expression_attribute_values(":number", n(record.number))
                        .expression_attribute_values(":expected", n(expected))
                        .expression_attribute_values(":previous", n(previous))
                        .build(),
                )?)
                .build(),
            TransactWriteItem::builder()
                .put(build(
                    self.put(stock_item(record)?)
                        .condition_expression("attribute_not_exists(PK)")
                        .build(),
                )?)
                .build(),
        ];
        match self.transact(items, "adjust stock").await? {
            Ok(()) => Ok(true),
            Err(Cancelled::Conflict) => Err(StoreError::Unavailable(
                "adjust stock: transaction kept conflicting".into(),
            )),
            Err(Cancelled::Conditions(_)) => {
                // The product moved on, perhaps because an earlier attempt of this very call
                // committed (a timeout after the commit, retried by the SDK): then the record
                // under this number is ours, and that is success.
                let existing = self
                    .get_item(
                        product_pk(&record.sku),
                        &stock_sk(record.number),
                        "get stock record",
                    )
                    .await?
                    .map(stock_record_from)
                    .transpose()?;
                Ok(existing.as_ref() == Some(record))
            }
        }
    }

    async fn stock_records(
        &self,
        sku: &Sku,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StockRecord>, StoreError> {
        // The product item (`SK = PRODUCT`) shares the partition; the `STOCK#` range keeps it out.
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", s(product_pk(sku)))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX));
        let query = match before {
            None => query
                .key_condition_expression("PK = :pk AND begins_with(SK, :stock)")
                .expression_attribute_values(":stock", s("STOCK#")),
            Some(b) => query
                .key_condition_expression("PK = :pk AND SK BETWEEN :lowest AND :highest")
                .expression_attribute_values(":lowest", s("STOCK#"))
                .expression_attribute_values(":highest", s(stock_sk(b.saturating_sub(1)))),
        };
        let out = query
            .send()
            .await
            .map_err(|e| sdk_error("list stock records", e))?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(stock_record_from)
            .collect()
    }

    async fn get_idempotency(
        &self,
        scope: &str,
        now: Timestamp,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        match self
            .get_item(idempotency_pk(scope), "IDEMP", "get idempotency record")
            .await?
        {
            None => Ok(None),
            Some(item) => Ok(Some(idempotency_from(item)?).filter(|r| r.expires_at > now)),
        }
    }

    async fn create_order(
        &self,
        order: &Order,
        idempotency: Option<&IdempotencyRecord>,
        now: Timestamp,
    ) -> Result<CreateOutcome, StoreError> {
        let mut items = vec![
            TransactWriteItem::builder()
                .put(build(
                    self.put(order_item(order)?)
                        .condition_expression("attribute_not_exists(PK)")
                        .build(),
                )?)
                .build(),
        ];
        for line in order.lines() {
            items.push(self.take_stock(&line.sku, line.quantity.get())?);
        }
        let pay = order.payment();
        items.push(
            TransactWriteItem::builder()
                .put(build(
                    self.put(payref_item(
                        pay.provider,
                        &pay.provider_order_id,
                        order.id(),
                    ))
                    .build(),
                )?)
                .build(),
        );
        let idem_index = items.len();
        if let Some(rec) = idempotency {
            items.push(
                TransactWriteItem::builder()
                    .put(build(
                        self.put(idempotency_item(rec)?)
                            .condition_expression("attribute_not_exists(PK) OR expiresAtMs <= :now")
                            .expression_attribute_values(":now", n(now.unix_millis()))
                            .build(),
                    )?)
                    .build(),
            );
        }
        match self.transact(items, "create order").await? {
            Ok(()) => Ok(CreateOutcome::Created),
            Err(Cancelled::Conflict) => Err(StoreError::Unavailable(
                "create order: transaction kept conflicting".into(),
            )),
            Err(Cancelled::Conditions(reasons)) => {
                if reason(&reasons, 0) == Some("ConditionalCheckFailed") {
                    // Order ids are unique per request, so the order can only exist because an
                    // earlier attempt of this very call committed (a timeout after the commit,
                    // retried by the SDK): that is success.
                    if self.get_order(order.id()).await?.is_some() {
                        return Ok(CreateOutcome::Created);
                    }
                    return Err(StoreError::Corrupt(format!(
                        "order {} already exists",
                        order.id()
                    )));
                }
                if let Some(rec) = idempotency
                    && reason(&reasons, idem_index) == Some("ConditionalCheckFailed")
                {
                    let old = match reasons[idem_index].item() {
                        Some(item) => idempotency_from(item.clone())?,
                        // Not every implementation returns the old item: read it.
                        None => self
                            .get_idempotency(&rec.scope, Timestamp::from_unix_millis(0))
                            .await?
                            .ok_or_else(|| corrupt("idempotency", "the record vanished"))?,
                    };
                    return Ok(CreateOutcome::IdempotencyKeyTaken(old));
                }
                Ok(CreateOutcome::InsufficientStock(shortages(
                    order, &reasons, 1,
                )))
            }
        }
    }

    async fn get_order(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        self.get_item(order_pk(id), "ORDER", "get order")
            .await?
            .map(order_from)
            .transpose()
    }

    async fn list_orders_for_user(
        &self,
        user: &UserId,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<OrderPage, StoreError> {
        let partition = user_pk(user);
        let start = match cursor {
            None => None,
            Some(c) => {
                let raw = URL_SAFE_NO_PAD
                    .decode(c)
                    .map_err(|_| StoreError::InvalidCursor)?;
                let c: Cursor =
                    serde_json::from_slice(&raw).map_err(|_| StoreError::InvalidCursor)?;
                if c.gsi1pk != partition {
                    return Err(StoreError::InvalidCursor);
                }
                Some(HashMap::from([
                    ("PK".to_owned(), s(c.pk)),
                    ("SK".to_owned(), s(c.sk)),
                    ("GSI1PK".to_owned(), s(c.gsi1pk)),
                    ("GSI1SK".to_owned(), s(c.gsi1sk)),
                ]))
            }
        };
        // One more than asked: its presence says whether a next page exists, so the last page
        // never points at an empty one.
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("GSI1")
            .key_condition_expression("GSI1PK = :u")
            .expression_attribute_values(":u", s(partition))
            .scan_index_forward(false)
            .limit(limit as i32 + 1)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error("list orders", e))?;
        let mut items = out.items.unwrap_or_default();
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next_cursor = match (more, items.last()) {
            (true, Some(last)) => {
                let get = |k: &str| {
                    last.get(k)
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default()
                };
                let c = Cursor {
                    pk: get("PK"),
                    sk: get("SK"),
                    gsi1pk: get("GSI1PK"),
                    gsi1sk: get("GSI1SK"),
                };
                Some(
                    URL_SAFE_NO_PAD
                        .encode(serde_json::to_vec(&c).map_err(|e| corrupt("cursor", e))?),
                )
            }
            _ => None,
        };
        let orders = items
            .into_iter()
            .map(order_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(OrderPage {
            orders,
            next_cursor,
        })
    }

    async fn find_order_by_ref(
        &self,
        provider: ProviderKind,
        reference: &str,
    ) -> Result<Option<OrderId>, StoreError> {
        let Some(item) = self
            .get_item(
                payref_pk(provider, reference),
                "PAYREF",
                "get payment reference",
            )
            .await?
        else {
            return Ok(None);
        };
        payref_order_from(&item).map(Some)
    }

    async fn get_event(
        &self,
        provider: ProviderKind,
        event_id: &str,
    ) -> Result<Option<EventRecord>, StoreError> {
        self.get_item(event_pk(provider, event_id), "EVENT", "get event")
            .await?
            .map(event_from)
            .transpose()
    }

    async fn order_events(
        &self,
        order_id: &OrderId,
        limit: u32,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("GSI1")
            .key_condition_expression("GSI1PK = :o")
            .expression_attribute_values(":o", s(order_events_pk(order_id)))
            .scan_index_forward(false)
            .limit(limit as i32)
            .send()
            .await
            .map_err(|e| sdk_error("list an order's events", e))?;
        out.items().iter().cloned().map(event_from).collect()
    }

    async fn search_orders(
        &self,
        search: &OrderSearch,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<OrderPage, StoreError> {
        self.search_orders_index(search, limit, cursor).await
    }

    async fn search_events(
        &self,
        search: &EventSearch,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<EventPage, StoreError> {
        self.search_events_index(search, limit, cursor).await
    }

    async fn commit_event(&self, c: EventCommit<'_>) -> Result<CommitOutcome, StoreError> {
        let event = event_item(c.record)?;
        let record_only = c.order.is_none() && c.payment_refs.is_empty() && c.outbox.is_none();
        if record_only {
            // One conditional put is enough (and half the cost of a transaction).
            let res = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(event))
                .condition_expression("attribute_not_exists(PK)")
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            return match res {
                Ok(_) => Ok(CommitOutcome::Committed),
                Err(e) => match e.as_service_error() {
                    Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(cf)) => {
                        let old = cf.item().cloned().ok_or_else(|| corrupt("event", "no old item"))?;
                        Ok(CommitOutcome::Duplicate(event_from(old)?))
                    }
                    _ => Err(sdk_error("record event", e)),
                },
            };
        }
        let mut items = vec![
            TransactWriteItem::builder()
                .put(build(
                    self.put(event)
                        .condition_expression("attribute_not_exists(PK)")
                        .build(),
                )?)
                .build(),
        ];
        let order_index = items.len();
        if let Some((order, expected)) = c.order {
            items.push(
                TransactWriteItem::builder()
                    .put(self.put_order_if(order, expected)?)
                    .build(),
            );
        }
        let lines_index = items.len();
        if let (Some((order, _)), true) = (c.order, c.reserve_stock) {
            for line in order.lines() {
                items.push(self.take_stock(&line.sku, line.quantity.get())?);
            }
        }
        if let Some(order_id) = &c.record.order_id {
            for r in &c.payment_refs {
                items.push(
                    TransactWriteItem::builder()
                        .put(build(
                            self.put(payref_item(c.record.provider, r, order_id))
                                .build(),
                        )?)
                        .build(),
                );
            }
        }
        if let Some(entry) = &c.outbox {
            items.push(
                TransactWriteItem::builder()
                    .put(build(self.put(outbox_item(entry)).build())?)
                    .build(),
            );
        }
        match self.transact(items, "commit event").await? {
            Ok(()) => Ok(CommitOutcome::Committed),
            Err(Cancelled::Conflict) => Err(StoreError::Unavailable(
                "commit event: transaction kept conflicting".into(),
            )),
            Err(Cancelled::Conditions(reasons)) => {
                if reason(&reasons, 0) == Some("ConditionalCheckFailed") {
                    let old = match reasons[0].item() {
                        Some(item) => event_from(item.clone())?,
                        // Not every implementation returns the old item: read it.
                        None => self
                            .get_event(c.record.provider, &c.record.event_id)
                            .await?
                            .ok_or_else(|| corrupt("event", "the record vanished"))?,
                    };
                    return Ok(CommitOutcome::Duplicate(old));
                }
                if c.order.is_some()
                    && reason(&reasons, order_index) == Some("ConditionalCheckFailed")
                {
                    return Ok(CommitOutcome::VersionConflict);
                }
                match c.order {
                    Some((order, _)) if c.reserve_stock => Ok(CommitOutcome::InsufficientStock(
                        shortages(order, &reasons, lines_index),
                    )),
                    _ => Err(StoreError::Backend(format!(
                        "commit event: unexpected cancellation {reasons:?}"
                    ))),
                }
            }
        }
    }

    async fn save_order(
        &self,
        order: &Order,
        expected_version: u64,
        outbox: Option<&OutboxEntry>,
    ) -> Result<bool, StoreError> {
        let put = self.put_order_if(order, expected_version)?;
        if outbox.is_none() {
            // One item: a conditional put costs half a transaction.
            let res = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(put.item))
                .set_condition_expression(put.condition_expression)
                .set_expression_attribute_values(put.expression_attribute_values)
                .send()
                .await;
            return applied("save order", res);
        }
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        if let Some(entry) = outbox {
            items.push(
                TransactWriteItem::builder()
                    .put(build(self.put(outbox_item(entry)).build())?)
                    .build(),
            );
        }
        match self.transact(items, "save order").await? {
            Ok(()) => Ok(true),
            Err(Cancelled::Conditions(_)) => Ok(false),
            Err(Cancelled::Conflict) => Err(StoreError::Unavailable(
                "save order: transaction kept conflicting".into(),
            )),
        }
    }

    async fn release_order_stock(
        &self,
        order: &Order,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        let mut items = vec![
            TransactWriteItem::builder()
                .put(self.put_order_if(order, expected_version)?)
                .build(),
        ];
        for line in order.lines() {
            items.push(self.give_stock(&line.sku, line.quantity.get())?);
        }
        match self.transact(items, "cancel order").await? {
            Ok(()) => Ok(true),
            Err(Cancelled::Conditions(reasons))
                if reason(&reasons, 0) == Some("ConditionalCheckFailed") =>
            {
                Ok(false)
            }
            Err(Cancelled::Conditions(reasons)) => Err(StoreError::Corrupt(format!(
                "cancel order: a product is missing: {reasons:?}"
            ))),
            Err(Cancelled::Conflict) => Err(StoreError::Unavailable(
                "cancel order: transaction kept conflicting".into(),
            )),
        }
    }

    async fn save_shipped_order(
        &self,
        order: &Order,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        let Some(awb) = order
            .shipment()
            .map(|x| x.awb.as_str())
            .filter(|a| !a.is_empty())
        else {
            return self.save_order(order, expected_version, None).await;
        };
        let mut reference = key(awb_pk(awb), "AWB");
        reference.insert("orderId".into(), s(order.id().as_str()));
        let items = vec![
            TransactWriteItem::builder()
                .put(self.put_order_if(order, expected_version)?)
                .build(),
            TransactWriteItem::builder()
                .put(build(self.put(reference).build())?)
                .build(),
        ];
        match self.transact(items, "save shipped order").await? {
            Ok(()) => Ok(true),
            Err(Cancelled::Conditions(_)) => Ok(false),
            Err(Cancelled::Conflict) => Err(StoreError::Unavailable(
                "save shipped order: transaction kept conflicting".into(),
            )),
        }
    }

    async fn find_order_by_awb(&self, awb: &str) -> Result<Option<OrderId>, StoreError> {
        let Some(item) = self
            .get_item(awb_pk(awb), "AWB", "get AWB reference")
            .await?
        else {
            return Ok(None);
        };
        payref_order_from(&item).map(Some)
    }

    async fn record_unmatched_tracking(
        &self,
        record: &UnmatchedTracking,
    ) -> Result<bool, StoreError> {
        // One update: count the delivery, keep the last body, and say whether it was the first.
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(unmatched_tracking_pk(&record.awb), "UNMATCHED")))
            .update_expression(
                "ADD deliveries :one SET lastStatusId = :sid, orderRef = :ref, \
                 lastReceivedAt = :at, payload = :p, #ttl = :ttl, \
                 firstReceivedAt = if_not_exists(firstReceivedAt, :at)",
            )
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":sid", n(record.status_id))
            .expression_attribute_values(":ref", s(record.order_ref.clone().unwrap_or_default()))
            .expression_attribute_values(":at", s(record.received_at.to_string()))
            .expression_attribute_values(":p", s(record.payload.clone()))
            .expression_attribute_values(":ttl", n(record.expires_at.unix_seconds()))
            .return_values(ReturnValue::UpdatedOld)
            .send()
            .await
            .map_err(|e| sdk_error("record unmatched tracking", e))?;
        Ok(out.attributes().and_then(|a| a.get("deliveries")).is_none())
    }

    async fn claim_outbox(
        &self,
        order_id: &OrderId,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<bool, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(outbox_pk(order_id), "OUTBOX")))
            .update_expression("SET leaseUntil = :until")
            .condition_expression("attribute_exists(PK) AND leaseUntil <= :now")
            .expression_attribute_values(":until", n(lease_until.unix_millis()))
            .expression_attribute_values(":now", n(now.unix_millis()))
            .send()
            .await;
        applied("claim outbox", res)
    }

    async fn release_outbox(&self, order_id: &OrderId, now: Timestamp) -> Result<(), StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(outbox_pk(order_id), "OUTBOX")))
            .update_expression("SET leaseUntil = :now")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":now", n(now.unix_millis()))
            .send()
            .await;
        applied("release outbox", res).map(|_| ())
    }

    async fn clear_outbox(&self, entry: &OutboxEntry) -> Result<(), StoreError> {
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(outbox_pk(&entry.order_id), "OUTBOX")))
            .condition_expression("createdAt = :created")
            .expression_attribute_values(":created", s(entry.created_at.to_string()))
            .send()
            .await;
        // Gone already, or a newer entry that owes another job: left alone.
        applied("clear outbox", res).map(|_| ())
    }

    async fn last_invoice_number(&self) -> Result<u64, StoreError> {
        let item = self
            .get_item(INVOICE_COUNTER_PK.into(), "COUNTER", "read invoice counter")
            .await?;
        Ok(counter_value(item.as_ref()))
    }

    async fn read_for_fulfilment(&self, id: &OrderId) -> Result<FulfilmentRead, StoreError> {
        let order_key = order_pk(id);
        let outbox_key = outbox_pk(id);
        let keys = vec![
            key(order_key.clone(), "ORDER"),
            key(INVOICE_COUNTER_PK.into(), "COUNTER"),
            key(outbox_key.clone(), "OUTBOX"),
        ];
        let items = self.batch_get(keys, "read for fulfilment").await?;
        let find = |pk: &str| {
            items.iter().find(|item| {
                item.get("PK")
                    .and_then(|v| v.as_s().ok())
                    .map(String::as_str)
                    == Some(pk)
            })
        };
        Ok(FulfilmentRead {
            order: find(&order_key).cloned().map(order_from).transpose()?,
            last_invoice: counter_value(find(INVOICE_COUNTER_PK)),
            outbox: find(&outbox_key).map(outbox_from).transpose()?,
        })
    }

    async fn issue_invoice(
        &self,
        order: &Order,
        expected_version: u64,
        number: u64,
        clear: Option<&OutboxEntry>,
    ) -> Result<InvoiceOutcome, StoreError> {
        let mut counter = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(INVOICE_COUNTER_PK.into(), "COUNTER")))
            .update_expression("SET #v = :n")
            .expression_attribute_names("#v", "value")
            .expression_attribute_values(":n", n(number));
        counter = if number <= 1 {
            counter.condition_expression("attribute_not_exists(PK)")
        } else {
            counter
                .condition_expression("#v = :prev")
                .expression_attribute_values(":prev", n(number - 1))
        };
        let mut items = vec![
            TransactWriteItem::builder()
                .update(build(counter.build())?)
                .build(),
            TransactWriteItem::builder()
                .put(self.put_order_if(order, expected_version)?)
                .build(),
        ];
        if let Some(entry) = clear {
            // Gone already is fine; a different entry means the order changed as well.
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(outbox_pk(&entry.order_id), "OUTBOX")))
                .condition_expression("attribute_not_exists(PK) OR createdAt = :created")
                .expression_attribute_values(":created", s(entry.created_at.to_string()));
            items.push(
                TransactWriteItem::builder()
                    .delete(build(delete.build())?)
                    .build(),
            );
        }
        match self.transact(items, "issue invoice").await? {
            Ok(()) => Ok(InvoiceOutcome::Issued),
            Err(Cancelled::Conditions(reasons))
                if reason(&reasons, 0) == Some("ConditionalCheckFailed") =>
            {
                Ok(InvoiceOutcome::NumberTaken)
            }
            Err(Cancelled::Conditions(_)) => Ok(InvoiceOutcome::VersionConflict),
            Err(Cancelled::Conflict) => Err(StoreError::Unavailable(
                "issue invoice: transaction kept conflicting".into(),
            )),
        }
    }

    async fn stale_unpaid(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<OrderId>, StoreError> {
        self.sweep_index("UNPAID", before, limit).await
    }

    async fn owed_refunds(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<OrderId>, StoreError> {
        self.sweep_index("REFUND_OWED", before, limit).await
    }

    async fn owed_outbox(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        self.outbox_before(before, limit as i32).await
    }
}

impl DynamoStore {
    /// Orders in one GSI2 partition of the sweep (`UNPAID`, `REFUND_OWED`) whose sort time is
    /// before `before`, oldest first.
    async fn sweep_index(
        &self,
        partition: &str,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<OrderId>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("GSI2")
            .key_condition_expression("GSI2PK = :p AND GSI2SK < :before")
            .expression_attribute_values(":p", s(partition))
            .expression_attribute_values(":before", s(before.to_string()))
            .limit(limit as i32)
            .send()
            .await
            .map_err(|e| sdk_error("query the sweep index", e))?;
        out.items()
            .iter()
            .map(|it| {
                let pk = it
                    .get("PK")
                    .and_then(|v| v.as_s().ok())
                    .ok_or_else(|| corrupt("sweep index", "no PK"))?;
                OrderId::parse(pk.trim_start_matches("ORDER#"))
                    .map_err(|e| corrupt("sweep index", e))
            })
            .collect()
    }
}
