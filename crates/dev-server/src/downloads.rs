//! The local stand-in for S3's pre-signed links to digital products' files: links to this dev
//! server's `GET /dev/downloads/{sku}?expires=…&sig=…`, signed with HMAC-SHA256 over the SKU and
//! the expiry under a key drawn at start-up (so a link dies with the process), and checked in
//! constant time. The file is `<dir>/<sku>` (`DEV_DOWNLOADS_DIR`, default the repository's
//! `demo/downloads/`). A bad, expired or forged link is `403` in the API's error envelope, as
//! S3 refuses one. Local use only: never wired into a Lambda.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use oms_core::ports::{Clock, DownloadLinks, LinkError};
use oms_core::{Sku, Timestamp};
use oms_http::ApiError;
use sha2::Sha256;

/// Where the demo's product files are when `DEV_DOWNLOADS_DIR` is not set.
pub fn default_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../demo/downloads"))
}

/// Signs and checks download links for one running dev server.
pub struct LocalDownloadLinks {
    /// `http://host:port/dev/downloads`
    base: String,
    key: [u8; 32],
    dir: PathBuf,
    clock: Arc<dyn Clock>,
}

impl LocalDownloadLinks {
    /// Links under `base` (`http://host:port/dev/downloads`) to the files in `dir`, with a
    /// fresh random key.
    pub fn new(base: String, dir: PathBuf, clock: Arc<dyn Clock>) -> std::io::Result<Self> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(Self {
            base,
            key,
            dir,
            clock,
        })
    }

    /// The MAC of `sku` and `expires` (HMAC takes a key of any length: never `None`).
    fn mac(&self, sku: &str, expires: i64) -> Option<Hmac<Sha256>> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).ok()?;
        mac.update(sku.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        Some(mac)
    }

    /// Whether `sig` is this server's signature of `sku` until `expires` (Unix seconds), and
    /// that instant has not passed.
    pub fn verify(&self, sku: &str, expires: i64, sig: &str) -> bool {
        let Ok(sig) = hex::decode(sig) else {
            return false;
        };
        let fresh = self.clock.now().unix_seconds() < expires;
        // `verify_slice` compares in constant time.
        let signed = self.mac(sku, expires);
        signed.is_some_and(|m| m.verify_slice(&sig).is_ok()) && fresh
    }
}

#[async_trait]
impl DownloadLinks for LocalDownloadLinks {
    async fn link(&self, sku: &Sku, ttl: Duration, now: Timestamp) -> Result<String, LinkError> {
        let expires = now.plus(ttl).unix_seconds();
        let mac = self.mac(sku.as_str(), expires);
        let mac = mac.ok_or_else(|| LinkError("the signing key was refused".into()))?;
        let sig = hex::encode(mac.finalize().into_bytes());
        Ok(format!("{}/{sku}?expires={expires}&sig={sig}", self.base))
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct LinkQuery {
    expires: Option<i64>,
    sig: Option<String>,
}

/// `GET /dev/downloads/{sku}?expires=…&sig=…`: the file, if the link is this server's and
/// still valid.
pub async fn serve_download(
    State(links): State<Arc<LocalDownloadLinks>>,
    Path(sku): Path<String>,
    Query(q): Query<LinkQuery>,
) -> Response {
    let valid = match (q.expires, q.sig.as_deref()) {
        (Some(expires), Some(sig)) => links.verify(&sku, expires, sig),
        _ => false,
    };
    // A SKU is letters, digits and `-._`: never a path of its own.
    let Some(sku) = Sku::parse(&sku).ok().filter(|_| valid) else {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this download link is invalid or has expired; ask for a new one",
        )
        .into_response();
    };
    let path = links.dir.join(sku.as_str());
    match tokio::fs::read(&path).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{sku}\""),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(sku = %sku, path = %path.display(), error = %e, "no file for this download");
            ApiError::not_found().into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oms_memory::ManualClock;

    fn links(clock: Arc<ManualClock>) -> LocalDownloadLinks {
        LocalDownloadLinks::new("http://local/dev/downloads".into(), default_dir(), clock).unwrap()
    }

    #[tokio::test]
    async fn a_link_verifies_until_it_expires_and_a_tampered_one_never() {
        let t0 = Timestamp::from_unix_millis(1_800_000_000_000);
        let clock = Arc::new(ManualClock::at(t0));
        let l = links(clock.clone());
        let sku = Sku::parse("GIFT-CARD-1000").unwrap();
        let url = l.link(&sku, Duration::from_secs(300), t0).await.unwrap();
        let expires = t0.unix_seconds() + 300;
        let sig = url.rsplit("sig=").next().unwrap();
        assert!(url.starts_with("http://local/dev/downloads/GIFT-CARD-1000?expires="));
        assert!(l.verify("GIFT-CARD-1000", expires, sig));
        assert!(!l.verify("CHAI-250G", expires, sig));
        assert!(!l.verify("GIFT-CARD-1000", expires + 1, sig));
        assert!(!l.verify("GIFT-CARD-1000", expires, "00"));
        assert!(!l.verify("GIFT-CARD-1000", expires, "not hex"));
        clock.advance(Duration::from_secs(300));
        assert!(!l.verify("GIFT-CARD-1000", expires, sig));
        // Another process's key signs differently.
        let other = links(Arc::new(ManualClock::at(t0)));
        assert!(!other.verify("GIFT-CARD-1000", expires, sig));
    }
}
