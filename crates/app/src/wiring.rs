//! Building the adapters behind the ports — on AWS (a Lambda, or the dev server with
//! `DEV_BACKEND=aws`) or in memory (the dev server, tests) — into one [`Services`]. Every host
//! wires them here, so they are wired the same way.

use std::sync::Arc;

use oms_aws::{
    AwsClients, DynamoStore, SecretDocuments, SecretsManagerCredentials, SecretsManagerSource,
    SnsPublisher, SqsDeadJobs, SqsJobQueue,
};
use oms_core::ProviderKind;
use oms_core::app::{FulfilmentServices, OrderPolicy, Services};
use oms_core::ports::{
    Carrier, Clock, DeadJob, DeadJobs, InvoiceStorage, OrderStore, PaymentProvider,
    PaymentProviders, QueueError, SecretSource,
};
use oms_memory::{InMemoryPublisher, InMemoryQueue, NoDownloadFiles, StaticSecrets};
use oms_providers::notify::WhatsApp;
use oms_providers::offline::OfflineProvider;
use oms_providers::razorpay::RazorpayOrders;
use oms_providers::shipping::{CarrierRouter, Shiprocket};
use oms_providers::stripe::StripeCheckout;

use crate::config::{AwsResources, Config, FulfilmentConfig, ProviderMode, ShippingConfig};
use crate::system::RandomIds;

/// Where the offline stand-in's checkout URLs point when no host serves its page.
pub const OFFLINE_CHECKOUT: &str = "https://checkout.invalid/offline";

/// The ports on AWS: DynamoDB, SQS, SNS, and Secrets Manager for any provider given an ARN
/// (the environment otherwise).
pub fn aws_services(
    config: &Config,
    clients: &AwsClients,
    res: &AwsResources,
    clock: Arc<dyn Clock>,
) -> Services {
    let documents = Arc::new(SecretDocuments::new(
        clients.secrets.clone(),
        config.secrets.ttl,
        clock.clone(),
    ));
    let mut shipping = config.shipping.clone();
    shipping.use_secret_store(|arn, name| {
        Arc::new(SecretsManagerCredentials::new(documents.clone(), arn, name))
    });
    shipping.use_tracking_secret(|arn, name| {
        Arc::new(SecretsManagerCredentials::new(documents.clone(), arn, name))
    });
    let secrets: Arc<dyn SecretSource> = Arc::new(SecretsManagerSource::new(
        documents,
        config.secrets.stripe_arn.clone(),
        config.secrets.razorpay_arn.clone(),
        config.secrets.env.stripe.clone(),
        config.secrets.env.razorpay.clone(),
    ));
    let store = DynamoStore::new(clients.dynamodb.clone(), &res.table);
    let publisher = SnsPublisher::new(
        clients.sns.clone(),
        &res.order_events_arn,
        &res.ops_alerts_arn,
    );
    let mut services = services(
        config,
        Arc::new(store),
        Arc::new(SqsJobQueue::new(clients.sqs.clone(), &res.queue_url)),
        Arc::new(publisher),
        secrets,
        clock,
        OFFLINE_CHECKOUT,
    );
    services.carrier = carrier(&shipping);
    services.tracking_tokens = shipping.tracking_tokens.clone();
    #[cfg(feature = "s3")]
    if let Some(bucket) = &res.downloads_bucket {
        services.downloads = Arc::new(oms_aws::S3DownloadLinks::new(clients.s3(), bucket));
    }
    services.dead_jobs = match &res.dead_letter_queue_url {
        Some(url) => Arc::new(SqsDeadJobs::new(clients.sqs.clone(), url, &res.queue_url)),
        None => Arc::new(NoDeadLetterQueue),
    };
    services
}

/// A function not given `DEAD_LETTER_QUEUE_URL` (every one but orders-api, which refuses to
/// start without it): nothing of it calls the dead-letter routes, and were one to, it is told
/// plainly.
struct NoDeadLetterQueue;

#[async_trait::async_trait]
impl DeadJobs for NoDeadLetterQueue {
    async fn list(&self, _: u32) -> Result<Vec<DeadJob>, QueueError> {
        Err(QueueError("DEAD_LETTER_QUEUE_URL is not set".into()))
    }

    async fn redrive(&self, _: u32) -> Result<u32, QueueError> {
        Err(QueueError("DEAD_LETTER_QUEUE_URL is not set".into()))
    }
}

/// The carrier `config` describes: Shiprocket for physical goods, none for digital SKUs.
pub fn carrier(config: &ShippingConfig) -> Arc<dyn Carrier> {
    Arc::new(CarrierRouter {
        physical: Arc::new(Shiprocket::new(
            oms_providers::http_client(),
            config.shiprocket.clone(),
        )),
        digital_skus: config.digital_skus.clone(),
    })
}

/// In-memory queue and publisher, kept so a host (the dev server, tests) can see what is sent.
#[derive(Clone, Default)]
pub struct MemoryOutlets {
    pub queue: Arc<InMemoryQueue>,
    pub publisher: Arc<InMemoryPublisher>,
}

/// The ports in memory around `store`, with secrets from `config`'s environment.
/// `checkout_base` is where the offline stand-in's checkout URLs point.
pub fn memory_services(
    config: &Config,
    store: Arc<dyn OrderStore>,
    clock: Arc<dyn Clock>,
    checkout_base: &str,
) -> (Services, MemoryOutlets) {
    let outlets = MemoryOutlets::default();
    let mut services = services(
        config,
        store,
        outlets.queue.clone(),
        outlets.publisher.clone(),
        Arc::new(StaticSecrets {
            stripe: config.secrets.env.stripe.clone(),
            razorpay: config.secrets.env.razorpay.clone(),
        }),
        clock,
        checkout_base,
    );
    services.dead_jobs = outlets.queue.clone();
    (services, outlets)
}

fn services(
    config: &Config,
    store: Arc<dyn OrderStore>,
    queue: Arc<dyn oms_core::ports::JobQueue>,
    publisher: Arc<dyn oms_core::ports::EventPublisher>,
    secrets: Arc<dyn SecretSource>,
    clock: Arc<dyn Clock>,
    checkout_base: &str,
) -> Services {
    Services {
        providers: providers(config, secrets.clone(), checkout_base),
        store,
        queue,
        dead_jobs: Arc::new(NoDeadLetterQueue),
        publisher,
        secrets,
        clock,
        carrier: carrier(&config.shipping),
        tracking_tokens: config.shipping.tracking_tokens.clone(),
        // A host that serves files replaces this (the dev server's signed route, S3 above).
        downloads: Arc::new(NoDownloadFiles),
        ids: Arc::new(RandomIds),
        policy: OrderPolicy {
            digital_skus: digital_skus(&config.shipping),
            ..config.cleanup.policy.clone()
        },
    }
}

/// `DIGITAL_SKUS` as SKUs. A name that is not a SKU is left out: no order can hold it.
fn digital_skus(config: &ShippingConfig) -> Vec<oms_core::Sku> {
    let parsed = config.digital_skus.iter().map(|s| oms_core::Sku::parse(s));
    parsed.filter_map(Result::ok).collect()
}

/// The payment providers the configuration enables.
pub fn providers(
    config: &Config,
    secrets: Arc<dyn SecretSource>,
    checkout_base: &str,
) -> PaymentProviders {
    let mut list: Vec<Arc<dyn PaymentProvider>> = Vec::new();
    let payments = &config.payments;
    match payments.mode {
        ProviderMode::Offline => {
            let key_id = config.secrets.env.razorpay.key_id.as_deref();
            let key_id = key_id.unwrap_or(crate::config::OFFLINE_RAZORPAY_KEY_ID);
            for kind in [ProviderKind::Stripe, ProviderKind::Razorpay] {
                list.push(Arc::new(OfflineProvider::new(kind, key_id, checkout_base)));
            }
        }
        ProviderMode::Live => {
            let http = oms_providers::http_client();
            if let Some(s) = &payments.stripe {
                let stripe = StripeCheckout::new(http.clone(), s.clone(), secrets.clone());
                list.push(Arc::new(stripe));
            }
            if let Some(r) = &payments.razorpay {
                list.push(Arc::new(RazorpayOrders::new(http, r.clone(), secrets)));
            }
        }
    }
    PaymentProviders::new(list)
}

/// The worker's ports beyond [`Services`]: `invoices` where documents go, the carrier and the
/// notifier `config` describes.
pub fn fulfilment(
    config: &FulfilmentConfig,
    invoices: Arc<dyn InvoiceStorage>,
) -> FulfilmentServices {
    FulfilmentServices {
        invoices,
        notifier: Arc::new(WhatsApp::new(
            oms_providers::http_client(),
            config.whatsapp.clone(),
        )),
        seller: config.seller.clone(),
        max_receives: config.max_receives,
    }
}

/// The worker's ports on AWS: invoices in S3, integration credentials from Secrets Manager
/// documents where their ARNs are given.
#[cfg(feature = "s3")]
pub fn aws_fulfilment(
    mut config: FulfilmentConfig,
    secrets_ttl: std::time::Duration,
    clients: &AwsClients,
    bucket: &str,
    clock: Arc<dyn Clock>,
) -> FulfilmentServices {
    use oms_aws::S3InvoiceStorage;
    let docs = Arc::new(SecretDocuments::new(
        clients.secrets.clone(),
        secrets_ttl,
        clock,
    ));
    config.use_secret_store(|arn, name| {
        Arc::new(SecretsManagerCredentials::new(docs.clone(), arn, name))
    });
    let invoices = S3InvoiceStorage::new(clients.s3(), bucket.to_owned());
    fulfilment(&config, Arc::new(invoices))
}
