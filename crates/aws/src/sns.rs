//! Order events and ops alerts on SNS. Each message carries the `eventType` message attribute
//! that subscription filter policies match on, and — when known — `requestId` and `eventId`,
//! the request and provider event the change it announces came from.

use async_trait::async_trait;
use aws_sdk_sns::types::MessageAttributeValue;
use oms_core::ports::{EventPublisher, Message, PublishError, Topic};

pub struct SnsPublisher {
    client: aws_sdk_sns::Client,
    order_events_arn: String,
    ops_alerts_arn: String,
}

impl SnsPublisher {
    pub fn new(
        client: aws_sdk_sns::Client,
        order_events_arn: impl Into<String>,
        ops_alerts_arn: impl Into<String>,
    ) -> Self {
        Self {
            client,
            order_events_arn: order_events_arn.into(),
            ops_alerts_arn: ops_alerts_arn.into(),
        }
    }
}

#[async_trait]
impl EventPublisher for SnsPublisher {
    async fn publish(&self, topic: Topic, message: &Message) -> Result<(), PublishError> {
        let arn = match topic {
            Topic::OrderEvents => &self.order_events_arn,
            Topic::OpsAlerts => &self.ops_alerts_arn,
        };
        let string = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| PublishError(e.to_string()))
        };
        let mut publish = self
            .client
            .publish()
            .topic_arn(arn)
            .message(message.body.to_string())
            .message_attributes("eventType", string(&message.event_type)?);
        for (name, value) in message.trace.attributes() {
            publish = publish.message_attributes(name, string(value)?);
        }
        publish
            .send()
            .await
            .map_err(|e| PublishError(crate::error_text(&e)))?;
        Ok(())
    }
}
