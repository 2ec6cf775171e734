//! [`Resolved`]: a valid set of definitions with every string the engine needs
//! parsed once — windows and lateness as durations, aggregates parsed, value and
//! key types inferred, topics defaulted, event-time columns found. Validation
//! returns it; the engine, serving, ingest and training read it and never parse a
//! definition string again.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::aggregate::Aggregate;
use crate::duration::parse_duration;
use crate::error::{Result, SqlError};
use crate::model::{Definitions, Feature, Fill, Source, StreamFormat};
use crate::types::{ColumnSchema, ColumnType};
use crate::validate::{Catalog, Relation, RelationKind};

/// A stream source as ingest and the engine use it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSource {
    /// The source's name.
    pub name: String,
    /// The log topic (the source's name unless the definition names one).
    pub topic: String,
    /// Number of log partitions.
    pub partitions: u32,
    /// How producers encode events.
    pub format: StreamFormat,
    /// The declared columns.
    pub schema: ColumnSchema,
    /// The event-time column.
    pub event_time: String,
    /// How far behind the watermark an event may be and still be placed
    /// (zero when unset).
    pub lateness: Duration,
}

impl StreamSource {
    /// The allowed lateness in microseconds, as event times are stored.
    pub fn lateness_micros(&self) -> i64 {
        micros(self.lateness)
    }
}

/// A duration in whole microseconds (saturating).
pub fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// A feature as the engine computes and serves it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedFeature {
    /// The definition as applied.
    pub definition: Feature,
    /// The entity's key column.
    pub key_column: String,
    /// The key column's type in the table the feature reads.
    pub key_type: ColumnType,
    /// What kind of table it reads (a view is read by key, not aggregated).
    pub relation_kind: RelationKind,
    /// Its aggregate, parsed.
    pub aggregate: Aggregate,
    /// The aggregated column's type (`None` for `count(*)`).
    pub input_type: Option<ColumnType>,
    /// The sliding window; `None` for the whole history.
    pub window: Option<Duration>,
    /// The event-time column of the table it reads (none for a view).
    pub time_column: Option<String>,
    /// The type of the values served: the declared type, else the aggregate's,
    /// and `float64` once value transforms apply.
    pub value_type: ColumnType,
}

impl ResolvedFeature {
    /// The feature's name.
    pub fn name(&self) -> &str {
        &self.definition.name
    }

    /// The window in microseconds, if it has one.
    pub fn window_micros(&self) -> Option<i64> {
        self.window.map(micros)
    }

    /// Whether the aggregated column holds integers (integer sums stay integers).
    pub fn integer_input(&self) -> bool {
        matches!(self.input_type, Some(ColumnType::Int32 | ColumnType::Int64))
    }

    /// Whether its value transforms need statistics of its values.
    pub fn needs_stats(&self) -> bool {
        self.definition.transform.as_ref().is_some_and(|t| {
            t.scale.is_some() || t.clip.is_some() || matches!(t.fill, Some(Fill::Statistic(_)))
        })
    }

    /// Resolves `feature` against the tables of `catalog` and the entity key
    /// `key_column`. Validation has accepted the feature, so a failure here means
    /// the catalog is not the one it was validated against.
    pub fn resolve(feature: &Feature, key_column: &str, catalog: &Catalog) -> Result<Self> {
        let internal =
            |why: String| SqlError::Internal(format!("feature '{}': {why}", feature.name));
        let relation = catalog
            .relations
            .get(&feature.source)
            .ok_or_else(|| internal(format!("unknown table '{}'", feature.source)))?;
        let aggregate = Aggregate::parse(&feature.aggregate).map_err(internal)?;
        let window = feature
            .window
            .as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(internal)?;
        let (input_type, computed) = aggregate_types(&aggregate, relation).map_err(internal)?;
        let value_type = match feature.transform {
            Some(_) => ColumnType::Float64,
            None => feature.value_type.unwrap_or(computed),
        };
        Ok(ResolvedFeature {
            definition: feature.clone(),
            key_column: key_column.to_string(),
            key_type: relation
                .schema
                .get(key_column)
                .unwrap_or(ColumnType::String),
            relation_kind: relation.kind,
            aggregate,
            input_type,
            window,
            time_column: relation.event_time.clone(),
            value_type,
        })
    }
}

/// The aggregated column's type (none for `count(*)`) and the type the aggregate
/// computes from it, over `relation`; an error names the missing column or the
/// type the function cannot take. The one place these types are inferred.
pub fn aggregate_types(
    aggregate: &Aggregate,
    relation: &Relation,
) -> std::result::Result<(Option<ColumnType>, ColumnType), String> {
    let Some(column) = &aggregate.column else {
        return Ok((None, ColumnType::Int64));
    };
    let input = relation
        .schema
        .get(column)
        .ok_or_else(|| format!("has no column '{column}'"))?;
    let output = aggregate
        .function
        .output_type(input)
        .map_err(|message| format!("{message} ('{column}' is {input})"))?;
    Ok((Some(input), output))
}

/// A valid set of definitions, resolved for the engine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolved {
    /// The definitions as applied (file URIs absolute).
    pub definitions: Definitions,
    /// Their tables.
    pub catalog: Catalog,
    /// The stream sources, by name.
    pub streams: BTreeMap<String, StreamSource>,
    /// The features, by name.
    pub features: BTreeMap<String, ResolvedFeature>,
}

impl Resolved {
    /// Resolves definitions that validation accepted, with their catalog.
    pub fn new(definitions: Definitions, catalog: Catalog) -> Result<Resolved> {
        let streams = definitions
            .sources
            .iter()
            .filter_map(|source| resolve_stream(source).transpose())
            .map(|stream| stream.map(|s| (s.name.clone(), s)))
            .collect::<Result<_>>()?;
        let features = definitions
            .features
            .iter()
            .map(|feature| {
                let key = definitions
                    .entities
                    .iter()
                    .find(|e| e.name == feature.entity)
                    .ok_or_else(|| {
                        SqlError::Internal(format!(
                            "feature '{}': unknown entity '{}'",
                            feature.name, feature.entity
                        ))
                    })?;
                let resolved = ResolvedFeature::resolve(feature, &key.key, &catalog)?;
                Ok((feature.name.clone(), resolved))
            })
            .collect::<Result<_>>()?;
        Ok(Resolved {
            definitions,
            catalog,
            streams,
            features,
        })
    }

    /// The stream source `name`, if it is one.
    pub fn stream(&self, name: &str) -> Option<&StreamSource> {
        self.streams.get(name)
    }

    /// The source `name` as defined.
    pub fn source(&self, name: &str) -> Option<&Source> {
        self.definitions.sources.iter().find(|s| s.name == name)
    }

    /// The key column of `entity`, if it is defined.
    pub fn entity_key(&self, entity: &str) -> Option<&str> {
        self.definitions
            .entities
            .iter()
            .find(|e| e.name == entity)
            .map(|e| e.key.as_str())
    }
}

/// The stream part of `source`, resolved; `None` for a file source.
fn resolve_stream(source: &Source) -> Result<Option<StreamSource>> {
    let Some(stream) = &source.stream else {
        return Ok(None);
    };
    let internal = |why: &str| SqlError::Internal(format!("source '{}': {why}", source.name));
    let lateness = source
        .allowed_lateness
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|e| internal(&e))?
        .unwrap_or_default();
    Ok(Some(StreamSource {
        name: source.name.clone(),
        topic: stream.topic.clone().unwrap_or_else(|| source.name.clone()),
        partitions: stream.partitions,
        format: stream.format,
        schema: source
            .schema
            .clone()
            .ok_or_else(|| internal("a stream without a schema"))?,
        event_time: source
            .event_time
            .clone()
            .ok_or_else(|| internal("a stream without an event time"))?,
        lateness,
    }))
}
