//! [`TrainingFlight`]: Arrow Flight `DoGet` for training sets. The ticket is a
//! `GenerateTrainingSetRequest` written as JSON (`{"training_set": "churn_v1"}`;
//! inline label rows as base64 text, see [`super::ticket`]);
//! the answer is the training set's record batches. The other Flight calls are
//! not offered.

use std::sync::Arc;

use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightInfo,
    HandshakeRequest, HandshakeResponse, PollInfo, PutResult, SchemaResult, Ticket,
};
use freshet_engine::training::TrainingSets;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use tonic::{Request, Response, Status, Streaming};

use super::convert::training_request;
use crate::proto::GenerateTrainingSetRequest;

/// The Flight service over the training-set builder.
pub struct TrainingFlight {
    training: Arc<TrainingSets>,
}

impl TrainingFlight {
    /// Serves training sets built by `training`.
    pub fn new(training: Arc<TrainingSets>) -> Self {
        TrainingFlight { training }
    }
}

type Answer<T> = std::result::Result<Response<T>, Status>;

fn not_offered<T>(call: &str) -> Answer<T> {
    Err(Status::unimplemented(format!(
        "Flight {call} is not offered; use DoGet with a training-set ticket"
    )))
}

#[tonic::async_trait]
impl FlightService for TrainingFlight {
    type HandshakeStream = BoxStream<'static, Result<HandshakeResponse, Status>>;
    type ListFlightsStream = BoxStream<'static, Result<FlightInfo, Status>>;
    type DoGetStream = BoxStream<'static, Result<FlightData, Status>>;
    type DoPutStream = BoxStream<'static, Result<PutResult, Status>>;
    type DoActionStream = BoxStream<'static, Result<arrow_flight::Result, Status>>;
    type ListActionsStream = BoxStream<'static, Result<ActionType, Status>>;
    type DoExchangeStream = BoxStream<'static, Result<FlightData, Status>>;

    async fn do_get(&self, request: Request<Ticket>) -> Answer<Self::DoGetStream> {
        let ticket = request.into_inner().ticket;
        let parsed: GenerateTrainingSetRequest = serde_json::from_slice(&ticket).map_err(|e| {
            Status::invalid_argument(format!(
                "the ticket is not a training-set request in JSON ({{\"training_set\": \"NAME\"}}): {e}"
            ))
        })?;
        let set = self
            .training
            .generate(&training_request(parsed), Arc::new(|_| {}))
            .await
            .map_err(crate::ApiError::from)?;
        // Each batch is put together from the build's files as it is sent,
        // on a blocking thread, a few ahead of the encoder.
        let schema = set.schema.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            for batch in set.batches {
                let batch = batch
                    .map_err(|e| FlightError::Tonic(Box::new(crate::ApiError::from(e).into())));
                if tx.blocking_send(batch).is_err() {
                    return;
                }
            }
        });
        let batches = tokio_stream::wrappers::ReceiverStream::new(rx);
        let data = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .build(batches)
            .map_err(Status::from);
        Ok(Response::new(data.boxed()))
    }

    async fn handshake(
        &self,
        _: Request<Streaming<HandshakeRequest>>,
    ) -> Answer<Self::HandshakeStream> {
        not_offered("Handshake")
    }

    async fn list_flights(&self, _: Request<Criteria>) -> Answer<Self::ListFlightsStream> {
        not_offered("ListFlights")
    }

    async fn get_flight_info(&self, _: Request<FlightDescriptor>) -> Answer<FlightInfo> {
        not_offered("GetFlightInfo")
    }

    async fn poll_flight_info(&self, _: Request<FlightDescriptor>) -> Answer<PollInfo> {
        not_offered("PollFlightInfo")
    }

    async fn get_schema(&self, _: Request<FlightDescriptor>) -> Answer<SchemaResult> {
        not_offered("GetSchema")
    }

    async fn do_put(&self, _: Request<Streaming<FlightData>>) -> Answer<Self::DoPutStream> {
        not_offered("DoPut")
    }

    async fn do_action(&self, _: Request<Action>) -> Answer<Self::DoActionStream> {
        not_offered("DoAction")
    }

    async fn list_actions(&self, _: Request<Empty>) -> Answer<Self::ListActionsStream> {
        not_offered("ListActions")
    }

    async fn do_exchange(
        &self,
        _: Request<Streaming<FlightData>>,
    ) -> Answer<Self::DoExchangeStream> {
        not_offered("DoExchange")
    }
}
