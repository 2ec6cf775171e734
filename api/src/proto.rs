//! The generated protobuf and gRPC types of `freshet.v1`.

#![allow(missing_docs, clippy::all)]

tonic::include_proto!("freshet.v1");
