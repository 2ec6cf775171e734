//! Validation: every check a definitions file must pass before anything is stored.
//! All problems are collected and reported together, each naming the file, the
//! object, the field and, for SQL, the position.

mod catalog;
mod features;
mod metadata;
mod names;
mod problems;
mod sources;
mod transformations;

use std::path::Path;

pub use catalog::{Catalog, Relation, RelationKind};

use crate::error::Result;
use crate::model::Definitions;
use crate::resolved::Resolved;
use problems::Problems;

/// Validates `definitions` (read from `file`; relative `file://` URIs resolve
/// against `base_dir`). On success returns them resolved: file URIs made
/// absolute, the catalog of their tables, and every stream and feature parsed.
pub async fn validate(definitions: &Definitions, file: &str, base_dir: &Path) -> Result<Resolved> {
    let mut definitions = definitions.clone();
    let mut problems = Problems::new(file);
    names::check_names(&definitions, &mut problems);
    metadata::check_metadata(&definitions, &mut problems);
    let mut catalog = Catalog::default();
    for source in &mut definitions.sources {
        if let Some(relation) = sources::check_source(source, base_dir, &mut problems).await {
            catalog.relations.insert(source.name.clone(), relation);
        }
    }
    transformations::check_transformations(
        &definitions.transformations,
        &mut catalog,
        &mut problems,
    )
    .await;
    features::check_features(&definitions, &catalog, &mut problems);
    let (definitions, catalog) = problems.finish((definitions, catalog))?;
    Resolved::new(definitions, catalog)
}
