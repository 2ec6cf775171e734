//! The `freshet` command line: `serve` runs the server; every other command is a
//! gRPC client of a running server.

mod apply;
mod get;
mod ingest;
mod status;
mod train;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::proto::feature_store_client::FeatureStoreClient;
use crate::server::MAX_REQUEST_BYTES;
use crate::Result;

pub use apply::apply;
pub use get::{get, GetArgs};
pub use ingest::{ingest, IngestArgs};
pub use status::status;
pub use train::{train, TrainArgs};

/// Freshet: one definition per feature, served online and reproduced for training.
#[derive(Debug, Parser)]
#[command(name = "freshet", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where a client command finds the server, and how it prints.
#[derive(Debug, clap::Args)]
pub struct ClientArgs {
    /// The server's address.
    #[arg(
        long,
        env = "FRESHET_SERVER",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    pub server: String,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (embedded storage by default).
    Serve {
        /// A YAML config file (data_dir, listen, apply, metrics_listen).
        #[arg(long, env = "FRESHET_CONFIG")]
        config: Option<PathBuf>,
        /// Folder of the embedded storage [default: ./freshet-data].
        #[arg(long, env = "FRESHET_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Address to listen on [default: 127.0.0.1:50051].
        #[arg(long, env = "FRESHET_LISTEN")]
        listen: Option<String>,
        /// A definitions file to apply at start.
        #[arg(long)]
        apply: Option<PathBuf>,
        /// Address of the Prometheus endpoint [default: 127.0.0.1:9464].
        #[arg(long, env = "FRESHET_METRICS_LISTEN")]
        metrics_listen: Option<String>,
        /// Bytes of feature events a training-set build holds in memory before
        /// it spills to disk [default: 1073741824].
        #[arg(long, env = "FRESHET_TRAINING_MEMORY")]
        training_memory: Option<usize>,
    },
    /// Validate a definitions file and store new versions of what changed.
    Apply {
        /// The definitions file (YAML, or JSON by extension).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// Only print the plan.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Send events from a file (JSON lines, CSV, Parquet) or stdin to a stream source.
    Ingest {
        #[command(flatten)]
        args: IngestArgs,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Read online feature values for entity keys (JSON out).
    Get {
        #[command(flatten)]
        args: GetArgs,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Build a point-in-time-correct training set and write it as Parquet.
    Train {
        #[command(flatten)]
        args: TrainArgs,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show each source's head, accepted and rejected events.
    Status {
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// Connects to the server named in `client`.
pub async fn connect(client: &ClientArgs) -> Result<FeatureStoreClient<tonic::transport::Channel>> {
    Ok(FeatureStoreClient::connect(client.server.clone())
        .await?
        .max_decoding_message_size(MAX_REQUEST_BYTES)
        .max_encoding_message_size(MAX_REQUEST_BYTES))
}
