//! [`ActiveSet`]: the active version of every definition, with the catalog that
//! validation derives from them; what the runtime and serving are built from.

use std::collections::BTreeMap;
use std::path::Path;

use freshet_sql::aggregate::Aggregate;
use freshet_sql::duration::parse_duration;
use freshet_sql::model::{Definitions, Feature, Fill, Source};
use freshet_sql::registry::Registry;
use freshet_sql::types::ColumnType;
use freshet_sql::validate::{validate, Catalog, RelationKind};

use super::versions::VersionStatus;
use crate::aggregate::{Aggregation, Retention};
use crate::operators::FeatureInput;
use crate::{EngineError, Result};

/// The newest definitions, their tables, and the status of every feature version.
#[derive(Debug, Clone)]
pub struct ActiveSet {
    /// The newest version of every definition.
    pub definitions: Definitions,
    /// Their tables.
    pub catalog: Catalog,
    /// The status of every feature version, by table (`name@vN`).
    pub statuses: BTreeMap<String, VersionStatus>,
}

/// A feature version's table name: `name@vN`.
pub fn feature_table(name: &str, version: u32) -> String {
    format!("{name}@v{version}")
}

impl ActiveSet {
    /// A stream source's allowed lateness in microseconds (0 when unset).
    pub fn lateness(source: &Source) -> i64 {
        source
            .allowed_lateness
            .as_deref()
            .and_then(|text| parse_duration(text).ok())
            .map_or(0, |d| d.as_micros() as i64)
    }

    /// Reads the active set from the registry (no version statuses).
    pub async fn load(registry: &Registry) -> Result<ActiveSet> {
        ActiveSet::validated(registry.active_definitions()?).await
    }

    /// Validates `definitions` and derives their tables; no versions.
    pub async fn validated(definitions: Definitions) -> Result<ActiveSet> {
        let (definitions, catalog) = validate(&definitions, "registry", Path::new("/")).await?;
        Ok(ActiveSet {
            definitions,
            catalog,
            statuses: BTreeMap::new(),
        })
    }

    /// The stream sources.
    pub fn streams(&self) -> impl Iterator<Item = &Source> {
        self.definitions
            .sources
            .iter()
            .filter(|s| s.stream.is_some())
    }

    /// The key column of `entity`, if it is defined.
    pub fn entity_key(&self, entity: &str) -> Option<&str> {
        self.definitions
            .entities
            .iter()
            .find(|e| e.name == entity)
            .map(|e| e.key.as_str())
    }

    /// How a feature's operator reads and aggregates, from its definition;
    /// `lateness` is its stream source's allowed lateness in microseconds.
    pub fn feature_input(&self, feature: &Feature, lateness: i64) -> Result<FeatureInput> {
        let invalid =
            |why: String| EngineError::Unsupported(format!("feature '{}': {why}", feature.name));
        let relation = self
            .catalog
            .relations
            .get(&feature.source)
            .ok_or_else(|| invalid(format!("unknown source '{}'", feature.source)))?;
        let aggregate = Aggregate::parse(&feature.aggregate).map_err(invalid)?;
        if relation.kind == RelationKind::View {
            return Ok(FeatureInput::View {
                column: aggregate.column.unwrap_or_default(),
            });
        }
        let window = feature
            .window
            .as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(invalid)?
            .map(|d| d.as_micros() as i64);
        let integer_input = aggregate
            .column
            .as_deref()
            .and_then(|c| relation.schema.get(c))
            .is_some_and(|t| matches!(t, ColumnType::Int32 | ColumnType::Int64));
        Ok(FeatureInput::Events {
            aggregation: Aggregation {
                function: aggregate.function,
                integer_input,
                retention: Retention { window, lateness },
            },
            time_column: relation
                .event_time
                .clone()
                .ok_or_else(|| invalid("its source has no event time".into()))?,
            value_column: aggregate.column,
        })
    }
}

/// Whether a feature's transforms need statistics of its values.
pub fn needs_stats(feature: &Feature) -> bool {
    feature.transform.as_ref().is_some_and(|t| {
        t.scale.is_some() || t.clip.is_some() || matches!(t.fill, Some(Fill::Statistic(_)))
    })
}
