//! Creates what the service needs when it is missing: the table (with its indexes and TTL), the
//! post-payment queue and its dead-letter queue, the topics and the invoice bucket. Used by the
//! dev server with `DEV_BACKEND=aws` (against a local AWS API server or an account) and by the
//! tests; production resources come from the SAM template.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
#[cfg(feature = "s3")]
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use aws_sdk_sqs::types::QueueAttributeName;
use oms_core::ports::StoreError;

use crate::AwsClients;
use crate::dynamo::sdk_error;

fn build<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Backend(format!("request construction: {e}")))
}

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    build(
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build(),
    )
}

fn attr(name: &str) -> Result<AttributeDefinition, StoreError> {
    build(
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build(),
    )
}

fn gsi(name: &str, projection: Projection) -> Result<GlobalSecondaryIndex, StoreError> {
    build(
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(&format!("{name}PK"), KeyType::Hash)?)
            .key_schema(key(&format!("{name}SK"), KeyType::Range)?)
            .projection(projection)
            .build(),
    )
}

fn all_attributes() -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::All)
        .build()
}

/// What GSI3 (the ops console's searches) keeps besides the keys: the attributes its filters
/// read and an event list shows. `template.yaml` lists the same (a test holds them equal).
pub const GSI3_ATTRIBUTES: [&str; 11] = [
    "status",
    "requiresReview",
    "disputed",
    "provider",
    "eventId",
    "eventType",
    "receivedAt",
    "orderId",
    "outcome",
    "detail",
    "source",
];

fn searched_attributes() -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::Include)
        .set_non_key_attributes(Some(GSI3_ATTRIBUTES.map(str::to_owned).to_vec()))
        .build()
}

/// The single table of `docs/data-model.md`: `PK`/`SK`, `GSI1` (a user's orders), `GSI2` (sparse:
/// catalog, unpaid orders by expiry, fulfilment outbox), `GSI3` (the ops console's searches,
/// [`GSI3_ATTRIBUTES`] projected), TTL on `ttl`.
pub async fn ensure_table(clients: &AwsClients, table: &str) -> Result<(), StoreError> {
    let ddb = &clients.dynamodb;
    match ddb.describe_table().table_name(table).send().await {
        Ok(_) => return Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_not_found_exception()) => {}
        Err(e) => return Err(sdk_error("describe table", e)),
    }
    let created = ddb
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("PK", KeyType::Hash)?)
        .key_schema(key("SK", KeyType::Range)?)
        .attribute_definitions(attr("PK")?)
        .attribute_definitions(attr("SK")?)
        .attribute_definitions(attr("GSI1PK")?)
        .attribute_definitions(attr("GSI1SK")?)
        .attribute_definitions(attr("GSI2PK")?)
        .attribute_definitions(attr("GSI2SK")?)
        .attribute_definitions(attr("GSI3PK")?)
        .attribute_definitions(attr("GSI3SK")?)
        .global_secondary_indexes(gsi("GSI1", all_attributes())?)
        .global_secondary_indexes(gsi("GSI2", all_attributes())?)
        .global_secondary_indexes(gsi("GSI3", searched_attributes())?)
        .send()
        .await;
    match created {
        Ok(_) => {}
        // Someone else created it meanwhile.
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_in_use_exception()) => {}
        Err(e) => return Err(sdk_error("create table", e)),
    }
    for _ in 0..100 {
        let status = ddb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| sdk_error("describe table", e))?
            .table
            .and_then(|t| t.table_status)
            .map(|s| s.as_str().to_owned());
        if status.as_deref() == Some("ACTIVE") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ddb.update_time_to_live()
        .table_name(table)
        .time_to_live_specification(build(
            TimeToLiveSpecification::builder()
                .attribute_name("ttl")
                .enabled(true)
                .build(),
        )?)
        .send()
        .await
        .map_err(|e| sdk_error("enable TTL", e))?;
    Ok(())
}

/// The URLs of a queue and of its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueUrls {
    pub queue_url: String,
    pub dead_letter_url: String,
}

/// The queue `name` with a dead-letter queue `<name>-dlq` after `max_receives`; returns the
/// queue URL.
pub async fn ensure_queue(
    clients: &AwsClients,
    name: &str,
    max_receives: u32,
) -> Result<String, StoreError> {
    Ok(ensure_queues(clients, name, max_receives).await?.queue_url)
}

/// As [`ensure_queue`], returning both URLs.
pub async fn ensure_queues(
    clients: &AwsClients,
    name: &str,
    max_receives: u32,
) -> Result<QueueUrls, StoreError> {
    let sqs = &clients.sqs;
    let dlq_url = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .map_err(|e| StoreError::Backend(format!("create DLQ: {}", crate::error_text(&e))))?
        .queue_url
        .unwrap_or_default();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| StoreError::Backend(format!("DLQ arn: {}", crate::error_text(&e))))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .unwrap_or_default();
    let redrive = serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives.to_string()});
    let queue_url = sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .attributes(QueueAttributeName::VisibilityTimeout, "60")
        .send()
        .await
        .map_err(|e| StoreError::Backend(format!("create queue: {}", crate::error_text(&e))))?
        .queue_url
        .unwrap_or_default();
    Ok(QueueUrls {
        queue_url,
        dead_letter_url: dlq_url,
    })
}

/// The topic `name`; returns its ARN.
pub async fn ensure_topic(clients: &AwsClients, name: &str) -> Result<String, StoreError> {
    Ok(clients
        .sns
        .create_topic()
        .name(name)
        .send()
        .await
        .map_err(|e| StoreError::Backend(format!("create topic: {}", crate::error_text(&e))))?
        .topic_arn
        .unwrap_or_default())
}

#[cfg(feature = "s3")]
pub async fn ensure_bucket(clients: &AwsClients, bucket: &str) -> Result<(), StoreError> {
    let s3 = clients.s3();
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(_) => {
            let mut create = s3.create_bucket().bucket(bucket);
            // Outside us-east-1 a bucket must name its region.
            if let Some(region) = s3.config().region().map(|r| r.as_ref().to_owned())
                && region != "us-east-1"
            {
                create = create.create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(region.as_str()))
                        .build(),
                );
            }
            create.send().await.map_err(|e| {
                StoreError::Backend(format!("create bucket: {}", crate::error_text(&e)))
            })?;
            Ok(())
        }
    }
}

/// Uploads every file in `dir` to `bucket` as `downloads/<file name>` (the dev server's demo
/// product files; an operator does the same with `aws s3 cp`). Returns how many. A missing
/// directory uploads nothing.
#[cfg(feature = "s3")]
pub async fn upload_downloads(
    clients: &AwsClients,
    bucket: &str,
    dir: &std::path::Path,
) -> Result<usize, StoreError> {
    let read_err = |e: std::io::Error| StoreError::Backend(format!("{}: {e}", dir.display()));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    let s3 = clients.s3();
    let mut uploaded = 0;
    for entry in entries {
        let path = entry.map_err(read_err)?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Ok(sku) = oms_core::Sku::parse(name) else {
            continue;
        };
        let body = std::fs::read(&path).map_err(read_err)?;
        s3.put_object()
            .bucket(bucket)
            .key(crate::s3::download_key(&sku))
            .body(aws_sdk_s3::primitives::ByteStream::from(body))
            .send()
            .await
            .map_err(|e| {
                StoreError::Backend(format!("upload {name}: {}", crate::error_text(&e)))
            })?;
        uploaded += 1;
    }
    Ok(uploaded)
}
