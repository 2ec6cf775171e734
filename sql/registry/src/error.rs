//! The one error type of the registry crate.

use freshet_sql::SqlError;

/// Everything that can go wrong reading or writing the registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The definitions being applied do not parse or validate.
    #[error(transparent)]
    Definitions(#[from] SqlError),
    /// A name or `name@vN` reference that the registry does not hold.
    #[error("{kind} '{reference}' not found{hint}")]
    NotFound {
        /// The kind of object.
        kind: &'static str,
        /// The reference as given.
        reference: String,
        /// Extra explanation, starting with a separator, or empty.
        hint: String,
    },
    /// The registry's storage failed.
    #[error(transparent)]
    Storage(#[from] freshet_storage::StorageError),
    /// A stored registry record could not be decoded.
    #[error("corrupt registry record '{key}': {reason}")]
    CorruptRecord {
        /// The record's key.
        key: String,
        /// Why it could not be read.
        reason: String,
    },
}

/// The result type of the registry crate.
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
