//! [`ObjectsError`]: why an object store could not be made.

use std::path::PathBuf;

/// Why an object store could not be made for a URI or a bucket.
#[derive(Debug, thiserror::Error)]
pub enum ObjectsError {
    /// The URI is not one this crate can reach.
    #[error("'{uri}': {reason}")]
    InvalidUri {
        /// The URI as given.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The S3 client for a bucket could not be built (a bad endpoint or region).
    #[error("S3 bucket '{bucket}': {reason}")]
    S3 {
        /// The bucket.
        bucket: String,
        /// What went wrong.
        reason: String,
    },
    /// The AWS profile to take credentials from is missing or unusable.
    #[error("AWS profile '{profile}': {reason}")]
    Profile {
        /// The profile's name.
        profile: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A local folder (or a profile file) could not be made, opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The folder.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
}

/// The result of this crate's functions.
pub type Result<T> = std::result::Result<T, ObjectsError>;
