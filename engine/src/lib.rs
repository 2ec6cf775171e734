//! The Freshet runtime. Today: ingest, the path an event takes from a request into
//! the event log, decoded and validated once against its source's schema, and the
//! per-source status derived from the log.

pub mod error;
pub mod ingest;

pub use error::{EngineError, Result};
