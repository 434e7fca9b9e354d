//! Invoice documents in S3 (`INVOICE_BUCKET`), private and keyed by order.

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use oms_core::ports::{InvoiceStorage, StorageError};

pub struct S3InvoiceStorage {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3InvoiceStorage {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

#[async_trait]
impl InvoiceStorage for S3InvoiceStorage {
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), StorageError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| StorageError(crate::error_text(&e)))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => {
                let bytes = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| StorageError(e.to_string()))?;
                Ok(Some(bytes.into_bytes().to_vec()))
            }
            Err(e) if e.as_service_error().is_some_and(|se| se.is_no_such_key()) => Ok(None),
            Err(e) => Err(StorageError(crate::error_text(&e))),
        }
    }
}

/// The key of a digital product's file in `DOWNLOADS_BUCKET`.
pub fn download_key(sku: &oms_core::Sku) -> String {
    format!("downloads/{sku}")
}

/// Digital products' files in S3 (`DOWNLOADS_BUCKET`, private), handed out as pre-signed GETs
/// of `downloads/<sku>`. Signing is local (no request to S3): a link to a file nobody uploaded
/// is made, and answers S3's `404` when fetched.
pub struct S3DownloadLinks {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3DownloadLinks {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

#[async_trait]
impl oms_core::ports::DownloadLinks for S3DownloadLinks {
    async fn link(
        &self,
        sku: &oms_core::Sku,
        ttl: std::time::Duration,
        now: oms_core::Timestamp,
    ) -> Result<String, oms_core::ports::LinkError> {
        use aws_sdk_s3::presigning::PresigningConfig;
        use oms_core::ports::LinkError;
        let millis = u64::try_from(now.unix_millis()).unwrap_or_default();
        let signed_at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(millis);
        let config = PresigningConfig::builder()
            .start_time(signed_at)
            .expires_in(ttl)
            .build()
            .map_err(|e| LinkError(e.to_string()))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(download_key(sku))
            .presigned(config)
            .await
            .map_err(|e| LinkError(crate::error_text(&e)))?;
        Ok(request.uri().to_owned())
    }
}
