//! SQS, SNS, S3 and Secrets Manager adapters against the local AWS API server.

mod common;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use common::{clients, unique};
use oms_aws::{
    S3InvoiceStorage, SecretDocuments, SecretsManagerCredentials, SecretsManagerSource,
    SnsPublisher, SqsDeadJobs, SqsJobQueue, bootstrap,
};
use oms_core::ports::{
    DeadJobs, EventPublisher, FulfilmentJob, InvoiceStorage, JobQueue, Message, ProviderSecrets,
    SecretSource, Topic, Trace,
};
use oms_core::{OrderId, ProviderKind, Secret, Timestamp};
use oms_memory::ManualClock;

#[tokio::test]
#[ignore = "needs the local AWS API server: ./scripts/test"]
async fn a_job_sent_to_sqs_arrives_as_json_with_its_trace_and_poison_goes_to_the_dlq_after_max_receives()
 {
    let c = clients().await;
    let name = unique("post-payment");
    let url = bootstrap::ensure_queue(&c, &name, 2).await.unwrap();
    let queue = SqsJobQueue::new(c.sqs.clone(), &url);
    let job = FulfilmentJob {
        order_id: OrderId::parse("ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0").unwrap(),
        trace: Trace::request("req_webhook_1").with_event("evt_paid_1"),
    };
    queue.send(&job).await.unwrap();
    let got = c
        .sqs
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(1)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap();
    let msg = &got.messages()[0];
    assert_eq!(
        msg.body().unwrap(),
        r#"{"orderId":"ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0"}"#,
        "the trace travels beside the body, not in it"
    );
    let back = received_job(msg);
    assert_eq!(back, job, "the trace arrives as message attributes");
    let attributes = msg.message_attributes().unwrap();
    assert_eq!(attributes["requestId"].data_type(), "String");
    assert_eq!(
        attributes["requestId"].string_value(),
        Some("req_webhook_1")
    );
    assert_eq!(attributes["eventId"].string_value(), Some("evt_paid_1"));

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
        FulfilmentJob::new(job.order_id.clone())
    );

    // A job with only a request id sends that attribute alone; one with no trace, none.
    let partial = FulfilmentJob {
        trace: Trace::request("req_admin_1"),
        ..job.clone()
    };
    queue.send(&partial).await.unwrap();
    queue
        .send(&FulfilmentJob::new(job.order_id.clone()))
        .await
        .unwrap();
    let got = c
        .sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap();
    let mut names: Vec<Vec<String>> = got
        .messages()
        .iter()
        .map(|m| {
            let mut n: Vec<String> = m
                .message_attributes()
                .map(|a| a.keys().cloned().collect())
                .unwrap_or_default();
            n.sort();
            n
        })
        .collect();
    names.sort();
    assert_eq!(names, vec![vec![], vec!["requestId".to_owned()]]);
}

/// The job in a message received with its attributes, trace included.
fn received_job(m: &aws_sdk_sqs::types::Message) -> FulfilmentJob {
    let mut job: FulfilmentJob = serde_json::from_str(m.body().unwrap()).unwrap();
    job.trace = Trace::from_attributes(|name| {
        m.message_attributes()
            .and_then(|a| a.get(name))
            .and_then(|v| v.string_value())
    });
    job
}

fn job(n: usize) -> FulfilmentJob {
    FulfilmentJob {
        order_id: OrderId::parse(&format!("ord_01JDQ7Z3K5M8N9P0QRSTVW{n:04}")).unwrap(),
        trace: Trace::request(format!("req_{n}")).with_event(format!("evt_{n}")),
    }
}

/// Every body waiting on `url`, each with the trace its attributes carry (hidden for a minute
/// once received).
async fn bodies(c: &oms_aws::AwsClients, url: &str) -> Vec<(String, Trace)> {
    let mut out = Vec::new();
    loop {
        let got = c
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        if got.messages().is_empty() {
            return out;
        }
        out.extend(got.messages().iter().filter_map(|m| {
            let trace = Trace::from_attributes(|name| {
                m.message_attributes()
                    .and_then(|a| a.get(name))
                    .and_then(|v| v.string_value())
            });
            m.body().map(|b| (b.to_owned(), trace))
        }));
    }
}

#[tokio::test]
#[ignore = "needs the local AWS API server: ./scripts/test"]
async fn dead_jobs_are_listed_without_being_taken_and_moved_back_a_bounded_number_at_a_time() {
    let c = clients().await;
    let name = unique("post-payment");
    let urls = bootstrap::ensure_queues(&c, &name, 2).await.unwrap();
    let dead = SqsDeadJobs::new(c.sqs.clone(), &urls.dead_letter_url, &urls.queue_url);
    assert!(dead.list(100).await.unwrap().is_empty());
    assert_eq!(dead.redrive(100).await.unwrap(), 0, "nothing to move");

    // A poison job the way SQS makes one: received twice on the queue, never deleted.
    SqsJobQueue::new(c.sqs.clone(), &urls.queue_url)
        .send(&job(0))
        .await
        .unwrap();
    for _ in 0..3 {
        c.sqs
            .receive_message()
            .queue_url(&urls.queue_url)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    }
    // Twelve more jobs, and one message that is not a job.
    let dlq = SqsJobQueue::new(c.sqs.clone(), &urls.dead_letter_url);
    for n in 1..=12 {
        dlq.send(&job(n)).await.unwrap();
    }
    c.sqs
        .send_message()
        .queue_url(&urls.dead_letter_url)
        .message_body("not a job")
        .send()
        .await
        .unwrap();

    let listed = dead.list(100).await.unwrap();
    assert_eq!(listed.len(), 14, "{listed:?}");
    let ids: std::collections::BTreeSet<_> = listed.iter().map(|j| j.message_id.clone()).collect();
    assert_eq!(ids.len(), 14, "each once");
    let poison = listed
        .iter()
        .find(|j| j.order_id == Some(job(0).order_id))
        .expect("the poison job is listed");
    assert_eq!(poison.receive_count, 2, "received twice before it died");
    assert_eq!(
        listed.iter().filter(|j| j.order_id.is_none()).count(),
        1,
        "the message that is no job is listed without an order"
    );
    for j in &listed {
        let sent = j.sent_at.expect("SQS says when it was sent");
        assert!(sent.unix_millis() > 1_600_000_000_000, "{sent}");
    }
    // Listing took nothing: a listing at once finds them all again, and a limit is kept.
    assert_eq!(dead.list(100).await.unwrap().len(), 14);
    assert_eq!(dead.list(5).await.unwrap().len(), 5);

    // Bounded moves: five, then the rest; what moved is on the queue, once each, as it was
    // (its trace attributes included).
    assert_eq!(dead.redrive(5).await.unwrap(), 5);
    assert_eq!(dead.list(100).await.unwrap().len(), 9);
    assert_eq!(dead.redrive(100).await.unwrap(), 9);
    assert!(dead.list(100).await.unwrap().is_empty());
    assert_eq!(dead.redrive(100).await.unwrap(), 0);
    let mut moved = bodies(&c, &urls.queue_url).await;
    moved.sort();
    let mut expected: Vec<(String, Trace)> = (0..=12)
        .map(|n| (serde_json::to_string(&job(n)).unwrap(), job(n).trace))
        .chain([("not a job".to_owned(), Trace::default())])
        .collect();
    expected.sort();
    assert_eq!(moved, expected);
}

#[tokio::test]
#[ignore = "needs the local AWS API server: ./scripts/test"]
async fn a_dead_letter_queue_that_cannot_be_reached_is_an_error_not_an_empty_answer() {
    let c = clients().await;
    let urls = bootstrap::ensure_queues(&c, &unique("post-payment"), 2)
        .await
        .unwrap();
    let missing = format!("{}-gone", urls.dead_letter_url);
    let dead = SqsDeadJobs::new(c.sqs.clone(), &missing, &urls.queue_url);
    assert!(dead.list(10).await.is_err());
    assert!(dead.redrive(10).await.is_err());
}

#[tokio::test]
#[ignore = "needs the local AWS API server: ./scripts/test"]
async fn published_events_carry_the_event_type_and_trace_attributes_to_subscribers() {
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
                trace: Trace::request("req_webhook_1").with_event("evt_paid_1"),
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
                trace: Trace::default(),
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
        let trace = |name: &str| envelope["MessageAttributes"][name]["Value"].as_str();
        if expected_type == "order.payment_succeeded" {
            assert_eq!(trace("requestId"), Some("req_webhook_1"), "{envelope}");
            assert_eq!(trace("eventId"), Some("evt_paid_1"), "{envelope}");
        } else {
            assert_eq!(
                (trace("requestId"), trace("eventId")),
                (None, None),
                "{envelope}"
            );
        }
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
