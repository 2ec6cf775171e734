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

/// The benchmarks allocate as the `freshet` binary does, with jemalloc, so
/// their in-process measurements compare with the server's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The error type of the benchmark helpers.
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;

/// The result type of the benchmark helpers.
pub type BenchResult<T> = Result<T, BenchError>;
