//! Adapters on the real AWS APIs, through the official AWS SDK for Rust: the DynamoDB store,
//! the SQS job queue, the SNS publisher, S3 invoice storage (feature `s3`) and the cached
//! Secrets Manager source. Clients are built once per process from one `aws-config` load (honouring
//! `AWS_ENDPOINT_URL` and `AWS_REGION`) and shared by every adapter.

pub mod bootstrap;
pub mod clients;
pub mod dynamo;
#[cfg(feature = "s3")]
pub mod s3;
pub mod secrets;
pub mod sns;
pub mod sqs;

pub use clients::AwsClients;
pub use dynamo::DynamoStore;
#[cfg(feature = "s3")]
pub use s3::{S3DownloadLinks, S3InvoiceStorage};
pub use secrets::{SecretDocuments, SecretsManagerCredentials, SecretsManagerSource};
pub use sns::SnsPublisher;
pub use sqs::{SqsDeadJobs, SqsJobQueue};

/// An SDK error and its sources on one line (the SDK's `Display` alone says only "service
/// error").
pub fn error_text(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
