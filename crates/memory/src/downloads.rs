//! A host with no download files: every link request fails, saying so. What a host that serves
//! no digital products is wired with until it is given real links (the dev server's signed
//! route, S3 in AWS).

use async_trait::async_trait;
use oms_core::Sku;
use oms_core::Timestamp;
use oms_core::ports::{DownloadLinks, LinkError};

/// Download links that are never made.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDownloadFiles;

#[async_trait]
impl DownloadLinks for NoDownloadFiles {
    async fn link(
        &self,
        sku: &Sku,
        _: std::time::Duration,
        _: Timestamp,
    ) -> Result<String, LinkError> {
        Err(LinkError(format!(
            "this host serves no download files ({sku})"
        )))
    }
}
