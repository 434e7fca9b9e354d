//! The AWS resources a function uses, named by the SAM template's environment.

use super::env::{ConfigError, Env};

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
    /// `DEAD_LETTER_QUEUE_URL`: the post-payment queue's dead-letter queue (only orders-api,
    /// whose ops routes list it and move its jobs back, needs it)
    pub dead_letter_queue_url: Option<String>,
    /// `DOWNLOADS_BUCKET`: digital products' files, handed out as pre-signed links (only
    /// orders-api, which serves `GET /orders/{orderId}/downloads/{sku}`, needs it)
    pub downloads_bucket: Option<String>,
}

const BY_TEMPLATE: &str = " (set by the SAM template)";

impl AwsResources {
    pub fn read(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            table: env.required("TABLE_NAME", BY_TEMPLATE)?,
            queue_url: env.required("POST_PAYMENT_QUEUE_URL", BY_TEMPLATE)?,
            order_events_arn: env.required("ORDER_EVENTS_TOPIC_ARN", BY_TEMPLATE)?,
            ops_alerts_arn: env.required("OPS_ALERTS_TOPIC_ARN", BY_TEMPLATE)?,
            invoice_bucket: env.var("INVOICE_BUCKET"),
            dead_letter_queue_url: env.var("DEAD_LETTER_QUEUE_URL"),
            downloads_bucket: env.var("DOWNLOADS_BUCKET"),
        })
    }

    /// The worker's bucket, which only it is given.
    pub fn invoice_bucket(&self) -> Result<&str, ConfigError> {
        self.invoice_bucket.as_deref().ok_or(ConfigError::Missing {
            name: "INVOICE_BUCKET",
            hint: BY_TEMPLATE,
        })
    }

    /// The downloads bucket, which only orders-api is given.
    pub fn downloads_bucket(&self) -> Result<&str, ConfigError> {
        self.downloads_bucket
            .as_deref()
            .ok_or(ConfigError::Missing {
                name: "DOWNLOADS_BUCKET",
                hint: BY_TEMPLATE,
            })
    }

    /// The dead-letter queue, which only orders-api is given.
    pub fn dead_letter_queue_url(&self) -> Result<&str, ConfigError> {
        self.dead_letter_queue_url
            .as_deref()
            .ok_or(ConfigError::Missing {
                name: "DEAD_LETTER_QUEUE_URL",
                hint: BY_TEMPLATE,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_function_names_every_aws_resource_it_needs() {
        let e = AwsResources::read(&Env::from_pairs(&[])).unwrap_err();
        assert!(e.to_string().contains("TABLE_NAME"), "{e}");
        let r = AwsResources::read(&Env::from_pairs(&[
            ("TABLE_NAME", "t"),
            ("POST_PAYMENT_QUEUE_URL", "q"),
            ("ORDER_EVENTS_TOPIC_ARN", "e"),
            ("OPS_ALERTS_TOPIC_ARN", "a"),
        ]))
        .unwrap();
        assert_eq!((r.table.as_str(), r.invoice_bucket.as_deref()), ("t", None));
        assert!(
            r.invoice_bucket()
                .unwrap_err()
                .to_string()
                .contains("INVOICE_BUCKET")
        );
        assert!(
            r.dead_letter_queue_url()
                .unwrap_err()
                .to_string()
                .contains("DEAD_LETTER_QUEUE_URL")
        );
        assert!(
            r.downloads_bucket()
                .unwrap_err()
                .to_string()
                .contains("DOWNLOADS_BUCKET")
        );
    }
}
