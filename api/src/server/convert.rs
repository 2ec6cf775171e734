//! Conversions between the `freshet.v1` protos and the engine's types: requests
//! in, reports and values out, and the status of a refused ingest.

use arrow::record_batch::RecordBatch;
use freshet_engine::catalog::{VersionState, VersionStatus};
use freshet_engine::discovery::{
    Buckets, FeatureDetail, FeatureStatistics, FeatureSummary, ObjectSummary, ValueStatistics,
};
use freshet_engine::ingest::{IngestReport, PayloadFormat, RowError};
use freshet_engine::ipc_stream::write_stream;
use freshet_engine::serving::OnlineValues;
use freshet_engine::store::StoreStatus;
use freshet_engine::training::{LabelRows, Progress, TrainingRequest};
use freshet_engine::value::Value;
use freshet_registry::{Change, PlannedChange};
use freshet_sql::duration::parse_duration;
use prost::Message;
use tonic::{Code, Status};

use crate::proto;

/// A version's status as the API reports it.
pub fn version_to_proto(status: VersionStatus) -> proto::FeatureVersionStatus {
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
        rows_skipped_no_key: status.skipped.no_key,
        rows_skipped_no_event_time: status.skipped.no_event_time,
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
        entities: request.entities.into_iter().collect(),
    }
}

/// One record batch as a self-contained Arrow IPC stream.
pub fn ipc_bytes(batch: &RecordBatch) -> std::result::Result<Vec<u8>, Status> {
    write_stream(batch).map_err(|e| Status::internal(format!("encoding a training-set batch: {e}")))
}

/// A progress report of a training-set build.
pub fn progress_message(progress: Progress) -> proto::GenerateTrainingSetResponse {
    proto::GenerateTrainingSetResponse {
        progress: Some(proto::TrainingSetProgress {
            rows_done: progress.rows_done,
            rows_total: progress.rows_total,
        }),
        ..Default::default()
    }
}

/// One line of an apply's plan.
pub fn change_to_proto(change: &PlannedChange) -> proto::PlannedChange {
    let (action, previous_version) = match change.change {
        Change::Created => (proto::ChangeAction::Created, 0),
        Change::NewVersion { previous } => (proto::ChangeAction::NewVersion, previous),
        Change::Unchanged => (proto::ChangeAction::Unchanged, 0),
        Change::MetadataUpdated => (proto::ChangeAction::MetadataUpdated, 0),
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

/// An ingest's report.
pub fn report_to_proto(report: &IngestReport) -> proto::IngestResponse {
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
pub fn refused(source: &str, report: &IngestReport) -> Status {
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

/// The engine's payload format for a request's `format` field.
pub fn payload_format(value: i32) -> std::result::Result<PayloadFormat, Status> {
    match proto::PayloadFormat::try_from(value) {
        Ok(proto::PayloadFormat::JsonLines) => Ok(PayloadFormat::JsonLines),
        Ok(proto::PayloadFormat::Csv) => Ok(PayloadFormat::Csv),
        Ok(proto::PayloadFormat::ArrowIpc) => Ok(PayloadFormat::ArrowIpc),
        _ => Err(Status::invalid_argument(format!(
            "format {value} is not one of JSON_LINES, CSV, ARROW_IPC"
        ))),
    }
}

/// The answer to a lookup: one row per key (in request order), evaluated at `at`.
pub fn online_to_proto(
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
        key_column: values.key_column,
        features: values.versions,
        types: values.types.iter().map(|t| t.name().to_string()).collect(),
        rows,
        evaluated_at_micros: at,
    }
}

/// The entity keys of a lookup; a key with no value is refused, naming it.
pub fn keys_from_proto(keys: &[proto::EntityKey]) -> Result<Vec<Value>, Status> {
    keys.iter()
        .enumerate()
        .map(|(i, key)| match &key.key {
            Some(proto::entity_key::Key::IntValue(v)) => Ok(Value::Int(*v)),
            Some(proto::entity_key::Key::StringValue(v)) => Ok(Value::Str(v.clone())),
            Some(proto::entity_key::Key::BoolValue(v)) => Ok(Value::Bool(*v)),
            None => Err(Status::invalid_argument(format!(
                "entity key #{i} has no value"
            ))),
        })
        .collect()
}

/// A `GetStatus` answer.
pub fn status_to_proto(status: StoreStatus) -> proto::GetStatusResponse {
    let sources = status
        .sources
        .into_iter()
        .map(|source| {
            let mut out = proto::SourceStatus {
                name: source.name,
                version: source.version,
                kind: if source.stream.is_some() {
                    "stream"
                } else {
                    "file"
                }
                .to_string(),
                ..Default::default()
            };
            if let Some(stream) = source.stream {
                out.partitions = stream
                    .heads
                    .iter()
                    .zip(&stream.ranges)
                    .enumerate()
                    .map(|(partition, (head, ranges))| {
                        let (archived_from, archived_to) = match ranges.archived {
                            Some((from, to)) => (from.to_string(), to.to_string()),
                            None => (String::new(), String::new()),
                        };
                        proto::PartitionStatus {
                            partition: partition as u32,
                            head: head.to_string(),
                            local_from: ranges.local_from.to_string(),
                            archived_from,
                            archived_to,
                        }
                    })
                    .collect();
                out.events_accepted = stream.accepted;
                out.events_rejected = stream.rejected;
                out.events_rejected_kept = stream.rejected_kept;
                out.events_late = stream.late;
                out.events_processed = stream.processed;
                out.lag = stream.lag;
            }
            out
        })
        .collect();
    proto::GetStatusResponse {
        sources,
        features: status.features.into_iter().map(version_to_proto).collect(),
    }
}

/// A feature's summary for `ListFeatures` and `SearchFeatures`.
pub fn summary_to_proto(summary: FeatureSummary) -> proto::FeatureSummary {
    proto::FeatureSummary {
        name: summary.name,
        version: summary.version,
        versions: summary.versions,
        entity: summary.entity,
        source: summary.source,
        aggregate: summary.aggregate,
        window: summary.window.unwrap_or_default(),
        r#type: summary.value_type.unwrap_or_default(),
        description: summary.description.unwrap_or_default(),
        state: summary.state,
        owner: summary.owner.unwrap_or_default(),
        tags: summary.tags,
        upstream: summary.upstream,
    }
}

/// One feature in full for `DescribeFeature`.
pub fn detail_to_proto(detail: FeatureDetail) -> proto::DescribeFeatureResponse {
    proto::DescribeFeatureResponse {
        name: detail.name,
        versions: detail
            .versions
            .into_iter()
            .map(|v| proto::FeatureVersionDetail {
                version: v.version,
                state: v.state,
                applied_at_micros: v.applied.applied.as_ref().map_or(0, |s| s.at_micros),
                applied_by: v.applied.applied.map(|s| s.by).unwrap_or_default(),
                metadata_updated_at_micros: v
                    .applied
                    .metadata_updated
                    .as_ref()
                    .map_or(0, |s| s.at_micros),
                metadata_updated_by: v.applied.metadata_updated.map(|s| s.by).unwrap_or_default(),
                definition_json: serde_json::to_string(&v.definition)
                    .expect("definitions serialise to JSON"),
                upstream: v
                    .upstream
                    .into_iter()
                    .map(|u| proto::LineageTable {
                        kind: u.kind.to_string(),
                        name: u.name,
                        version: u.version,
                    })
                    .collect(),
            })
            .collect(),
        training_sets: detail.training_sets,
    }
}

/// A page of registry objects for `ListSources`, `ListEntities` and
/// `ListTrainingSets`.
pub fn objects_to_proto(
    objects: Vec<ObjectSummary>,
    next: Option<String>,
) -> proto::ListObjectsResponse {
    proto::ListObjectsResponse {
        objects: objects
            .into_iter()
            .map(|o| proto::RegistryObject {
                name: o.name,
                version: o.version,
                versions: o.versions,
                description: o.description.unwrap_or_default(),
                definition_json: o.definition.to_string(),
                owner: o.owner.unwrap_or_default(),
                tags: o.tags,
            })
            .collect(),
        next_page_token: next.unwrap_or_default(),
    }
}

/// A version's statistics for `GetFeatureStats`, its buckets' nested.
pub fn statistics_to_proto(found: FeatureStatistics) -> proto::FeatureStatsResponse {
    let buckets = found
        .buckets
        .into_iter()
        .map(|bucket| values_to_proto(&found.feature, bucket.end, found.truncated, bucket.values))
        .collect();
    proto::FeatureStatsResponse {
        buckets,
        ..values_to_proto(
            &found.feature,
            found.evaluated_at,
            found.truncated,
            found.values,
        )
    }
}

/// Statistics of values of `feature` at `at`, without buckets.
fn values_to_proto(
    feature: &str,
    at: i64,
    truncated: bool,
    values: ValueStatistics,
) -> proto::FeatureStatsResponse {
    proto::FeatureStatsResponse {
        feature: feature.to_string(),
        evaluated_at_micros: at,
        truncated,
        count: values.count,
        nulls: values.nulls,
        mean: values.mean,
        stddev: values.stddev,
        min: values.min,
        max: values.max,
        quantiles: values
            .quantiles
            .into_iter()
            .map(|(q, value)| proto::Quantile { q, value })
            .collect(),
        histogram: values
            .histogram
            .into_iter()
            .map(|bin| proto::HistogramBin {
                low: bin.low,
                high: bin.high,
                count: bin.count,
            })
            .collect(),
        buckets: Vec::new(),
    }
}

/// The buckets a `GetFeatureStats` request asks for: none, or `buckets` of
/// width `bucket` (default 1d); a width that is not a duration is refused.
pub fn stats_buckets(request: &proto::GetFeatureStatsRequest) -> Result<Option<Buckets>, Status> {
    if request.buckets == 0 {
        return Ok(None);
    }
    let width = match request.bucket.as_str() {
        "" => "1d",
        width => width,
    };
    let duration = parse_duration(width)
        .map_err(|e| Status::invalid_argument(format!("bucket '{width}': {e}")))?;
    Ok(Some(Buckets {
        width: i64::try_from(duration.as_micros())
            .unwrap_or(i64::MAX)
            .max(1),
        count: request.buckets as usize,
    }))
}
