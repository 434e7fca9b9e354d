//! SDK clients, built once per cold start and shared.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// The clients every function uses, and the loaded configuration for the S3 client only the
/// worker builds ([`AwsClients::s3`]). Cheap to clone (each is an `Arc` inside).
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    #[cfg(feature = "s3")]
    config: SdkConfig,
}

/// Retries: the SDK's standard mode (throttling and transient errors, with jittered back-off),
/// three attempts. Timeouts keep a webhook well inside Razorpay's 5-second limit.
pub async fn load_config() -> SdkConfig {
    // A local AWS API server (a single Python process shared by a whole test run) answers far
    // slower than AWS under load; only there are the limits relaxed.
    let local = std::env::var("AWS_ENDPOINT_URL").is_ok_and(|u| {
        u.contains("://127.") || u.contains("://localhost") || u.contains("://[::1]")
    });
    let (attempt, operation) = if local {
        (Duration::from_secs(20), Duration::from_secs(60))
    } else {
        (Duration::from_millis(1500), Duration::from_secs(4))
    };
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(attempt)
                .operation_timeout(operation)
                .build(),
        )
        .load()
        .await
}

impl AwsClients {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            sns: aws_sdk_sns::Client::new(config),
            secrets: aws_sdk_secretsmanager::Client::new(config),
            #[cfg(feature = "s3")]
            config: config.clone(),
        }
    }

    /// The S3 client (the worker's invoices), built on demand from the same configuration.
    #[cfg(feature = "s3")]
    pub fn s3(&self) -> aws_sdk_s3::Client {
        // A local AWS API server serves every bucket on one host: address buckets by path.
        let s3_config = aws_sdk_s3::config::Builder::from(&self.config)
            .force_path_style(self.config.endpoint_url().is_some())
            .build();
        aws_sdk_s3::Client::from_conf(s3_config)
    }

    pub async fn from_env() -> Self {
        Self::new(&load_config().await)
    }
}
