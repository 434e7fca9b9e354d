//! The dev server over raw TCP: what a slow or broken client can and cannot do to a connection.

use std::time::Duration;

use dev_server::{DevServer, DevSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Far beyond the header-read timeout the tests set: only a server that never closes misses it.
const CLOSE_BOUND: Duration = Duration::from_secs(5);

async fn spawn(header_read_timeout: Duration) -> DevServer {
    let mut settings = DevSettings::from_lookup(|k| match k {
        "PORT" => Some("0".into()),
        "DEV_BACKGROUND" => Some("false".into()),
        _ => None,
    })
    .unwrap();
    settings.header_read_timeout = header_read_timeout;
    dev_server::spawn(&settings).await.unwrap()
}

/// Reads until the server closes the connection, returning what it sent; `None` if it is still
/// open after [`CLOSE_BOUND`].
async fn read_until_closed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    tokio::time::timeout(CLOSE_BOUND, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
    .map(|()| got)
}

async fn health_over_a_fresh_connection(server: &DevServer) -> String {
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let got = read_until_closed(&mut stream)
        .await
        .expect("a whole request is answered and closed");
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn a_connection_that_sends_half_a_request_head_is_closed() {
    let server = spawn(Duration::from_millis(200)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    // The head is missing its final CRLF: the server waits for the rest, but not for ever.
    stream
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let got = read_until_closed(&mut stream)
        .await
        .expect("the server closes a connection whose request head never completes");
    assert!(
        !String::from_utf8_lossy(&got).contains("\"ok\""),
        "half a request is not served"
    );

    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    assert!(
        read_until_closed(&mut silent).await.is_some(),
        "a connection that sends nothing is closed too"
    );

    let reply = health_over_a_fresh_connection(&server).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
}

#[tokio::test]
async fn a_request_sent_slowly_but_within_the_timeout_is_answered() {
    let server = spawn(Duration::from_secs(10)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream
        .write_all(b"Connection: close\r\n\r\n")
        .await
        .unwrap();
    let got = read_until_closed(&mut stream).await.expect("answered");
    let reply = String::from_utf8_lossy(&got);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("\"status\":\"ok\""), "{reply}");
}
