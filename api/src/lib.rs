//! Freshet's outside: the gRPC service `freshet.v1.FeatureStore`, the server that
//! hosts it on the configured storage, and the `freshet` command-line client.

pub mod cli;
pub mod error;
pub mod proto;
pub mod server;

pub use error::{code_name, ApiError, Result, RowProblem};
