//! [`Problems`]: the list of located errors a validation pass collects, so a user
//! sees every problem of a file at once.

use crate::error::{DefinitionError, SqlError};
use crate::model::Kind;

/// Collects [`DefinitionError`]s for one file.
pub struct Problems {
    file: String,
    errors: Vec<DefinitionError>,
}

impl Problems {
    /// An empty list for `file`.
    pub fn new(file: &str) -> Self {
        Problems {
            file: file.to_string(),
            errors: Vec::new(),
        }
    }

    /// Records a problem with `field` of the object `kind 'name'`.
    pub fn add(&mut self, kind: Kind, name: &str, field: &str, message: impl Into<String>) {
        self.add_at(kind, name, field, None, message);
    }

    /// Records a problem at a position of the object's SQL.
    pub fn add_at(
        &mut self,
        kind: Kind,
        name: &str,
        field: &str,
        sql_position: Option<(u64, u64)>,
        message: impl Into<String>,
    ) {
        self.errors.push(DefinitionError {
            file: self.file.clone(),
            object: format!("{} '{}'", kind.name(), name),
            field: field.to_string(),
            sql_position,
            message: message.into(),
        });
    }

    /// `Ok(value)` when nothing was recorded, otherwise every problem.
    pub fn finish<T>(self, value: T) -> Result<T, SqlError> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(SqlError::Invalid(self.errors))
        }
    }
}
