//! Object stores for Freshet, by URI: S3 and S3-compatible buckets reached with
//! this process's S3 settings ([`configure_s3`]) on top of the standard `AWS_*`
//! environment, and local folders. File sources, labels and training output
//! (through `freshet-sql`) and the log archive (through `freshet-backends`) all
//! reach S3 through this crate, so each bucket has one client and one set of
//! settings.
//!
//! Credentials come the way the AWS tools take them: `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT`;
//! else the `AWS_PROFILE` (or `default`) profile of the shared files
//! `~/.aws/credentials` and `~/.aws/config` (keys, session token, `region`,
//! `endpoint_url`; see [`profile`]); else web identity, container credentials,
//! and the instance metadata service. They never appear in a message: errors
//! name the bucket and object.

#![warn(missing_docs)]

mod error;
mod explain;
mod location;
pub mod profile;
mod s3;

pub use error::{ObjectsError, Result};
pub use explain::explain_store_error;
pub use location::{store_at, StoreAt};
pub use s3::{configure_s3, s3_settings, s3_store, S3Settings};
