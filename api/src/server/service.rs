//! [`FeatureStoreService`]: the `freshet.v1.FeatureStore` gRPC service, a thin layer
//! that turns requests into registry and engine calls and their results into
//! responses.

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use futures::{Stream, StreamExt};

use freshet_engine::ingest::{IngestOptions, IngestReport, Ingestor, PayloadFormat, RowError};
use freshet_engine::metrics::Metrics;
use freshet_engine::runtime::{
    feature_table, ActiveSet, BackfillConfig, Engine, VersionState, VersionStatus,
};
use freshet_engine::serving::{FeatureServer, OnlineValues};
use freshet_engine::training::{
    LabelRows, Progress, TrainingConfig, TrainingRequest, TrainingSet, TrainingSets,
};
use freshet_engine::value::Value;
use freshet_sql::load::parse_definitions;
use freshet_sql::model::{Definitions, Source};
use freshet_sql::registry::{Change, Plan, Registry, Versioned};
use freshet_storage::log::EventLog;
use freshet_storage::online::OnlineStore;
use freshet_storage::state::StateStore;
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Response, Status};
use tracing::warn;

use crate::proto::{self, feature_store_server::FeatureStore};
use crate::Result;

/// The gRPC service: the registry, ingest, the engine and online serving.
pub struct FeatureStoreService {
    registry: Arc<Registry>,
    ingestor: Ingestor,
    engine: Arc<Engine>,
    server: Arc<FeatureServer>,
    training: Arc<TrainingSets>,
    metrics: Arc<Metrics>,
}

impl FeatureStoreService {
    /// A service over the given storage, with the engine running the active
    /// definitions, backfills run as `backfill` says and training sets built as
    /// `training` says. Serving follows every version that catches up or fails.
    pub async fn open(
        log: Arc<dyn EventLog>,
        state: Arc<dyn StateStore>,
        online: Arc<dyn OnlineStore>,
        metrics: Arc<Metrics>,
        training: TrainingConfig,
        backfill: BackfillConfig,
    ) -> Result<Self> {
        let registry = Arc::new(Registry::new(state.clone()));
        let active = Arc::new(ActiveSet::load(&registry).await?);
        let server = Arc::new(FeatureServer::new(online.clone(), registry.clone(), active));
        let engine = Arc::new(Engine::new(
            log.clone(),
            state.clone(),
            online,
            metrics.clone(),
            registry.clone(),
            backfill,
        ));
        spawn_serving_follower(engine.clone(), server.clone());
        let service = FeatureStoreService {
            ingestor: Ingestor::new(log.clone(), state.clone(), metrics.clone()),
            engine,
            training: Arc::new(TrainingSets::new(
                log,
                registry.clone(),
                server.clone(),
                training,
            )),
            server,
            registry,
            metrics,
        };
        service.restart_engine().await?;
        Ok(service)
    }

    /// Creates the log topics of every active stream source, then (re)starts the
    /// engine and serving on the active definitions.
    async fn restart_engine(&self) -> Result<()> {
        for source in self.registry.active_definitions()?.sources {
            self.ingestor.prepare(&source).await?;
        }
        let started = self.engine.start().await;
        self.reload_serving().await?;
        Ok(started?)
    }

    /// Points serving at the current versions and their statuses.
    async fn reload_serving(&self) -> Result<()> {
        let active = self.engine.active_set().await?;
        self.server.set_active(Arc::new(active));
        Ok(())
    }

    /// Reloads serving unless it already holds the states of `statuses`, so
    /// that a version about to be reported ACTIVE is the one bare names read.
    async fn sync_serving(&self, statuses: &[VersionStatus]) -> Result<()> {
        let served = self.server.active();
        let current = statuses.iter().all(|s| {
            served
                .statuses
                .get(&feature_table(&s.name, s.version))
                .is_some_and(|t| t.state == s.state && t.frozen_at == s.frozen_at)
        });
        if !current {
            self.reload_serving().await?;
        }
        Ok(())
    }

    /// Applies definitions; unless a dry run, restarts processing on the result.
    pub async fn apply_definitions(
        &self,
        definitions: &Definitions,
        file: &str,
        base_dir: &Path,
        dry_run: bool,
    ) -> Result<Plan> {
        let (plan, _catalog) = self
            .registry
            .apply(definitions, file, base_dir, dry_run)
            .await?;
        if !dry_run {
            self.restart_engine().await?;
        }
        Ok(plan)
    }

    /// The training-set builder, shared with the Arrow Flight service.
    pub fn training(&self) -> Arc<TrainingSets> {
        self.training.clone()
    }
}

/// Reloads serving whenever a lane starts, catches up or fails, so that a version
/// that caught up is served from the moment it is reported ACTIVE.
fn spawn_serving_follower(engine: Arc<Engine>, server: Arc<FeatureServer>) {
    let mut changes = engine.board().changes();
    tokio::spawn(async move {
        while changes.changed().await.is_ok() {
            match engine.active_set().await {
                Ok(active) => server.set_active(Arc::new(active)),
                Err(error) => warn!(%error, "cannot reload the served versions"),
            }
        }
    });
}

/// A version's status as the API reports it.
fn version_to_proto(status: VersionStatus) -> proto::FeatureVersionStatus {
    proto::FeatureVersionStatus {
        state: status.state.name().to_string(),
        cause: match &status.state {
            VersionState::Failed(cause) => cause.clone(),
            _ => String::new(),
        },
        name: status.name,
        version: status.version,
        events_done: status.done,
        events_total: status.total,
        events_per_second: status.rate,
        eta_seconds: status.eta_seconds,
        frozen: status.frozen_at.is_some(),
    }
}

/// The engine's request for a `GenerateTrainingSet` request (or a Flight ticket,
/// which is the same message as JSON).
pub fn training_request(request: proto::GenerateTrainingSetRequest) -> TrainingRequest {
    let some = |text: String| (!text.is_empty()).then_some(text);
    let rows = if !request.labels_arrow_ipc.is_empty() {
        LabelRows::Inline(request.labels_arrow_ipc)
    } else if !request.labels_uri.is_empty() {
        LabelRows::Uri(request.labels_uri)
    } else {
        LabelRows::Registry
    };
    TrainingRequest {
        training_set: some(request.training_set),
        label: some(request.label),
        features: request.features,
        rows,
        timestamp_column: some(request.timestamp_column),
        feature_offset: some(request.feature_offset),
    }
}

/// One record batch as a self-contained Arrow IPC stream.
fn ipc_bytes(batch: &RecordBatch) -> std::result::Result<Vec<u8>, Status> {
    let mut bytes = Vec::new();
    let mut writer = StreamWriter::try_new(&mut bytes, &batch.schema())
        .map_err(|e| Status::internal(format!("encoding a training-set batch: {e}")))?;
    writer
        .write(batch)
        .and_then(|_| writer.finish())
        .map_err(|e| Status::internal(format!("encoding a training-set batch: {e}")))?;
    drop(writer);
    Ok(bytes)
}

fn progress_message(progress: Progress) -> proto::GenerateTrainingSetResponse {
    proto::GenerateTrainingSetResponse {
        progress: Some(proto::TrainingSetProgress {
            rows_done: progress.rows_done,
            rows_total: progress.rows_total,
        }),
        ..Default::default()
    }
}

/// Streams a built training set: its batches (progress has reached the total
/// by then), then the summary.
async fn send_training_set(
    set: TrainingSet,
    tx: &mpsc::Sender<std::result::Result<proto::GenerateTrainingSetResponse, Status>>,
) {
    let total: u64 = set.batches.iter().map(|b| b.num_rows() as u64).sum();
    for batch in &set.batches {
        let message = ipc_bytes(batch).map(|arrow_ipc| proto::GenerateTrainingSetResponse {
            progress: None,
            arrow_ipc,
            summary: None,
        });
        if tx.send(message).await.is_err() {
            return;
        }
    }
    let summary = proto::GenerateTrainingSetResponse {
        progress: None,
        arrow_ipc: Vec::new(),
        summary: Some(proto::TrainingSetSummary {
            rows: total,
            unknown_keys: set.unknown_keys,
            feature_versions: set.feature_versions,
            events_replayed: set.events_replayed,
        }),
    };
    let _ = tx.send(Ok(summary)).await;
}

/// The stream a `GenerateTrainingSet` call answers with.
pub type TrainingStream = Pin<
    Box<dyn Stream<Item = std::result::Result<proto::GenerateTrainingSetResponse, Status>> + Send>,
>;

fn change_to_proto(change: &freshet_sql::registry::PlannedChange) -> proto::PlannedChange {
    let (action, previous_version) = match change.change {
        Change::Created => (proto::ChangeAction::Created, 0),
        Change::NewVersion { previous } => (proto::ChangeAction::NewVersion, previous),
        Change::Unchanged => (proto::ChangeAction::Unchanged, 0),
    };
    proto::PlannedChange {
        kind: change.kind.name().to_string(),
        name: change.name.clone(),
        version: change.version,
        action: action as i32,
        previous_version,
    }
}

fn row_error_to_proto(error: &RowError) -> proto::RowError {
    proto::RowError {
        row: error.row,
        column: error.column.clone().unwrap_or_default(),
        reason: error.reason.clone(),
    }
}

fn report_to_proto(report: &IngestReport) -> proto::IngestResponse {
    proto::IngestResponse {
        accepted: report.accepted,
        rejected: report.rejected,
        errors: report.errors.iter().map(row_error_to_proto).collect(),
        first_position: report.ack.map(|a| a.first.to_string()).unwrap_or_default(),
        next_position: report.ack.map(|a| a.next.to_string()).unwrap_or_default(),
        partition: report.partition,
        late: report.late,
    }
}

/// The status for a refused request: a summary naming the first problems, with the
/// full [`proto::IngestResponse`] in the details.
fn refused(source: &str, report: &IngestReport) -> Status {
    const SHOWN: usize = 5;
    let mut message = format!(
        "ingest into '{source}' refused: {} problem(s) in {} row(s); nothing was written",
        report.errors.len(),
        report.rejected
    );
    for error in report.errors.iter().take(SHOWN) {
        match &error.column {
            Some(column) => message.push_str(&format!(
                "\n  row {}, column '{column}': {}",
                error.row, error.reason
            )),
            None => message.push_str(&format!("\n  row {}: {}", error.row, error.reason)),
        }
    }
    if report.errors.len() > SHOWN {
        message.push_str(&format!("\n  ... and {} more", report.errors.len() - SHOWN));
    }
    Status::with_details(
        Code::InvalidArgument,
        message,
        report_to_proto(report).encode_to_vec().into(),
    )
}

fn payload_format(value: i32) -> std::result::Result<PayloadFormat, Status> {
    match proto::PayloadFormat::try_from(value) {
        Ok(proto::PayloadFormat::JsonLines) => Ok(PayloadFormat::JsonLines),
        Ok(proto::PayloadFormat::Csv) => Ok(PayloadFormat::Csv),
        Ok(proto::PayloadFormat::ArrowIpc) => Ok(PayloadFormat::ArrowIpc),
        _ => Err(Status::invalid_argument(format!(
            "format {value} is not one of JSON_LINES, CSV, ARROW_IPC"
        ))),
    }
}

#[tonic::async_trait]
impl FeatureStore for FeatureStoreService {
    async fn apply(
        &self,
        request: Request<proto::ApplyRequest>,
    ) -> std::result::Result<Response<proto::ApplyResponse>, Status> {
        let request = request.into_inner();
        let file = if request.file_name.is_empty() {
            "<request>".to_string()
        } else {
            request.file_name
        };
        let definitions =
            parse_definitions(&request.definitions, &file).map_err(crate::ApiError::from)?;
        let base_dir = if request.base_dir.is_empty() {
            "."
        } else {
            &request.base_dir
        };
        let plan = self
            .apply_definitions(&definitions, &file, Path::new(base_dir), request.dry_run)
            .await?;
        Ok(Response::new(proto::ApplyResponse {
            changes: plan.changes.iter().map(change_to_proto).collect(),
            dry_run: request.dry_run,
        }))
    }

    async fn ingest(
        &self,
        request: Request<proto::IngestRequest>,
    ) -> std::result::Result<Response<proto::IngestResponse>, Status> {
        let request = request.into_inner();
        let format = payload_format(request.format)?;
        let source = self
            .registry
            .resolve::<Source>(&request.source)
            .map_err(crate::ApiError::from)?
            .object;
        let options = IngestOptions {
            skip_bad_rows: request.skip_bad_rows,
            validate_only: request.validate_only,
        };
        let report = self
            .ingestor
            .ingest(&source, format, &request.data, options)
            .await
            .map_err(crate::ApiError::from)?;
        if report.batch_rejected {
            warn!(source = %source.name, rows = report.rejected, "ingest refused");
            return Err(refused(&source.name, &report));
        }
        if request.wait && !request.validate_only {
            let waited = match report.ack {
                Some(ack) => {
                    self.engine
                        .wait_for(&source.name, report.partition, ack.next)
                        .await
                }
                None => {
                    let topic = source
                        .stream
                        .as_ref()
                        .and_then(|s| s.topic.clone())
                        .unwrap_or_else(|| source.name.clone());
                    self.engine.wait_caught_up(&source.name, &topic).await
                }
            };
            waited.map_err(crate::ApiError::from)?;
        }
        Ok(Response::new(report_to_proto(&report)))
    }

    async fn get_status(
        &self,
        _request: Request<proto::GetStatusRequest>,
    ) -> std::result::Result<Response<proto::GetStatusResponse>, Status> {
        let mut sources = Vec::new();
        let lanes = self.engine.board().snapshot();
        let active = self
            .registry
            .active_versions::<Source>()
            .map_err(crate::ApiError::from)?;
        for Versioned {
            version,
            object: source,
        } in active
        {
            let mut status = proto::SourceStatus {
                name: source.name.clone(),
                version,
                kind: if source.stream.is_some() {
                    "stream"
                } else {
                    "file"
                }
                .to_string(),
                ..Default::default()
            };
            if source.stream.is_some() {
                let found = self
                    .ingestor
                    .status(&source)
                    .await
                    .map_err(crate::ApiError::from)?;
                status.partitions = found
                    .heads
                    .iter()
                    .enumerate()
                    .map(|(partition, head)| proto::PartitionStatus {
                        partition: partition as u32,
                        head: head.to_string(),
                    })
                    .collect();
                status.events_accepted = found.accepted;
                status.events_rejected = found.rejected;
                status.events_rejected_kept = found.rejected_kept;
                status.events_late = found.late;
                status.events_processed = lanes
                    .get(&source.name)
                    .and_then(|lanes| lanes.iter().filter(|l| l.live).map(|l| l.done).min())
                    .unwrap_or(0);
                status.lag = found.accepted.saturating_sub(status.events_processed);
            }
            sources.push(status);
        }
        let statuses = self
            .engine
            .version_statuses()
            .map_err(crate::ApiError::from)?;
        self.sync_serving(&statuses).await?;
        let features = statuses.into_iter().map(version_to_proto).collect();
        Ok(Response::new(proto::GetStatusResponse {
            sources,
            features,
        }))
    }

    async fn get_online_features(
        &self,
        request: Request<proto::GetOnlineFeaturesRequest>,
    ) -> std::result::Result<Response<proto::GetOnlineFeaturesResponse>, Status> {
        let started = Instant::now();
        let request = request.into_inner();
        let mut keys = Vec::with_capacity(request.keys.len());
        for (i, key) in request.keys.iter().enumerate() {
            keys.push(match &key.key {
                Some(proto::entity_key::Key::IntValue(v)) => Value::Int(*v),
                Some(proto::entity_key::Key::StringValue(v)) => Value::Str(v.clone()),
                Some(proto::entity_key::Key::BoolValue(v)) => Value::Bool(*v),
                None => {
                    return Err(Status::invalid_argument(format!(
                        "entity key #{i} has no value"
                    )))
                }
            });
        }
        let at = chrono::Utc::now().timestamp_micros();
        let values = self
            .server
            .get(&request.features, &request.entity, &keys, at)
            .await
            .map_err(crate::ApiError::from)?;
        let response = online_to_proto(values, request.keys, at);
        self.metrics
            .lookup_seconds
            .observe(started.elapsed().as_secs_f64());
        Ok(Response::new(response))
    }

    type GenerateTrainingSetStream = TrainingStream;

    /// Builds in a task that reports progress as it goes; a request refused
    /// before the first progress report (unknown names, bad label rows) fails
    /// the call itself.
    async fn generate_training_set(
        &self,
        request: Request<proto::GenerateTrainingSetRequest>,
    ) -> std::result::Result<Response<Self::GenerateTrainingSetStream>, Status> {
        let request = training_request(request.into_inner());
        let (tx, mut rx) = mpsc::channel(64);
        let training = self.training.clone();
        tokio::spawn(async move {
            let reports = tx.clone();
            let progress = Arc::new(move |p: Progress| {
                let _ = reports.blocking_send(Ok(progress_message(p)));
            });
            match training.generate(&request, progress).await {
                Ok(set) => send_training_set(set, &tx).await,
                Err(error) => {
                    let _ = tx.send(Err(crate::ApiError::from(error).into())).await;
                }
            }
        });
        let first = match rx.recv().await {
            Some(Err(status)) => return Err(status),
            Some(Ok(first)) => first,
            None => return Err(Status::internal("the training-set build stopped")),
        };
        let rest = ReceiverStream::new(rx);
        let stream: TrainingStream =
            Box::pin(futures::stream::once(async move { Ok(first) }).chain(rest));
        Ok(Response::new(stream))
    }

    async fn wait_for_feature(
        &self,
        request: Request<proto::WaitForFeatureRequest>,
    ) -> std::result::Result<Response<proto::FeatureVersionStatus>, Status> {
        let reference = request.into_inner().reference;
        let status = self
            .engine
            .wait_for_version(&reference)
            .await
            .map_err(crate::ApiError::from)?;
        self.sync_serving(std::slice::from_ref(&status)).await?;
        Ok(Response::new(version_to_proto(status)))
    }

    async fn retire_feature(
        &self,
        request: Request<proto::FeatureReference>,
    ) -> std::result::Result<Response<proto::FeatureVersionStatus>, Status> {
        let reference = request.into_inner().reference;
        let status = self
            .engine
            .retire(&reference)
            .await
            .map_err(crate::ApiError::from)?;
        self.reload_serving().await?;
        Ok(Response::new(version_to_proto(status)))
    }

    async fn freeze_feature(
        &self,
        request: Request<proto::FeatureReference>,
    ) -> std::result::Result<Response<proto::FeatureVersionStatus>, Status> {
        let reference = request.into_inner().reference;
        let now = chrono::Utc::now().timestamp_micros();
        let status = self
            .engine
            .freeze(&reference, now)
            .await
            .map_err(crate::ApiError::from)?;
        self.reload_serving().await?;
        Ok(Response::new(version_to_proto(status)))
    }

    async fn unfreeze_feature(
        &self,
        request: Request<proto::FeatureReference>,
    ) -> std::result::Result<Response<proto::FeatureVersionStatus>, Status> {
        let reference = request.into_inner().reference;
        let status = self
            .engine
            .unfreeze(&reference)
            .await
            .map_err(crate::ApiError::from)?;
        self.reload_serving().await?;
        Ok(Response::new(version_to_proto(status)))
    }
}

fn online_to_proto(
    values: OnlineValues,
    keys: Vec<proto::EntityKey>,
    at: i64,
) -> proto::GetOnlineFeaturesResponse {
    use proto::feature_value::Value as V;
    let rows = values
        .rows
        .into_iter()
        .zip(keys)
        .map(|(row, key)| proto::FeatureRow {
            key: Some(key),
            values: row
                .into_iter()
                .map(|value| proto::FeatureValue {
                    value: value.map(|value| match value {
                        Value::Bool(v) => V::BoolValue(v),
                        Value::Int(v) => V::IntValue(v),
                        Value::Float(v) => V::DoubleValue(v),
                        Value::Str(v) => V::StringValue(v),
                        Value::Timestamp(v) => V::TimestampMicros(v),
                    }),
                })
                .collect(),
        })
        .collect();
    proto::GetOnlineFeaturesResponse {
        features: values.versions,
        types: values.types.iter().map(|t| t.name().to_string()).collect(),
        rows,
        evaluated_at_micros: at,
    }
}
