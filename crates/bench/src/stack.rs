//! The AWS side of a run: the table, queue, topics and bucket on the local AWS API server,
//! created by the project's own bootstrap (the one `DEV_BACKEND=aws` uses), the demo catalog
//! seeded with enough stock for every start, and the checks that a start really did its job.

use aws_sdk_dynamodb::types::AttributeValue;
use oms_aws::{AwsClients, DynamoStore, bootstrap};
use oms_core::OrderId;
use oms_core::ports::{OrderStore, StoreError};

/// Where the functions' resources are, named from one prefix.
#[derive(Clone)]
pub struct Stack {
    pub clients: AwsClients,
    pub store: DynamoStore,
    pub region: String,
    pub table: String,
    pub queue_url: String,
    /// The queue's dead-letter queue, which orders-api's ops routes read.
    pub dead_letter_url: String,
    pub queue_arn: String,
    pub order_events_arn: String,
    pub ops_alerts_arn: String,
    pub bucket: String,
    /// The Stripe secret document (`{"webhookSecret": …}`) the Rust webhook and the floor read.
    pub stripe_secret_arn: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(
        "AWS_ENDPOINT_URL must point at a local AWS API server on loopback (got {0:?}); \
         run through scripts/bench-coldstart"
    )]
    NotLocal(Option<String>),
    #[error("cannot prepare {what}: {source}")]
    Aws {
        what: &'static str,
        source: StoreError,
    },
    #[error("reading order {order}: {detail}")]
    Read { order: String, detail: String },
}

/// Refuses anything but a loopback endpoint: the benchmark writes orders and must never
/// reach an account.
pub fn require_local_endpoint() -> Result<String, StackError> {
    let url = std::env::var("AWS_ENDPOINT_URL").ok();
    match &url {
        Some(u)
            if ["http://127.", "http://localhost", "http://[::1]"]
                .iter()
                .any(|p| u.starts_with(p)) =>
        {
            Ok(u.clone())
        }
        _ => Err(StackError::NotLocal(url)),
    }
}

impl Stack {
    /// Creates the resources for `prefix` (if missing) and seeds the catalog with
    /// `units` of every product.
    pub async fn prepare(
        prefix: &str,
        units: u32,
        stripe_webhook_secret: &str,
    ) -> Result<Self, StackError> {
        require_local_endpoint()?;
        let clients = AwsClients::from_env().await;
        let region = clients
            .dynamodb
            .config()
            .region()
            .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string());
        let aws = |what| move |source| StackError::Aws { what, source };
        bootstrap::ensure_table(&clients, prefix)
            .await
            .map_err(aws("the table"))?;
        let queue = format!("{prefix}-post-payment");
        let queues = bootstrap::ensure_queues(&clients, &queue, 5)
            .await
            .map_err(aws("the queue"))?;
        let order_events_arn = bootstrap::ensure_topic(&clients, &format!("{prefix}-order-events"))
            .await
            .map_err(aws("the order-events topic"))?;
        let ops_alerts_arn = bootstrap::ensure_topic(&clients, &format!("{prefix}-ops-alerts"))
            .await
            .map_err(aws("the ops-alerts topic"))?;
        let bucket = format!("{prefix}-invoices");
        bootstrap::ensure_bucket(&clients, &bucket)
            .await
            .map_err(aws("the invoice bucket"))?;
        let stripe_secret_arn = clients
            .secrets
            .create_secret()
            .name(format!("{prefix}-stripe"))
            .secret_string(
                serde_json::json!({ "webhookSecret": stripe_webhook_secret }).to_string(),
            )
            .send()
            .await
            .map_err(|e| StackError::Aws {
                what: "the Stripe secret",
                source: StoreError::Unavailable(oms_aws::error_text(&e)),
            })?
            .arn
            .unwrap_or_default();
        let store = DynamoStore::new(clients.dynamodb.clone(), prefix);
        let catalog: Vec<_> = oms_memory::demo_catalog()
            .into_iter()
            .map(|mut p| {
                p.available = units;
                p
            })
            .collect();
        store
            .put_products(&catalog)
            .await
            .map_err(aws("the catalog"))?;
        Ok(Self {
            store,
            // Only a label in the SQS event; the local server's account is 123456789012.
            queue_arn: format!("arn:aws:sqs:{region}:123456789012:{queue}"),
            region,
            table: prefix.to_owned(),
            queue_url: queues.queue_url,
            dead_letter_url: queues.dead_letter_url,
            order_events_arn,
            ops_alerts_arn,
            bucket,
            stripe_secret_arn,
            clients,
        })
    }

    /// The configuration every function of the template gets (`Globals` in `template.yaml`),
    /// with offline payments and the given Stripe webhook secret.
    pub fn function_env(&self, stripe_webhook_secret: &str) -> Vec<(String, String)> {
        [
            ("API_PREFIX", "/api/v1"),
            ("APP_ENV", "dev"),
            ("TABLE_NAME", &self.table),
            ("POST_PAYMENT_QUEUE_URL", &self.queue_url),
            ("ORDER_EVENTS_TOPIC_ARN", &self.order_events_arn),
            ("OPS_ALERTS_TOPIC_ARN", &self.ops_alerts_arn),
            ("INVOICE_BUCKET", &self.bucket),
            ("PAYMENT_PROVIDER_MODE", "offline"),
            ("SECRETS_TTL_SECONDS", "300"),
            ("CLEANUP_FAILED_PAYMENT_MINUTES", "30"),
            ("MAX_RECEIVE_COUNT", "5"),
            ("LOG_LEVEL", "info"),
            ("STRIPE_WEBHOOK_SECRET", stripe_webhook_secret),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// The order's status as the service's own store reads it.
    pub async fn order_status(&self, order: &str) -> Result<String, StackError> {
        let read = |detail: String| StackError::Read {
            order: order.to_owned(),
            detail,
        };
        let id = OrderId::parse(order).map_err(|e| read(e.to_string()))?;
        let found = self
            .store
            .get_order(&id)
            .await
            .map_err(|e| read(e.to_string()))?;
        found
            .map(|o| o.status().as_str().to_owned())
            .ok_or_else(|| read("not found".into()))
    }

    /// The order item's top-level `status` attribute and whether the Stripe event's dedupe
    /// item exists: what the Python peer writes.
    pub async fn raw_status(
        &self,
        order: &str,
        event_id: &str,
    ) -> Result<(String, bool), StackError> {
        let read = |detail: String| StackError::Read {
            order: order.to_owned(),
            detail,
        };
        let get = |pk: String, sk: &'static str| {
            self.clients
                .dynamodb
                .get_item()
                .table_name(&self.table)
                .key("PK", AttributeValue::S(pk))
                .key("SK", AttributeValue::S(sk.into()))
                .consistent_read(true)
                .send()
        };
        let item = get(format!("ORDER#{order}"), "ORDER")
            .await
            .map_err(|e| read(oms_aws::error_text(&e)))?
            .item
            .ok_or_else(|| read("not found".into()))?;
        let status = item
            .get("status")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        let event = get(format!("EVENT#stripe#{event_id}"), "EVENT")
            .await
            .map_err(|e| read(oms_aws::error_text(&e)))?
            .item
            .is_some();
        Ok((status, event))
    }
}
