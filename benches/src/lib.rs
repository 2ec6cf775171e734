//! Shared pieces of the Freshet benchmarks: the rows they write, the event-log
//! workloads they time, and the raw-disk baseline the log is compared with.

pub mod append;
pub mod purchase_stream;
pub mod purchases;
pub mod raw_disk;
pub mod replay;
pub mod results;
pub mod server;
pub mod stats;

/// The error type of the benchmark helpers.
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;

/// The result type of the benchmark helpers.
pub type BenchResult<T> = Result<T, BenchError>;
