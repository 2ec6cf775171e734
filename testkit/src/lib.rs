//! Freshet's test kit: what tests and benchmarks of several crates share, kept in
//! one place so that each helper exists once.
//!
//! - [`conformance`]: the storage conformance suites, one per trait, that every
//!   backend runs through an async [`conformance::Opener`].
//! - [`server`]: starting the real `freshet serve` binary for end-to-end tests
//!   and benchmarks.
//! - [`reference`]: the brute-force window reference that feature values are
//!   checked against.
//! - [`values`]: feature values as tests compare them.
//! - [`fixtures`]: expected-output files: diffing and blessing.
//! - [`s3`]: a real S3-compatible server (moto) on a free loopback port.
//!
//! This crate is a dev-dependency only: storage, sql, engine and api never depend
//! on it for their own code. Its binary `log-crash-child` is the child process of
//! the segment log crash test (`tests/log_crash.rs`).

#![warn(missing_docs)]

pub mod conformance;
pub mod fixtures;
pub mod reference;
pub mod s3;
pub mod server;
pub mod values;
