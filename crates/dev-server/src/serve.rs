//! The dev server's HTTP/1 accept loop. `axum::serve` gives hyper no timer, so hyper's
//! header-read timeout never runs and a client that sends half a request head (or nothing)
//! holds its connection and task for ever. This loop is `axum::serve` with that timeout set,
//! built from hyper and hyper-util, which axum already uses (same versions, same features:
//! no new crate in Cargo.lock).

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Serves `router` on `listener` until `shutdown` resolves, then lets open connections finish
/// their request in flight. A connection that has not sent a whole request head within
/// `header_read_timeout` of starting to read one — including an idle keep-alive connection — is
/// closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut shutdown = pin!(shutdown);
    // Connections watch `stop` for shutdown; `closed` below waits for the last to drop it.
    let (stop_tx, stop_rx) = watch::channel(());
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors and the like: accepting again at once would spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(router.clone());
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout);
            let mut conn = pin!(builder.serve_connection(TokioIo::new(stream), service));
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(stop_rx);
    let _ = stop_tx.send(());
    stop_tx.closed().await;
}
