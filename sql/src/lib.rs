//! Freshet's definitions: the model users write (sources, entities,
//! transformations, features, labels, training sets), its parsing, and its
//! validation into the typed, resolved model the engine reads.
//!
//! The flow is `load` (text to [`Definitions`]) → `validate` (every reference,
//! type, duration and SQL statement checked, all errors at once, giving
//! [`resolved::Resolved`]). Storing versions is the `freshet-registry` crate's job;
//! this crate cannot see storage.

pub mod aggregate;
pub mod duration;
pub mod error;
pub mod files;
pub mod lineage;
pub mod load;
pub mod model;
pub mod reference;
pub mod resolved;
pub mod streaming;
pub mod types;
pub mod validate;

pub use error::{DefinitionError, Result, SqlError};
pub use model::Definitions;
