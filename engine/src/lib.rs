//! The Freshet runtime: ingest (events decoded and validated once, appended to the
//! log), the pipelines that run each stream source's transformations on
//! micro-batches, the stateful operators (features and views) whose state is
//! committed atomically with the source positions, and the serving path that
//! evaluates features at read time.
//!
//! The flow follows the folders: `ingest` → `pipeline` → `operators` (over
//! `aggregate`) → `runtime` (commit) → `serving`; `training` replays the log through
//! the same pipelines and operators as of each label's time; `discovery` lists
//! and searches the registry's features.

pub mod aggregate;
pub mod catalog;
pub mod discovery;
pub mod error;
pub mod ingest;
pub mod ipc_stream;
pub mod layout;
pub mod metrics;
pub mod operators;
pub mod pipeline;
pub mod runtime;
pub mod serving;
pub mod state_keys;
pub mod store;
pub mod training;
pub mod transforms;
pub mod value;

pub use error::{EngineError, Result};
pub use store::FeatureStore;
