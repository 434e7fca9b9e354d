//! Recorded provider events are kept as long as the policy says (`EVENT_RETENTION_DAYS`,
//! 35 by default: past Stripe's 30-day event list, so a backfill finds what it applied).

mod common;

use std::time::Duration;

use oms_core::Timestamp;
use oms_core::app::webhook::{Delivery, EVENT_RETENTION, handle_event_with};

async fn record_one(keep: Option<Duration>) -> (Timestamp, Timestamp) {
    let t = Timestamp::from_unix_millis(1_800_000_000_000);
    let (store, body, event) = common::captured_order(t, "evt_1").await;
    let outlets = common::Outlets::at(t);
    let ports = outlets.ports(&store, oms_core::ports::Trace::default());
    let mut delivery = Delivery::default();
    if let Some(keep) = keep {
        delivery.event_retention = keep;
    }
    handle_event_with(&ports, delivery, &event, body.as_bytes())
        .await
        .unwrap();
    let rec = store.events().pop().expect("the event is recorded");
    (rec.received_at, rec.expires_at)
}

#[tokio::test]
async fn an_event_is_kept_35_days_by_default_and_as_long_as_configured() {
    assert_eq!(EVENT_RETENTION, Duration::from_secs(35 * 86_400));
    let (at, until) = record_one(None).await;
    assert_eq!(until, at.plus(Duration::from_secs(35 * 86_400)));
    let (at, until) = record_one(Some(Duration::from_secs(90 * 86_400))).await;
    assert_eq!(until, at.plus(Duration::from_secs(90 * 86_400)));
}
