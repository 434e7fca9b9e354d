//! Building the adapters behind the ports: in memory (dev server, tests) or on AWS (Lambda, or
//! the dev server with `DEV_BACKEND=aws`). One place, so every host wires them the same way.

use std::sync::Arc;

use oms_aws::{
    AwsClients, DynamoStore, SecretDocuments, SecretsManagerSource, SnsPublisher, SqsJobQueue,
};
use oms_core::ports::{Clock, OrderStore};
use oms_memory::{InMemoryPublisher, InMemoryQueue, StaticSecrets};

use crate::app::Adapters;
use crate::config::{Config, ConfigError};

/// The AWS resources a function uses, named by the SAM template's environment.
#[derive(Debug, Clone)]
pub struct AwsResources {
    /// `TABLE_NAME`
    pub table: String,
    /// `POST_PAYMENT_QUEUE_URL`
    pub queue_url: String,
    /// `ORDER_EVENTS_TOPIC_ARN`
    pub order_events_arn: String,
    /// `OPS_ALERTS_TOPIC_ARN`
    pub ops_alerts_arn: String,
    /// `INVOICE_BUCKET` (only the post-payment worker needs it)
    pub invoice_bucket: Option<String>,
}

impl AwsResources {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let need = |name: &'static str| {
            get(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError::Missing {
                    name,
                    hint: " (set by the SAM template)",
                })
        };
        Ok(Self {
            table: need("TABLE_NAME")?,
            queue_url: need("POST_PAYMENT_QUEUE_URL")?,
            order_events_arn: need("ORDER_EVENTS_TOPIC_ARN")?,
            ops_alerts_arn: need("OPS_ALERTS_TOPIC_ARN")?,
            invoice_bucket: get("INVOICE_BUCKET").filter(|v| !v.trim().is_empty()),
        })
    }
}

fn env_secrets(config: &Config) -> StaticSecrets {
    StaticSecrets {
        stripe: config.secrets.env.stripe.clone(),
        razorpay: config.secrets.env.razorpay.clone(),
    }
}

/// Adapters on AWS: DynamoDB, SQS, SNS, and Secrets Manager for any provider given an ARN
/// (the environment otherwise).
pub fn aws_adapters(
    config: &Config,
    clients: &AwsClients,
    res: &AwsResources,
    clock: Arc<dyn Clock>,
) -> (Adapters, DynamoStore) {
    let store = DynamoStore::new(clients.dynamodb.clone(), &res.table);
    let env = env_secrets(config);
    let secrets = SecretsManagerSource::new(
        Arc::new(SecretDocuments::new(
            clients.secrets.clone(),
            config.secrets.ttl,
            clock.clone(),
        )),
        config.secrets.stripe_arn.clone(),
        config.secrets.razorpay_arn.clone(),
        env.stripe,
        env.razorpay,
    );
    let adapters = Adapters {
        store: Arc::new(store.clone()),
        queue: Arc::new(SqsJobQueue::new(clients.sqs.clone(), &res.queue_url)),
        publisher: Arc::new(SnsPublisher::new(
            clients.sns.clone(),
            &res.order_events_arn,
            &res.ops_alerts_arn,
        )),
        secrets: Arc::new(secrets),
        clock,
    };
    (adapters, store)
}

/// In-memory adapters around `store`, with secrets from `config`; the queue and publisher are
/// returned too so a host (the dev server, tests) can consume what is sent.
pub fn memory_adapters(
    store: Arc<dyn OrderStore>,
    config: &Config,
    clock: Arc<dyn Clock>,
) -> (Adapters, Arc<InMemoryQueue>, Arc<InMemoryPublisher>) {
    let queue = Arc::new(InMemoryQueue::default());
    let publisher = Arc::new(InMemoryPublisher::default());
    let adapters = Adapters {
        store,
        queue: queue.clone(),
        publisher: publisher.clone(),
        secrets: Arc::new(env_secrets(config)),
        clock,
    };
    (adapters, queue, publisher)
}

/// What a handler test runs on: offline payments, the demo catalog in memory, a clock fixed at
/// `at`, callers known only from API Gateway's authorizer claims.
pub fn offline_demo_state(at: oms_core::Timestamp) -> crate::AppState {
    let config = Config::from_lookup(
        |_| None,
        crate::config::Defaults {
            provider_mode: Some(crate::config::ProviderMode::Offline),
        },
    )
    .unwrap_or_else(|e| unreachable!("the offline defaults are a valid configuration: {e}"));
    let (adapters, _, _) = memory_adapters(
        Arc::new(oms_memory::InMemoryStore::new(oms_memory::demo_catalog())),
        &config,
        Arc::new(oms_memory::ManualClock::at(at)),
    );
    crate::AppState::new(
        &config,
        adapters,
        crate::identity::IdentitySource::ApiGateway(None),
        "https://checkout.invalid",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_function_names_every_aws_resource_it_needs() {
        let e = AwsResources::from_lookup(|_| None).unwrap_err();
        assert!(e.to_string().contains("TABLE_NAME"), "{e}");
        let r = AwsResources::from_lookup(|k| match k {
            "TABLE_NAME" => Some("t".into()),
            "POST_PAYMENT_QUEUE_URL" => Some("q".into()),
            "ORDER_EVENTS_TOPIC_ARN" => Some("e".into()),
            "OPS_ALERTS_TOPIC_ARN" => Some("a".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!((r.table.as_str(), r.invoice_bucket), ("t", None));
    }
}
