//! `freshet train`: builds a training set on the server and writes it as Parquet,
//! with a progress bar on stderr when it is a terminal (or with `--progress`,
//! one line per step) and a summary on stdout: a sentence, or JSON with
//! `--json`.

use std::fs::File;
use std::io::{Cursor, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use arrow::ipc::reader::StreamReader;
use freshet_sql::files::{configure_s3, s3_store, FileLocation, S3Settings};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, WriteMultipart};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::{connect, ClientArgs};
use crate::proto::{self, GenerateTrainingSetRequest};
use crate::{ApiError, Result};

/// What to build and where to write it.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Print progress on stderr even when it is not a terminal (one line per
    /// step); on a terminal a bar is always drawn.
    #[arg(long)]
    pub progress: bool,
    /// A training set of the registry (NAME or NAME@vN): its label and features.
    #[arg(long, conflicts_with_all = ["label", "features"])]
    pub training_set: Option<String>,
    /// A label of the registry (NAME or NAME@vN).
    #[arg(long)]
    pub label: Option<String>,
    /// Comma-separated features: names (active version) or name@vN.
    #[arg(long, value_delimiter = ',')]
    pub features: Vec<String>,
    /// Label rows from this file (.csv with a header, .parquet, .json/.jsonl;
    /// a path or s3://BUCKET/KEY, which the server reads) instead of the
    /// label's source.
    #[arg(long)]
    pub labels: Option<String>,
    /// Without --label: the timestamp column of the --labels file.
    #[arg(long)]
    pub timestamp_column: Option<String>,
    /// Compute features as of each label time minus this (e.g. 5m).
    #[arg(long)]
    pub feature_offset: Option<String>,
    /// The label column holding an entity's keys, as ENTITY=COLUMN (repeat for
    /// several entities); an entity not named reads the column named as its key.
    #[arg(long = "entity", value_parser = entity_column)]
    pub entities: Vec<(String, String)>,
    /// The Parquet file to write: a path, or s3://BUCKET/KEY (a multipart
    /// upload, visible only once complete).
    #[arg(long)]
    pub out: String,
    /// An S3-compatible endpoint for an s3:// --out (MinIO, a test server);
    /// AWS itself when unset. Credentials come from the AWS_* environment.
    #[arg(long, env = "FRESHET_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// The S3 region, when not from AWS_REGION.
    #[arg(long, env = "FRESHET_S3_REGION")]
    pub s3_region: Option<String>,
}

/// Where the training set goes: a local file (written beside it as
/// `.parquet.partial`, renamed when whole) or an S3 object (written to a
/// local temporary file, then uploaded in parts).
enum Output {
    Local(PathBuf),
    S3 { bucket: String, key: String },
}

impl Output {
    fn parse(out: &str) -> Result<Output> {
        if !out.starts_with("s3://") {
            return Ok(Output::Local(PathBuf::from(out)));
        }
        match FileLocation::parse(out, Path::new("/")) {
            Ok(FileLocation::S3 { bucket, key }) => Ok(Output::S3 { bucket, key }),
            Ok(FileLocation::Local(_)) | Err(_) => Err(ApiError::Config(format!(
                "--out '{out}' must be s3://bucket/key"
            ))),
        }
    }

    /// The file the rows are written to first.
    fn partial(&self) -> PathBuf {
        match self {
            Output::Local(path) => path.with_extension("parquet.partial"),
            Output::S3 { .. } => {
                std::env::temp_dir().join(format!("freshet-train-{}.parquet", std::process::id()))
            }
        }
    }

    /// Puts the whole `partial` file where it belongs.
    async fn finish(&self, partial: &Path) -> Result<()> {
        match self {
            Output::Local(path) => std::fs::rename(partial, path).map_err(|e| ApiError::File {
                path: path.display().to_string(),
                reason: e.to_string(),
            }),
            Output::S3 { bucket, key } => {
                let uploaded = upload(partial, bucket, key).await;
                let _ = std::fs::remove_file(partial);
                uploaded.map_err(|reason| ApiError::File {
                    path: format!("s3://{bucket}/{key}"),
                    reason,
                })
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Output::Local(path) => path.display().to_string(),
            Output::S3 { bucket, key } => format!("s3://{bucket}/{key}"),
        }
    }
}

/// Uploads `file` to `bucket`/`key` in 8 MiB parts; the object appears only
/// when the upload completes, and a failed upload is aborted.
async fn upload(file: &Path, bucket: &str, key: &str) -> std::result::Result<(), String> {
    const PART: usize = 8 << 20;
    let store = s3_store(bucket).map_err(|e| e.to_string())?;
    let parts = store
        .put_multipart(&ObjectPath::from(key))
        .await
        .map_err(|e| e.to_string())?;
    let mut writer = WriteMultipart::new_with_chunk_size(parts, PART);
    let mut source = File::open(file).map_err(|e| e.to_string())?;
    let mut buffer = vec![0u8; PART];
    loop {
        let read = match source.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) => {
                let _ = writer.abort().await;
                return Err(e.to_string());
            }
        };
        if let Err(e) = writer.wait_for_capacity(4).await {
            let _ = writer.abort().await;
            return Err(e.to_string());
        }
        writer.write(&buffer[..read]);
    }
    writer.finish().await.map(|_| ()).map_err(|e| e.to_string())
}

/// Parses `ENTITY=COLUMN`.
fn entity_column(text: &str) -> std::result::Result<(String, String), String> {
    match text.split_once('=') {
        Some((entity, column)) if !entity.is_empty() && !column.is_empty() => {
            Ok((entity.to_string(), column.to_string()))
        }
        _ => Err(format!("'{text}' is not ENTITY=COLUMN")),
    }
}

/// The labels as the server takes them: an s3:// URI as given, a path made
/// absolute as a file:// URI.
fn labels_uri(labels: &str) -> Result<String> {
    if labels.starts_with("s3://") {
        return Ok(labels.to_string());
    }
    let path = Path::new(labels);
    let absolute = std::path::absolute(path).map_err(|e| ApiError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(format!("file://{}", absolute.display()))
}

/// Draws `done` of `total` as a bar on stderr (in place on a terminal).
fn draw(done: u64, total: u64) {
    let bar = format!("{} {done}/{total} rows", super::progress::bar(done, total));
    let mut stderr = std::io::stderr();
    if stderr.is_terminal() {
        let _ = write!(stderr, "\r{bar}");
    } else {
        let _ = writeln!(stderr, "{bar}");
    }
    let _ = stderr.flush();
}

/// Runs `freshet train`.
pub async fn train(args: &TrainArgs, client: &ClientArgs) -> Result<()> {
    let output = Output::parse(&args.out)?;
    configure_s3(S3Settings {
        endpoint: args.s3_endpoint.clone(),
        region: args.s3_region.clone(),
        ..S3Settings::default()
    });
    let request = GenerateTrainingSetRequest {
        training_set: args.training_set.clone().unwrap_or_default(),
        label: args.label.clone().unwrap_or_default(),
        features: args.features.clone(),
        labels_uri: args
            .labels
            .as_deref()
            .map(labels_uri)
            .transpose()?
            .unwrap_or_default(),
        labels_arrow_ipc: Vec::new(),
        timestamp_column: args.timestamp_column.clone().unwrap_or_default(),
        feature_offset: args.feature_offset.clone().unwrap_or_default(),
        entities: args.entities.iter().cloned().collect(),
    };
    let mut stream = connect(client)
        .await?
        .generate_training_set(request)
        .await?
        .into_inner();
    let partial = output.partial();
    let file_error = |e: &dyn std::fmt::Display| ApiError::File {
        path: partial.display().to_string(),
        reason: e.to_string(),
    };
    let mut writer: Option<ArrowWriter<File>> = None;
    let mut summary: Option<proto::TrainingSetSummary> = None;
    let mut last_drawn = None;
    let terminal = std::io::stderr().is_terminal();
    while let Some(message) = stream.message().await? {
        if let Some(progress) = message.progress.filter(|_| terminal || args.progress) {
            let step = (progress.rows_done, progress.rows_total);
            if last_drawn != Some(step) {
                draw(progress.rows_done, progress.rows_total);
                last_drawn = Some(step);
            }
        }
        if !message.arrow_ipc.is_empty() {
            let reader = StreamReader::try_new(Cursor::new(message.arrow_ipc), None)
                .map_err(|e| ApiError::Config(format!("the server sent unreadable rows: {e}")))?;
            for batch in reader {
                let batch = batch.map_err(|e| {
                    ApiError::Config(format!("the server sent unreadable rows: {e}"))
                })?;
                if writer.is_none() {
                    let file = File::create(&partial).map_err(|e| file_error(&e))?;
                    let properties = WriterProperties::builder()
                        .set_compression(Compression::SNAPPY)
                        .build();
                    writer = Some(
                        ArrowWriter::try_new(file, batch.schema(), Some(properties))
                            .map_err(|e| file_error(&e))?,
                    );
                }
                if let Some(writer) = writer.as_mut() {
                    writer.write(&batch).map_err(|e| file_error(&e))?;
                }
            }
        }
        if message.summary.is_some() {
            summary = message.summary;
        }
    }
    if terminal && last_drawn.is_some() {
        eprintln!();
    }
    let summary = summary.ok_or_else(|| {
        ApiError::Config("the server ended the training set without a summary".into())
    })?;
    let writer = writer.ok_or_else(|| ApiError::Config("the training set has no rows".into()))?;
    writer.close().map_err(|e| file_error(&e))?;
    output.finish(&partial).await?;
    if client.json {
        let report = serde_json::json!({
            "rows": summary.rows,
            "unknown_keys": summary.unknown_keys,
            "feature_versions": summary.feature_versions,
            "events_replayed": summary.events_replayed,
            "out": output.describe(),
        });
        println!("{report}");
    } else {
        println!(
            "wrote {} row(s) to {} ({}; {} key(s) unknown; {} event(s) replayed)",
            summary.rows,
            output.describe(),
            summary.feature_versions.join(", "),
            summary.unknown_keys,
            summary.events_replayed
        );
    }
    Ok(())
}
