//! Invoice documents kept in memory: the local counterpart of the S3 bucket.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use oms_core::ports::{InvoiceStorage, StorageError};

#[derive(Default)]
pub struct InMemoryInvoices {
    objects: Mutex<HashMap<String, (String, Vec<u8>)>>,
}

impl InMemoryInvoices {
    pub fn keys(&self) -> Vec<String> {
        self.objects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }
}

#[async_trait]
impl InvoiceStorage for InMemoryInvoices {
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), StorageError> {
        self.objects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_owned(), (content_type.to_owned(), body));
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .objects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .map(|(_, b)| b.clone()))
    }
}
