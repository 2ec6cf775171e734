//! The `freshet` command line: `serve` runs the server; every other command is a
//! gRPC client of a running server.

mod apply;
mod features;
mod get;
mod ingest;
mod progress;
mod registry;
mod status;
mod train;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::proto::feature_store_client::FeatureStoreClient;
use crate::server::{ServeOptions, MAX_REQUEST_BYTES};
use crate::{ApiError, Result};

pub use apply::apply;
pub use features::{features, FeaturesCommand};
pub use get::{get, GetArgs};
pub use ingest::{ingest, IngestArgs};
pub use registry::{registry, PageArgs, RegistryCommand};
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
        /// A YAML config file (any of the options below, as snake_case keys).
        #[arg(long, env = "FRESHET_CONFIG")]
        config: Option<PathBuf>,
        /// The server's settings.
        #[command(flatten)]
        options: ServeOptions,
    },
    /// Validate a definitions file and store new versions of what changed.
    Apply {
        /// The definitions file (YAML, or JSON by extension).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// Only print the plan.
        #[arg(long)]
        dry_run: bool,
        /// Where the server is.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Send events from a file (JSON lines, CSV, Parquet) or stdin to a stream source.
    Ingest {
        /// What to send.
        #[command(flatten)]
        args: IngestArgs,
        /// Where the server is.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Read online feature values for entity keys (a table; JSON with --json).
    Get {
        /// What to read.
        #[command(flatten)]
        args: GetArgs,
        /// Where the server is.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Build a point-in-time-correct training set and write it as Parquet.
    Train {
        /// What to build.
        #[command(flatten)]
        args: TrainArgs,
        /// Where the server is.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Wait for, retire, freeze or unfreeze feature versions.
    Features {
        /// What to do.
        #[command(subcommand)]
        command: FeaturesCommand,
        /// Where the server is.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List the registry's sources, entities or training sets.
    Registry {
        /// What to list.
        #[command(subcommand)]
        command: RegistryCommand,
        /// Where the server is.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show each source's head, counters and lag, and each feature version's
    /// state, with progress bars for running backfills.
    Status {
        /// Where the server is.
        #[command(flatten)]
        client: ClientArgs,
    },
}

impl Command {
    /// Whether the command was asked for JSON output (`--json`): its result
    /// and, on failure, its error go to standard output as JSON.
    pub fn json(&self) -> bool {
        match self {
            Command::Serve { .. } => false,
            Command::Apply { client, .. }
            | Command::Ingest { client, .. }
            | Command::Get { client, .. }
            | Command::Train { client, .. }
            | Command::Features { client, .. }
            | Command::Registry { client, .. }
            | Command::Status { client } => client.json,
        }
    }
}

/// A definition the server sent as JSON text, parsed for printing.
fn definition(json: &str) -> Result<serde_json::Value> {
    serde_json::from_str(json)
        .map_err(|e| ApiError::Config(format!("the server sent an unreadable definition: {e}")))
}

/// `text`, or `None` (JSON null) when it is empty, as proto leaves an
/// unset string.
fn non_empty(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

/// After a page of a listing: how to ask for the next one, if there is one.
fn print_next_page(token: &str) {
    if !token.is_empty() {
        println!("more: --page-token {token}");
    }
}

/// Connects to the server named in `client`.
pub async fn connect(client: &ClientArgs) -> Result<FeatureStoreClient<tonic::transport::Channel>> {
    Ok(FeatureStoreClient::connect(client.server.clone())
        .await?
        .max_decoding_message_size(MAX_REQUEST_BYTES)
        .max_encoding_message_size(MAX_REQUEST_BYTES))
}
