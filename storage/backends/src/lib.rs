//! Freshet's storage backends, each implementing the traits of `freshet-storage`,
//! and [`open`], the one place that turns a [`freshet_storage::StorageConfig`]
//! into opened backends.
//!
//! One module per backend family: [`embedded`] (the segment log and RocksDB, what
//! a single `freshet serve` process runs on) today; Pulsar, ScyllaDB, Redis and S3
//! modules join it later. Every backend passes the conformance suites of
//! `freshet-testkit` (run from this crate's `tests/`).
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use freshet_storage::StorageConfig;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let storage = freshet_backends::open(&StorageConfig::embedded(dir.path())).await.unwrap();
//! storage.log.ensure_topic("purchases", 1).await.unwrap();
//! assert_eq!(storage.log.partitions("purchases").await.unwrap(), 1);
//! # });
//! ```

#![warn(missing_docs)]

pub mod embedded;
mod open;

pub use open::{open, Storage};
