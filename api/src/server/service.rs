//! [`FeatureStoreService`]: the `freshet.v1.FeatureStore` gRPC service. Each
//! handler converts the request ([`super::convert`]), makes one call on the
//! engine's [`FeatureStore`] facade, and converts the answer back.

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use freshet_engine::discovery::ListFilter;
use freshet_engine::ingest::IngestOptions;
use freshet_engine::training::{Progress, TrainingSet};
use freshet_engine::FeatureStore;
use freshet_registry::Plan;
use freshet_sql::load::parse_definitions;
use freshet_sql::model::{Definitions, Kind};
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::convert::{
    change_to_proto, detail_to_proto, ipc_bytes, keys_from_proto, objects_to_proto,
    online_to_proto, payload_format, progress_message, refused, report_to_proto,
    statistics_to_proto, stats_buckets, status_to_proto, summary_to_proto, training_request,
    version_to_proto,
};
use crate::proto::{self, feature_store_server::FeatureStore as FeatureStoreRpc};
use crate::{ApiError, Result};

/// The gRPC service over the engine's facade.
pub struct FeatureStoreService {
    store: Arc<FeatureStore>,
}

/// Maps an engine error to its gRPC status.
fn status(error: freshet_engine::EngineError) -> Status {
    ApiError::from(error).into()
}

/// The metadata key a client names its user with (`ana@laptop`): what the
/// registry records as who applied definitions.
pub const USER_HEADER: &str = "x-freshet-user";

/// Who sent `request`: the name it gives in [`USER_HEADER`], or the address
/// it came from.
fn caller<T>(request: &Request<T>) -> String {
    let named = request
        .metadata()
        .get(USER_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|name| !name.is_empty());
    match (named, request.remote_addr()) {
        (Some(name), _) => name.to_string(),
        (None, Some(address)) => format!("unnamed client at {}", address.ip()),
        (None, None) => "unnamed client".to_string(),
    }
}

impl FeatureStoreService {
    /// A service answering from `store`.
    pub fn new(store: Arc<FeatureStore>) -> Self {
        FeatureStoreService { store }
    }

    /// Applies definitions (as `freshet serve --apply` does at start),
    /// recording `by` as who applied them.
    pub async fn apply_definitions(
        &self,
        definitions: &Definitions,
        file: &str,
        base_dir: &Path,
        dry_run: bool,
        by: &str,
    ) -> Result<Plan> {
        Ok(self
            .store
            .apply_as(definitions, file, base_dir, dry_run, by)
            .await?)
    }

    /// One page of the registry's objects of `kind`.
    fn list_objects(
        &self,
        kind: Kind,
        request: proto::ListObjectsRequest,
    ) -> std::result::Result<Response<proto::ListObjectsResponse>, Status> {
        let (objects, next) = self
            .store
            .list_objects(kind, request.page_size as usize, &request.page_token)
            .map_err(status)?;
        Ok(Response::new(objects_to_proto(objects, next)))
    }
}

/// Streams a built training set: its batches (progress has reached the total
/// by then), each put together as it is sent (this blocks: it reads the
/// build's files), then the summary.
fn send_training_set(
    set: TrainingSet,
    tx: &mpsc::Sender<std::result::Result<proto::GenerateTrainingSetResponse, Status>>,
) {
    for batch in set.batches {
        let message = batch
            .map_err(status)
            .and_then(|batch| ipc_bytes(&batch))
            .map(|arrow_ipc| proto::GenerateTrainingSetResponse {
                progress: None,
                arrow_ipc,
                summary: None,
            });
        let failed = message.is_err();
        if tx.blocking_send(message).is_err() || failed {
            return;
        }
    }
    let summary = proto::GenerateTrainingSetResponse {
        progress: None,
        arrow_ipc: Vec::new(),
        summary: Some(proto::TrainingSetSummary {
            rows: set.rows,
            unknown_keys: set.unknown_keys,
            feature_versions: set.feature_versions,
            events_replayed: set.events_replayed,
        }),
    };
    let _ = tx.blocking_send(Ok(summary));
}

/// The stream a `GenerateTrainingSet` call answers with.
pub type TrainingStream = Pin<
    Box<dyn Stream<Item = std::result::Result<proto::GenerateTrainingSetResponse, Status>> + Send>,
>;

#[tonic::async_trait]
impl FeatureStoreRpc for FeatureStoreService {
    async fn apply(
        &self,
        request: Request<proto::ApplyRequest>,
    ) -> std::result::Result<Response<proto::ApplyResponse>, Status> {
        let by = caller(&request);
        let request = request.into_inner();
        let file = if request.file_name.is_empty() {
            "<request>".to_string()
        } else {
            request.file_name
        };
        let definitions = parse_definitions(&request.definitions, &file).map_err(ApiError::from)?;
        let base_dir = if request.base_dir.is_empty() {
            "."
        } else {
            &request.base_dir
        };
        let plan = self
            .apply_definitions(
                &definitions,
                &file,
                Path::new(base_dir),
                request.dry_run,
                &by,
            )
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
        let options = IngestOptions {
            skip_bad_rows: request.skip_bad_rows,
            validate_only: request.validate_only,
        };
        let report = self
            .store
            .ingest(
                &request.source,
                format,
                &request.data,
                options,
                request.wait,
            )
            .await
            .map_err(status)?;
        if report.batch_rejected {
            return Err(refused(&request.source, &report));
        }
        Ok(Response::new(report_to_proto(&report)))
    }

    async fn get_status(
        &self,
        _request: Request<proto::GetStatusRequest>,
    ) -> std::result::Result<Response<proto::GetStatusResponse>, Status> {
        let found = self.store.status().await.map_err(status)?;
        Ok(Response::new(status_to_proto(found)))
    }

    async fn get_online_features(
        &self,
        request: Request<proto::GetOnlineFeaturesRequest>,
    ) -> std::result::Result<Response<proto::GetOnlineFeaturesResponse>, Status> {
        let request = request.into_inner();
        let keys = keys_from_proto(&request.keys)?;
        let at = chrono::Utc::now().timestamp_micros();
        let values = self
            .store
            .get_online(&request.features, &request.entity, &keys, at)
            .await
            .map_err(status)?;
        Ok(Response::new(online_to_proto(values, request.keys, at)))
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
        let training = self.store.training();
        tokio::spawn(async move {
            let reports = tx.clone();
            let progress = Arc::new(move |p: Progress| {
                let _ = reports.blocking_send(Ok(progress_message(p)));
            });
            match training.generate(&request, progress).await {
                Ok(set) => {
                    let _ = tokio::task::spawn_blocking(move || send_training_set(set, &tx)).await;
                }
                Err(error) => {
                    let _ = tx.send(Err(status(error))).await;
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
        let found = self
            .store
            .wait_for_version(&reference)
            .await
            .map_err(status)?;
        Ok(Response::new(version_to_proto(found)))
    }

    async fn list_features(
        &self,
        request: Request<proto::ListFeaturesRequest>,
    ) -> std::result::Result<Response<proto::ListFeaturesResponse>, Status> {
        let request = request.into_inner();
        let given = |text: String| (!text.is_empty()).then_some(text);
        let filter = ListFilter {
            entity: given(request.entity),
            source: given(request.source),
            state: given(request.state),
            owner: given(request.owner),
            tags: request.tags,
            upstream: given(request.upstream),
        };
        let (features, next) = self
            .store
            .list_features(&filter, request.page_size as usize, &request.page_token)
            .map_err(status)?;
        Ok(Response::new(proto::ListFeaturesResponse {
            features: features.into_iter().map(summary_to_proto).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn search_features(
        &self,
        request: Request<proto::SearchFeaturesRequest>,
    ) -> std::result::Result<Response<proto::ListFeaturesResponse>, Status> {
        let request = request.into_inner();
        let features = self
            .store
            .search_features(&request.query, request.limit as usize)
            .map_err(status)?;
        Ok(Response::new(proto::ListFeaturesResponse {
            features: features.into_iter().map(summary_to_proto).collect(),
            next_page_token: String::new(),
        }))
    }

    async fn describe_feature(
        &self,
        request: Request<proto::DescribeFeatureRequest>,
    ) -> std::result::Result<Response<proto::DescribeFeatureResponse>, Status> {
        let name = request.into_inner().name;
        let detail = self.store.describe_feature(&name).map_err(status)?;
        Ok(Response::new(detail_to_proto(detail)))
    }

    async fn list_sources(
        &self,
        request: Request<proto::ListObjectsRequest>,
    ) -> std::result::Result<Response<proto::ListObjectsResponse>, Status> {
        self.list_objects(Kind::Source, request.into_inner())
    }

    async fn list_entities(
        &self,
        request: Request<proto::ListObjectsRequest>,
    ) -> std::result::Result<Response<proto::ListObjectsResponse>, Status> {
        self.list_objects(Kind::Entity, request.into_inner())
    }

    async fn list_training_sets(
        &self,
        request: Request<proto::ListObjectsRequest>,
    ) -> std::result::Result<Response<proto::ListObjectsResponse>, Status> {
        self.list_objects(Kind::TrainingSet, request.into_inner())
    }

    async fn get_feature_stats(
        &self,
        request: Request<proto::GetFeatureStatsRequest>,
    ) -> std::result::Result<Response<proto::FeatureStatsResponse>, Status> {
        let request = request.into_inner();
        let at = chrono::Utc::now().timestamp_micros();
        let buckets = stats_buckets(&request)?;
        let found = self
            .store
            .feature_stats(&request.reference, at, buckets)
            .await
            .map_err(status)?;
        Ok(Response::new(statistics_to_proto(found)))
    }

    async fn retire_feature(
        &self,
        request: Request<proto::FeatureReference>,
    ) -> std::result::Result<Response<proto::FeatureVersionStatus>, Status> {
        let reference = request.into_inner().reference;
        let found = self.store.retire(&reference).await.map_err(status)?;
        Ok(Response::new(version_to_proto(found)))
    }

    async fn freeze_feature(
        &self,
        request: Request<proto::FeatureReference>,
    ) -> std::result::Result<Response<proto::FeatureVersionStatus>, Status> {
        let reference = request.into_inner().reference;
        let now = chrono::Utc::now().timestamp_micros();
        let found = self.store.freeze(&reference, now).await.map_err(status)?;
        Ok(Response::new(version_to_proto(found)))
    }

    async fn unfreeze_feature(
        &self,
        request: Request<proto::FeatureReference>,
    ) -> std::result::Result<Response<proto::FeatureVersionStatus>, Status> {
        let reference = request.into_inner().reference;
        let found = self.store.unfreeze(&reference).await.map_err(status)?;
        Ok(Response::new(version_to_proto(found)))
    }
}
