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
