//! SQS, SNS, S3 and Secrets Manager adapters against the local AWS API server.

mod common;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use common::{clients, unique};
use oms_aws::{
    S3InvoiceStorage, SecretDocuments, SecretsManagerCredentials, SecretsManagerSource,
    SnsPublisher, SqsJobQueue, bootstrap,
};
use oms_core::ports::{
    EventPublisher, FulfilmentJob, InvoiceStorage, JobQueue, Message, ProviderSecrets,
    SecretSource, Topic,
};
use oms_core::{OrderId, ProviderKind, Secret, Timestamp};
use oms_memory::ManualClock;

#[tokio::test]
#[ignore = "needs the local AWS API server: ./scripts/test"]
async fn a_job_sent_to_sqs_arrives_as_json_and_poison_goes_to_the_dlq_after_max_receives() {
    let c = clients().await;
    let name = unique("post-payment");
    let url = bootstrap::ensure_queue(&c, &name, 2).await.unwrap();
    let queue = SqsJobQueue::new(c.sqs.clone(), &url);
    let job = FulfilmentJob {
        order_id: OrderId::parse("ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0").unwrap(),
    };
    queue.send(&job).await.unwrap();
    let got = c
        .sqs
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    let msg = &got.messages()[0];
    let back: FulfilmentJob = serde_json::from_str(msg.body().unwrap()).unwrap();
    assert_eq!(back, job);

    c.sqs
        .delete_message()
        .queue_url(&url)
        .receipt_handle(msg.receipt_handle().unwrap())
        .send()
        .await
        .unwrap();

    // A message received twice and never deleted moves to the dead-letter queue.
    queue.send(&job).await.unwrap();
    for _ in 0..2 {
        let got = c
            .sqs
            .receive_message()
            .queue_url(&url)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
        assert_eq!(got.messages().len(), 1);
    }
    let after = c
        .sqs
        .receive_message()
        .queue_url(&url)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    assert!(
        after.messages().is_empty(),
        "the poison message left the queue"
    );
    let dlq = c
        .sqs
        .get_queue_url()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dead = c
        .sqs
        .receive_message()
        .queue_url(&dlq)
        .send()
        .await
        .unwrap();
    assert_eq!(dead.messages().len(), 1);
    assert_eq!(
        serde_json::from_str::<FulfilmentJob>(dead.messages()[0].body().unwrap()).unwrap(),
        job
    );
}

#[tokio::test]
#[ignore = "needs the local AWS API server: ./scripts/test"]
async fn published_events_carry_the_event_type_attribute_to_subscribers() {
    let c = clients().await;
    let events = bootstrap::ensure_topic(&c, &unique("order-events"))
        .await
        .unwrap();
    let alerts = bootstrap::ensure_topic(&c, &unique("ops-alerts"))
        .await
        .unwrap();
    // Subscribe a queue to each topic to see what subscribers get.
    let mut inboxes = Vec::new();
    for topic in [&events, &alerts] {
        let url = c
            .sqs
            .create_queue()
            .queue_name(unique("inbox"))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let arn = c
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()
            .remove(&QueueAttributeName::QueueArn)
            .unwrap();
        c.sns
            .subscribe()
            .topic_arn(topic)
            .protocol("sqs")
            .endpoint(arn)
            .send()
            .await
            .unwrap();
        inboxes.push(url);
    }
    let publisher = SnsPublisher::new(c.sns.clone(), &events, &alerts);
    publisher
        .publish(
            Topic::OrderEvents,
            &Message {
                event_type: "order.payment_succeeded".into(),
                body: serde_json::json!({"orderId": "ord_x"}),
            },
        )
        .await
        .unwrap();
    publisher
        .publish(
            Topic::OpsAlerts,
            &Message {
                event_type: "ops.unmatched_payment_event".into(),
                body: serde_json::json!({"severity": "high"}),
            },
        )
        .await
        .unwrap();
    for (inbox, expected_type, key) in [
        (&inboxes[0], "order.payment_succeeded", "orderId"),
        (&inboxes[1], "ops.unmatched_payment_event", "severity"),
    ] {
        let got = c
            .sqs
            .receive_message()
            .queue_url(inbox)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        assert_eq!(got.messages().len(), 1, "exactly one message per topic");
        let envelope: serde_json::Value =
            serde_json::from_str(got.messages()[0].body().unwrap()).unwrap();
        assert_eq!(
            envelope["MessageAttributes"]["eventType"]["Value"],
            expected_type
        );
        let inner: serde_json::Value =
            serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
        assert!(inner.get(key).is_some(), "{inner}");
    }
}

#[tokio::test]
#[ignore = "needs the local AWS API server: ./scripts/test"]
async fn invoices_are_stored_and_read_back_from_s3() {
    let c = clients().await;
    let bucket = unique("invoices");
    bootstrap::ensure_bucket(&c, &bucket).await.unwrap();
    let storage = S3InvoiceStorage::new(c.s3(), &bucket);
    assert_eq!(storage.get("invoices/ord_x.html").await.unwrap(), None);
    storage
        .put(
            "invoices/ord_x.html",
            b"<html>INV-1</html>".to_vec(),
            "text/html",
        )
        .await
        .unwrap();
    assert_eq!(
        storage.get("invoices/ord_x.html").await.unwrap().unwrap(),
        b"<html>INV-1</html>"
    );
}

#[tokio::test]
#[ignore = "needs the local AWS API server: ./scripts/test"]
async fn a_rotated_secret_is_picked_up_after_the_ttl_and_not_before() {
    let c = clients().await;
    let name = unique("razorpay");
    let arn = c
        .secrets
        .create_secret()
        .name(&name)
        .secret_string(r#"{"keyId":"rzp_live_1","keySecret":"ks1","webhookSecret":"wh1"}"#)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let clock = Arc::new(ManualClock::at(Timestamp::from_unix_millis(
        1_800_000_000_000,
    )));
    let env_stripe = ProviderSecrets {
        webhook_secrets: vec![Secret::new("from-env")],
        ..Default::default()
    };
    let source = SecretsManagerSource::new(
        Arc::new(SecretDocuments::new(
            c.secrets.clone(),
            Duration::from_secs(300),
            clock.clone(),
        )),
        None,
        Some(arn.clone()),
        env_stripe.clone(),
        ProviderSecrets::default(),
    );
    let first = source.provider(ProviderKind::Razorpay).await.unwrap();
    assert_eq!(first.key_id.as_deref(), Some("rzp_live_1"));
    assert_eq!(first.webhook_secrets[0].expose(), "wh1");

    c.secrets
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(r#"{"keyId":"rzp_live_1","keySecret":"ks2","webhookSecret":"wh2","previousWebhookSecret":"wh1"}"#)
        .send()
        .await
        .unwrap();
    clock.advance(Duration::from_secs(299));
    assert_eq!(
        source.provider(ProviderKind::Razorpay).await.unwrap(),
        first,
        "cached until the TTL runs out"
    );
    clock.advance(Duration::from_secs(2));
    let rotated = source.provider(ProviderKind::Razorpay).await.unwrap();
    assert_eq!(rotated.api_secret.unwrap().expose(), "ks2");
    assert_eq!(
        rotated
            .webhook_secrets
            .iter()
            .map(|s| s.expose())
            .collect::<Vec<_>>(),
        vec!["wh2", "wh1"]
    );

    // A provider without an ARN uses what the environment gave.
    assert_eq!(
        source.provider(ProviderKind::Stripe).await.unwrap(),
        env_stripe
    );
}

#[tokio::test]
#[ignore = "needs the local AWS API server: ./scripts/test"]
async fn integration_credentials_come_from_their_secret_and_rotate_after_the_ttl() {
    use oms_core::ports::CredentialSource;
    let c = clients().await;
    let arn = c
        .secrets
        .create_secret()
        .name(unique("shiprocket"))
        .secret_string(r#"{"email":"ops@shop.example","password":"pw-1"}"#)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let clock = Arc::new(ManualClock::at(Timestamp::from_unix_millis(
        1_800_000_000_000,
    )));
    let docs = Arc::new(SecretDocuments::new(
        c.secrets.clone(),
        Duration::from_secs(300),
        clock.clone(),
    ));
    let creds = SecretsManagerCredentials::new(docs, arn.clone(), "shiprocket");
    assert_eq!(
        creds.field("email").await.unwrap().expose(),
        "ops@shop.example"
    );
    assert_eq!(creds.field("password").await.unwrap().expose(), "pw-1");
    assert!(creds.field("token").await.is_err());
    assert!(
        !format!("{creds:?}").contains("pw-1"),
        "Debug names the integration only"
    );

    c.secrets
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(r#"{"email":"ops@shop.example","password":"pw-2"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(creds.field("password").await.unwrap().expose(), "pw-1");
    clock.advance(Duration::from_secs(301));
    assert_eq!(creds.field("password").await.unwrap().expose(), "pw-2");
}

#[tokio::test]
#[ignore = "needs the local AWS API server: ./scripts/test"]
async fn an_unreachable_store_is_a_retryable_error_not_a_hang() {
    use oms_core::ports::{OrderStore, StoreError};
    // A port nothing listens on: connection refused, classified as transient.
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .region(aws_config::Region::new("ap-south-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "k", "s", None, None, "test",
        ))
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
        .load()
        .await;
    let store = oms_aws::DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), "nope");
    match store
        .get_order(&OrderId::parse("ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0").unwrap())
        .await
    {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("expected a transient error, got {other:?}"),
    }
    // A missing table is not transient: it is the operator's to fix.
    let c = clients().await;
    let store = oms_aws::DynamoStore::new(c.dynamodb.clone(), unique("missing"));
    match store
        .get_order(&OrderId::parse("ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0").unwrap())
        .await
    {
        Err(StoreError::Backend(msg)) => assert!(msg.contains("get order"), "{msg}"),
        other => panic!("expected a backend error, got {other:?}"),
    }
}
