//! Freshet's definitions: the model users write (sources, entities,
//! transformations, features, labels, training sets), its parsing and validation,
//! and the versioned registry that stores it.
//!
//! The flow is `load` (text to [`Definitions`]) → `validate` (every reference,
//! type, duration and SQL statement checked, all errors at once) → `registry`
//! (diffed against the latest versions, stored atomically as new versions).

pub mod aggregate;
pub mod duration;
pub mod error;
pub mod files;
pub mod lineage;
pub mod load;
pub mod model;
pub mod reference;
pub mod registry;
pub mod resolved;
pub mod streaming;
pub mod types;
pub mod validate;

pub use error::{DefinitionError, Result, SqlError};
pub use model::Definitions;
