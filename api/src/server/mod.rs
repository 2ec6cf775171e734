//! The Freshet server: opens the configured storage, hosts the gRPC service and
//! shuts down cleanly on SIGINT or SIGTERM.

mod config;
mod convert;
mod flight;
mod metrics_http;
mod service;
pub mod ticket;

use std::path::Path;
use std::sync::Arc;

use arrow_flight::flight_service_server::FlightServiceServer;
use freshet_backends::Storage;
use freshet_engine::metrics::Metrics;
use freshet_engine::runtime::{BackfillConfig, MicroBatchLimits, RuntimeConfig};
use freshet_engine::training::TrainingConfig;
use freshet_engine::FeatureStore;
use freshet_sql::load::{definitions_folder, read_definitions};
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tracing::info;

pub use config::{ServeConfig, ServeOptions};
pub use convert::training_request;
pub use flight::TrainingFlight;
pub use service::{FeatureStoreService, USER_HEADER};

use crate::proto::feature_store_server::FeatureStoreServer;
use crate::{ApiError, Result};

/// Entity-key partitions of a training-set build: once it spills, a build
/// holds two in memory (the one evaluated and the next, read ahead), so more
/// partitions mean less memory beside `--training-memory`.
pub const TRAINING_PARTITIONS: usize = 64;

/// Largest request the server accepts.
pub const MAX_REQUEST_BYTES: usize = 64 << 20;

/// Runs the server until `shutdown` resolves, then flushes and closes storage.
/// Prints `freshet metrics on URL`, then `freshet listening on ADDR` on stdout once
/// it accepts connections.
pub async fn serve(
    config: ServeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<()> {
    if !freshet_sql::files::configure_s3(config.s3.clone()) {
        return Err(ApiError::Config(
            "this process already reads S3 with other settings".into(),
        ));
    }
    let data_dir = &config.storage.data_dir;
    std::fs::create_dir_all(data_dir).map_err(|e| ApiError::File {
        path: data_dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let Storage { log, state, online } = freshet_backends::open(&config.storage).await?;
    let metrics = Arc::new(Metrics::new());
    let training = TrainingConfig {
        spill_dir: data_dir.join("spill"),
        memory_budget: config.training_memory,
        partitions: TRAINING_PARTITIONS,
    };
    let runtime = RuntimeConfig {
        micro_batch: MicroBatchLimits {
            rows: config.micro_batch_rows,
            bytes: config.micro_batch_bytes,
        },
        backfill: BackfillConfig {
            checkpoint_rows: config.backfill_checkpoint_rows,
            max_rate: config.backfill_max_rate,
        },
    };
    let store =
        Arc::new(FeatureStore::open(log, state, online, metrics.clone(), training, runtime).await?);
    let flight = TrainingFlight::new(store.training());
    let service = FeatureStoreService::new(store);
    if let Some(path) = &config.apply {
        apply_at_start(&service, path).await?;
    }

    let listener = TcpListener::bind(&config.listen)
        .await
        .map_err(|e| ApiError::Config(format!("cannot listen on {}: {e}", config.listen)))?;
    let address = listener
        .local_addr()
        .map_err(|e| ApiError::Config(format!("listener address: {e}")))?;
    let metrics_address = metrics_http::spawn(&config.metrics_listen, metrics).await?;
    info!(%address, %metrics_address, data_dir = %data_dir.display(), "serving");
    println!("freshet metrics on http://{metrics_address}/metrics");
    println!("freshet listening on {address}");
    tonic::transport::Server::builder()
        .add_service(
            FeatureStoreServer::new(service)
                .max_decoding_message_size(MAX_REQUEST_BYTES)
                .max_encoding_message_size(MAX_REQUEST_BYTES),
        )
        .add_service(
            FlightServiceServer::new(flight)
                .max_decoding_message_size(MAX_REQUEST_BYTES)
                .max_encoding_message_size(MAX_REQUEST_BYTES),
        )
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await?;
    info!("stopped; storage closed");
    Ok(())
}

async fn apply_at_start(service: &FeatureStoreService, path: &Path) -> Result<()> {
    let definitions = read_definitions(path)?;
    let base_dir = definitions_folder(path)?;
    let plan = service
        .apply_definitions(
            &definitions,
            &path.display().to_string(),
            &base_dir,
            false,
            "freshet serve --apply",
        )
        .await?;
    for change in &plan.changes {
        info!(kind = change.kind.name(), name = %change.name, version = change.version, action = ?change.change, "applied at start");
    }
    Ok(())
}

/// Resolves when the process receives SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = interrupt => info!(signal = "SIGINT", "shutting down"),
        _ = terminate.recv() => info!(signal = "SIGTERM", "shutting down"),
    }
}
