//! The worker's batch handling on in-memory adapters with the integrations in their dry runs.

mod common;

use aws_lambda_events::sqs::SqsEvent;
use common::{paid_order, world};
use oms_core::ports::OrderStore;
use oms_core::{OrderId, OrderStatus};
use serde_json::json;

fn batch(messages: &[(&str, String, u32)]) -> SqsEvent {
    let records: Vec<_> = messages
        .iter()
        .map(|(id, body, receives)| {
            json!({
                "messageId": id, "receiptHandle": "rh", "body": body,
                "attributes": {"ApproximateReceiveCount": receives.to_string()},
                "messageAttributes": {}, "md5OfBody": "x", "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:ap-south-1:1:post-payment", "awsRegion": "ap-south-1"
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

fn job(id: &OrderId) -> String {
    json!({ "orderId": id }).to_string()
}

#[tokio::test]
async fn a_batch_with_one_poison_message_reports_exactly_that_message() {
    let w = world(5);
    let a = paid_order(&w.store, 0).await;
    let b = paid_order(&w.store, 1).await;
    let res = w
        .worker
        .handle(batch(&[
            ("m-1", job(&a), 1),
            ("m-poison", "not json".into(), 1),
            ("m-2", job(&b), 1),
        ]))
        .await;
    let failed: Vec<&str> = res
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, vec!["m-poison"]);
    for id in [&a, &b] {
        let o = w.store.get_order(id).await.unwrap().unwrap();
        assert_eq!(o.status(), OrderStatus::Fulfilled);
        assert!(
            o.shipment().unwrap().awb.starts_with("DRYRUN"),
            "Shiprocket ran its dry run"
        );
    }
    assert!(
        w.publisher.of_type("ops.fulfilment_failed").is_empty(),
        "not its last receive yet"
    );
}

#[tokio::test]
async fn the_last_failed_receive_raises_an_ops_alert() {
    let w = world(3);
    let ghost = OrderId::parse("ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ9").unwrap();
    let res = w.worker.handle(batch(&[("m-2", job(&ghost), 2)])).await;
    assert_eq!(res.batch_item_failures.len(), 1);
    assert!(w.publisher.of_type("ops.fulfilment_failed").is_empty());
    let res = w
        .worker
        .handle(batch(&[
            ("m-3", job(&ghost), 3),
            ("m-poison", "{}".into(), 3),
        ]))
        .await;
    assert_eq!(res.batch_item_failures.len(), 2);
    let alerts = w.publisher.of_type("ops.fulfilment_failed");
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[0].body["severity"], "high");
    assert_eq!(alerts[0].body["category"], "payment");
    assert_eq!(alerts[0].body["messageId"], "m-3");
    assert_eq!(alerts[1].body["category"], "api");
}

#[tokio::test]
async fn a_job_delivered_in_two_batches_fulfils_once() {
    let w = world(5);
    let a = paid_order(&w.store, 0).await;
    assert!(
        w.worker
            .handle(batch(&[("m-1", job(&a), 1)]))
            .await
            .batch_item_failures
            .is_empty()
    );
    let first = w.store.get_order(&a).await.unwrap().unwrap();
    assert!(
        w.worker
            .handle(batch(&[("m-1", job(&a), 2)]))
            .await
            .batch_item_failures
            .is_empty()
    );
    assert_eq!(w.store.get_order(&a).await.unwrap().unwrap(), first);
    assert_eq!(w.publisher.of_type("order.fulfilled").len(), 1);
}
