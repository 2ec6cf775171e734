//! The Prometheus endpoint: `GET /metrics` over plain HTTP/1.1 on its own port.

use std::net::SocketAddr;
use std::sync::Arc;

use freshet_engine::metrics::Metrics;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tracing::debug;

use crate::{ApiError, Result};

/// Binds `listen` and serves the metrics in the background; returns the address.
pub async fn spawn(listen: &str, metrics: Arc<Metrics>) -> Result<SocketAddr> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| ApiError::Config(format!("cannot listen for metrics on {listen}: {e}")))?;
    let address = listener
        .local_addr()
        .map_err(|e| ApiError::Config(format!("metrics listener address: {e}")))?;
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, peer)) = listener.accept().await else {
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 2048];
                let read = stream.read(&mut request).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&request[..read]);
                let response = if head.starts_with("GET /metrics") {
                    let body = metrics.render();
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                } else {
                    "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        .to_string()
                };
                if let Err(error) = stream.write_all(response.as_bytes()).await {
                    debug!(%peer, %error, "metrics response not sent");
                }
            });
        }
    });
    Ok(address)
}
