//! `purchase-generator`: sends purchase events with timestamps near the current
//! time to a running Freshet server, at a steady rate, until stopped (or until
//! `--count` events). Used by `make run` to keep the bundled example flowing.

use std::time::{Duration, Instant};

use clap::Parser;
use freshet_api::proto::{feature_store_client::FeatureStoreClient, IngestRequest, PayloadFormat};
use rand::{Rng, SeedableRng};

/// Sends purchase events to a Freshet server.
#[derive(Debug, Parser)]
struct Args {
    /// The server.
    #[arg(long, env = "FRESHET_SERVER", default_value = "http://127.0.0.1:50051")]
    server: String,
    /// Events per second.
    #[arg(long, default_value_t = 200)]
    rate: u64,
    /// Distinct users (ids 1..=users).
    #[arg(long, default_value_t = 1000)]
    users: u64,
    /// Distinct items (ids 1..=items, as in examples/ecommerce/items.csv).
    #[arg(long, default_value_t = 200)]
    items: u64,
    /// Stop after this many events (runs until stopped when absent).
    #[arg(long)]
    count: Option<u64>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut client = FeatureStoreClient::connect(args.server.clone()).await?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let ticks_per_second = 10u64;
    let per_tick = (args.rate / ticks_per_second).max(1);
    let started = Instant::now();
    let mut sent = 0u64;
    let mut tick = 0u64;
    while args.count.is_none_or(|count| sent < count) {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let mut lines = Vec::with_capacity(per_tick as usize);
        for _ in 0..per_tick {
            // Skewed towards low ids, so some users buy a lot.
            let user = 1 + (rng.random_range(0.0f64..1.0).powi(2) * args.users as f64) as u64;
            let item = rng.random_range(1..=args.items);
            let amount = (rng.random_range(1.0f64..200.0) * 100.0).round() / 100.0;
            let ts = now_ms - rng.random_range(0..2000);
            lines.push(format!(
                r#"{{"user_id":{user},"item_id":{item},"amount":{amount},"ts":{ts}}}"#
            ));
        }
        let response = client
            .ingest(IngestRequest {
                source: "purchases".into(),
                format: PayloadFormat::JsonLines as i32,
                data: lines.join("\n").into_bytes(),
                skip_bad_rows: true,
                validate_only: false,
                wait: false,
            })
            .await?
            .into_inner();
        sent += response.accepted + response.late;
        tick += 1;
        if tick.is_multiple_of(ticks_per_second * 10) {
            eprintln!("purchase-generator: {sent} events sent");
        }
        let next = started + Duration::from_millis(tick * 1000 / ticks_per_second);
        tokio::time::sleep_until(next.into()).await;
    }
    Ok(())
}
