//! `GET /orders/{orderId}/downloads/{sku}` (`docs/decisions.md`, "Digital downloads"): the
//! order's owner, a guest with its `X-Order-Token`, or an admin gets a short-lived link to a
//! digital product's file once the order is paid; anyone else, and any SKU the order does not
//! hold digitally, is told it does not exist. The rules are [`Order::check_download`]'s.
//!
//! The link is made before anything is written, and the grant recorded (a `download_granted`
//! entry, version-conditioned) before the link is answered: a link that could not be made
//! records nothing, and no link is ever handed out unrecorded.

use std::time::Duration;

use crate::ids::{OrderId, Sku};
use crate::order::{DownloadRefusal, Order, Viewer};
use crate::ports::{LinkError, StoreError};
use crate::time::Timestamp;

use super::Services;
use super::retry::{Contended, MAX_ATTEMPTS, Retry};

/// How long a download link works: long enough to start a download, short enough that a
/// forwarded link soon stops working.
pub const LINK_TTL: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// No such order for this caller, or no such download on it.
    #[error("no such download")]
    NotFound,
    #[error(transparent)]
    Refused(DownloadRefusal),
    /// The link could not be made: nothing was recorded.
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the order kept changing")]
    Contention,
}

impl From<DownloadRefusal> for DownloadError {
    fn from(r: DownloadRefusal) -> Self {
        match r {
            DownloadRefusal::NotFound => Self::NotFound,
            r => Self::Refused(r),
        }
    }
}

impl From<Contended> for DownloadError {
    fn from(_: Contended) -> Self {
        Self::Contention
    }
}

/// A link handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    pub sku: Sku,
    pub url: String,
    pub expires_at: Timestamp,
}

/// Hands `viewer` a link to `raw_sku`'s file on the order `raw_id`, recorded as granted to
/// `by` (a user id, `guest`, an admin).
pub async fn grant_download(
    services: &Services,
    viewer: &Viewer,
    by: &str,
    raw_id: &str,
    raw_sku: &str,
) -> Result<Download, DownloadError> {
    let id = OrderId::parse(raw_id).map_err(|_| DownloadError::NotFound)?;
    let sku = Sku::parse(raw_sku).map_err(|_| DownloadError::NotFound)?;
    let digital = services.policy.digital_skus.contains(&sku);
    let mut retry = Retry::new(MAX_ATTEMPTS);
    // Made once, on the first pass that may grant it; a lost race records the same link.
    let mut link: Option<(String, Timestamp)> = None;
    loop {
        let now = services.clock.now();
        let order: Order = services
            .store
            .get_order(&id)
            .await?
            .filter(|o| o.visible_to(viewer))
            .ok_or(DownloadError::NotFound)?;
        order.check_download(&sku, digital)?;
        let (url, expires_at) = match &link {
            Some(made) => made.clone(),
            None => {
                let url = services.downloads.link(&sku, LINK_TTL, now).await?;
                link.insert((url, now.plus(LINK_TTL))).clone()
            }
        };
        let mut next = order.clone();
        next.grant_download(&sku, digital, by, now, expires_at)?;
        if services
            .store
            .save_order(&next, order.version(), None)
            .await?
        {
            tracing::info!(order_id = %id, sku = %sku, by, "download link granted");
            return Ok(Download {
                sku,
                url,
                expires_at,
            });
        }
        retry.lost_race()?;
    }
}
