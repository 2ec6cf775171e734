//! The `freshet` binary: the server and its command-line client.

use std::io::IsTerminal;

use anyhow::Context;
use clap::Parser;
use freshet_api::cli::{self, Cli, Command};
use freshet_api::server::{self, ServeConfig};
use freshet_api::ApiError;
use tracing_subscriber::EnvFilter;

/// jemalloc serves every allocation of the process, RocksDB's included (its
/// `malloc` replaces libc's): under the engine's many short-lived buffers,
/// glibc's allocator spent about a fifth of the server's time sorting its
/// bins (`malloc_consolidate`, `unlink_chunk`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    let json = cli.command.json();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) if json => {
            let structured = match error.downcast::<ApiError>() {
                Ok(error) => error.into_json(),
                Err(other) => serde_json::json!({
                    "error": { "code": "UNKNOWN", "message": format!("{other:#}"), "rows": [] }
                }),
            };
            println!("{structured}");
            std::process::ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { config, options } => {
            let config = ServeConfig::resolve(config.as_deref(), options)?;
            server::serve(config, server::shutdown_signal())
                .await
                .context("freshet serve")?;
        }
        Command::Apply {
            file,
            dry_run,
            client,
        } => cli::apply(&file, dry_run, &client).await?,
        Command::Ingest { args, client } => cli::ingest(&args, &client).await?,
        Command::Status { client } => cli::status(&client).await?,
        Command::Features { command, client } => cli::features(&command, &client).await?,
        Command::Registry { command, client } => cli::registry(&command, &client).await?,
        Command::Get { args, client } => cli::get(&args, &client).await?,
        Command::Train { args, client } => cli::train(&args, &client).await?,
    }
    Ok(())
}
