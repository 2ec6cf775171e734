//! The one error type of the sql crate, and [`DefinitionError`], a located complaint
//! about one field of one object of a definitions file.

use std::fmt;

/// A problem with one field of one definition, located as precisely as possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionError {
    /// The file the definitions came from (or `<request>`).
    pub file: String,
    /// The object, as `kind 'name'` (for example `feature 'user_spend_7d'`).
    pub object: String,
    /// The field of the object (`window`, `sql`, `schema.ts`, ...).
    pub field: String,
    /// For SQL, the line and column in the statement.
    pub sql_position: Option<(u64, u64)>,
    /// What is wrong and, when possible, what to do instead.
    pub message: String,
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}, field '{}'", self.file, self.object, self.field)?;
        if let Some((line, column)) = self.sql_position {
            write!(f, " (SQL line {line}, column {column})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Everything that can go wrong in the sql crate.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The definitions file could not be parsed at all.
    #[error("{file}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The definitions parsed but are not valid; every problem found is listed.
    #[error("{} invalid definition(s):\n{}", .0.len(), .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<DefinitionError>),
    /// Something that validation rules out happened anyway (a bug, not bad input).
    #[error("internal error: {0}")]
    Internal(String),
    /// Reading a file the definitions refer to failed.
    #[error("cannot read {path}: {reason}")]
    File {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
}

/// The result type of the sql crate.
pub type Result<T, E = SqlError> = std::result::Result<T, E>;
