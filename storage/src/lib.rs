//! Storage for Freshet: the traits of the event log, operator state and the online
//! store, the one error type they share, and the configuration that picks their
//! backends.
//!
//! Each concern is a trait in its own module ([`log::EventLog`],
//! [`state::StateStore`], [`online::OnlineStore`]) that names no backend. This
//! crate must not depend on RocksDB or on any backend's client: the backends live
//! in the `freshet-backends` crate (the embedded segment log and RocksDB stores
//! today; Pulsar, ScyllaDB, Redis and S3 later), which also holds the one function
//! that turns a [`StorageConfig`] into opened backends. Nothing above the storage
//! layer names a backend except the code that opens the configured one.
//!
//! Every backend runs the same conformance suites (`freshet-testkit`'s
//! `conformance` module); the contracts they check are written on the traits.

#![warn(missing_docs)]

pub mod config;
pub mod error;
pub mod log;
pub mod online;
pub mod state;
pub mod timed_list;

pub use config::StorageConfig;
pub use error::{Result, StorageError};
