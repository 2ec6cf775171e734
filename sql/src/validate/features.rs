//! Checks of what sits on top of the tables: entities, features, labels and
//! training sets, against the catalog.

use std::collections::{BTreeMap, BTreeSet};

use super::catalog::{Catalog, RelationKind};
use super::problems::Problems;
use crate::aggregate::{Aggregate, AggregateFunction};
use crate::duration::parse_duration;
use crate::model::{Definitions, Entity, Feature, Fill, Kind, Label, TrainingSet};
use crate::reference::VersionRef;
use crate::resolved::aggregate_types;
use crate::types::ColumnType;

/// Checks entities, features, labels and training sets.
pub fn check_features(definitions: &Definitions, catalog: &Catalog, problems: &mut Problems) {
    let entities: BTreeMap<&str, &Entity> = definitions
        .entities
        .iter()
        .map(|e| (e.name.as_str(), e))
        .collect();
    for entity in &definitions.entities {
        if entity.key.trim().is_empty() {
            problems.add(
                Kind::Entity,
                &entity.name,
                "key",
                "the key column name is empty",
            );
        }
    }
    let defined: BTreeSet<&str> = definitions
        .sources
        .iter()
        .map(|s| s.name.as_str())
        .chain(definitions.transformations.iter().map(|t| t.name.as_str()))
        .collect();
    let tables = Tables {
        entities: &entities,
        catalog,
        defined: &defined,
    };
    for feature in &definitions.features {
        check_feature(feature, &tables, problems);
    }
    for label in &definitions.labels {
        check_label(label, &tables, problems);
    }
    let features: BTreeMap<&str, &Feature> = definitions
        .features
        .iter()
        .map(|f| (f.name.as_str(), f))
        .collect();
    let labels: BTreeMap<&str, &Label> = definitions
        .labels
        .iter()
        .map(|l| (l.name.as_str(), l))
        .collect();
    let entities: BTreeSet<&str> = definitions
        .entities
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    for training_set in &definitions.training_sets {
        check_training_set(training_set, &labels, &features, &entities, problems);
    }
}

/// What features and labels are checked against: the entities, the tables
/// validation resolved, and the names of every source and transformation
/// defined (resolved or not).
struct Tables<'a> {
    entities: &'a BTreeMap<&'a str, &'a Entity>,
    catalog: &'a Catalog,
    defined: &'a BTreeSet<&'a str>,
}

/// Checks that `table` exists, has the entity's key, and returns the key's entity.
fn check_keyed_table<'a>(
    kind: Kind,
    name: &str,
    table: &str,
    entity: &str,
    tables: &Tables<'a>,
    problems: &mut Problems,
) -> Option<&'a super::catalog::Relation> {
    let Tables {
        entities,
        catalog,
        defined,
    } = tables;
    let relation = catalog.relations.get(table);
    if relation.is_none() && defined.contains(table) {
        problems.add(
            kind,
            name,
            "source",
            format!("'{table}' is itself invalid (see its errors)"),
        );
    } else if relation.is_none() {
        let known: Vec<&str> = catalog.relations.keys().map(String::as_str).collect();
        problems.add(
            kind,
            name,
            "source",
            format!(
                "unknown source or transformation '{table}' (known: {})",
                known.join(", ")
            ),
        );
    }
    match entities.get(entity) {
        None => {
            let known: Vec<&str> = entities.keys().copied().collect();
            problems.add(
                kind,
                name,
                "entity",
                format!("unknown entity '{entity}' (known: {})", known.join(", ")),
            );
        }
        Some(entity) => {
            if let Some(relation) = relation {
                if relation.schema.get(&entity.key).is_none() {
                    problems.add(
                        kind,
                        name,
                        "source",
                        format!(
                            "'{table}' has no column '{}', the key of entity '{}'",
                            entity.key, entity.name
                        ),
                    );
                }
            }
        }
    }
    relation
}

fn check_feature(feature: &Feature, tables: &Tables<'_>, problems: &mut Problems) {
    let name = &feature.name;
    let relation = check_keyed_table(
        Kind::Feature,
        name,
        &feature.source,
        &feature.entity,
        tables,
        problems,
    );
    if let Some(window) = &feature.window {
        if let Err(message) = parse_duration(window) {
            problems.add(Kind::Feature, name, "window", message);
        }
    }
    let aggregate = match Aggregate::parse(&feature.aggregate) {
        Ok(aggregate) => aggregate,
        Err(message) => {
            problems.add(Kind::Feature, name, "aggregate", message);
            return;
        }
    };
    let Some(relation) = relation else { return };
    if relation.kind == RelationKind::View {
        if aggregate.function != AggregateFunction::Last || feature.window.is_some() {
            problems.add(
                Kind::Feature,
                name,
                "aggregate",
                format!(
                    "'{}' is a GROUP BY view: a feature reads its current value by key, written last(column) with no window",
                    feature.source
                ),
            );
            return;
        }
    } else if relation.event_time.is_none() {
        problems.add(
            Kind::Feature,
            name,
            "source",
            format!(
                "'{}' has no event-time column; features aggregate over event time (set event_time on the source or transformation)",
                feature.source
            ),
        );
    }
    if let Some(column) = &aggregate.column {
        if relation.schema.get(column).is_none() {
            problems.add(
                Kind::Feature,
                name,
                "aggregate",
                format!("'{}' has no column '{column}'", feature.source),
            );
            return;
        }
    }
    let output = match aggregate_types(&aggregate, relation) {
        Ok((_, output)) => output,
        Err(message) => {
            problems.add(Kind::Feature, name, "aggregate", message);
            return;
        }
    };
    let value_type = feature.value_type.unwrap_or(output);
    if !type_accepts(value_type, output) {
        problems.add(
            Kind::Feature,
            name,
            "type",
            format!(
                "declared {value_type}, but {} gives {output}",
                feature.aggregate
            ),
        );
    }
    if let Some(default) = &feature.default {
        if let Err(message) = check_default(default, value_type) {
            problems.add(Kind::Feature, name, "default", message);
        }
    }
    if let Some(transform) = &feature.transform {
        if !value_type.is_numeric() {
            problems.add(
                Kind::Feature,
                name,
                "transform",
                format!("value transforms need a numeric feature, not {value_type}"),
            );
        }
        if let Some(Fill::Constant(value)) = &transform.fill {
            if !value.is_finite() {
                problems.add(
                    Kind::Feature,
                    name,
                    "transform.fill",
                    "the fill constant must be a finite number",
                );
            }
        }
        if let Some(clip) = &transform.clip {
            let valid = matches!(clip.as_slice(), [low, high] if (0.0..=1.0).contains(low) && (0.0..=1.0).contains(high) && low < high);
            if !valid {
                problems.add(
                    Kind::Feature,
                    name,
                    "transform.clip",
                    format!("clip takes two quantiles [low, high] with 0 <= low < high <= 1, not {clip:?}"),
                );
            }
        }
    }
}

/// Whether a feature declared as `declared` can hold values of type `computed`:
/// the same type, or a lossless numeric widening.
fn type_accepts(declared: ColumnType, computed: ColumnType) -> bool {
    declared == computed
        || matches!(
            (computed, declared),
            (ColumnType::Int32, ColumnType::Int64)
                | (
                    ColumnType::Int32 | ColumnType::Int64 | ColumnType::Float32,
                    ColumnType::Float64
                )
        )
}

fn check_default(default: &serde_json::Value, value_type: ColumnType) -> Result<(), String> {
    use serde_json::Value;
    let fits = match (value_type, default) {
        (_, Value::Null) => true,
        (ColumnType::Bool, Value::Bool(_)) => true,
        (ColumnType::Int32, Value::Number(n)) => {
            n.as_i64().is_some_and(|v| i32::try_from(v).is_ok())
        }
        (ColumnType::Int64, Value::Number(n)) => n.as_i64().is_some(),
        (ColumnType::Float32 | ColumnType::Float64, Value::Number(_)) => true,
        (ColumnType::String, Value::String(_)) => true,
        (ColumnType::Timestamp, Value::String(text)) => {
            chrono::DateTime::parse_from_rfc3339(text).is_ok()
        }
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        let article = if value_type.name().starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        Err(format!("default {default} is not {article} {value_type}"))
    }
}

fn check_label(label: &Label, tables: &Tables<'_>, problems: &mut Problems) {
    let name = &label.name;
    let Some(relation) = check_keyed_table(
        Kind::Label,
        name,
        &label.source,
        &label.entity,
        tables,
        problems,
    ) else {
        return;
    };
    if label.value.is_empty() {
        problems.add(
            Kind::Label,
            name,
            "value",
            "name at least one label value column",
        );
    }
    for column in &label.value {
        if relation.schema.get(column).is_none() {
            problems.add(
                Kind::Label,
                name,
                "value",
                format!("'{}' has no column '{column}'", label.source),
            );
        }
    }
    match relation.schema.get(&label.event_time) {
        Some(ColumnType::Timestamp) => {}
        Some(other) => problems.add(
            Kind::Label,
            name,
            "event_time",
            format!(
                "column '{}' is {other}; it must be a timestamp",
                label.event_time
            ),
        ),
        None => problems.add(
            Kind::Label,
            name,
            "event_time",
            format!("'{}' has no column '{}'", label.source, label.event_time),
        ),
    }
}

fn check_training_set(
    training_set: &TrainingSet,
    labels: &BTreeMap<&str, &Label>,
    features: &BTreeMap<&str, &Feature>,
    entities: &BTreeSet<&str>,
    problems: &mut Problems,
) {
    let name = &training_set.name;
    let mut described = BTreeSet::new();
    let label = labels.get(training_set.label.as_str());
    if label.is_none() {
        problems.add(
            Kind::TrainingSet,
            name,
            "label",
            format!("unknown label '{}'", training_set.label),
        );
    }
    if training_set.features.is_empty() {
        problems.add(
            Kind::TrainingSet,
            name,
            "features",
            "list at least one feature",
        );
    }
    let mut listed = BTreeSet::new();
    for reference in &training_set.features {
        let feature_name = match VersionRef::parse(reference) {
            Ok(parsed) => parsed.name,
            Err(message) => {
                problems.add(Kind::TrainingSet, name, "features", message);
                continue;
            }
        };
        if !listed.insert(feature_name.clone()) {
            problems.add(
                Kind::TrainingSet,
                name,
                "features",
                format!("feature '{feature_name}' is listed more than once"),
            );
        }
        match features.get(feature_name.as_str()) {
            None => problems.add(
                Kind::TrainingSet,
                name,
                "features",
                format!("unknown feature '{reference}'"),
            ),
            Some(feature) => {
                described.insert(feature.entity.as_str());
            }
        }
    }
    if let Some(label) = label {
        if !training_set.features.is_empty() && !described.contains(label.entity.as_str()) {
            problems.add(
                Kind::TrainingSet,
                name,
                "features",
                format!(
                    "label '{}' is about entity '{}', which no listed feature describes",
                    label.name, label.entity
                ),
            );
        }
    }
    for (entity, column) in &training_set.entities {
        let field = format!("entities.{entity}");
        if !entities.contains(entity.as_str()) {
            problems.add(
                Kind::TrainingSet,
                name,
                &field,
                format!("unknown entity '{entity}'"),
            );
        } else if !described.contains(entity.as_str()) {
            problems.add(
                Kind::TrainingSet,
                name,
                &field,
                format!("no listed feature describes entity '{entity}'"),
            );
        }
        if column.trim().is_empty() {
            problems.add(
                Kind::TrainingSet,
                name,
                &field,
                "name the label column holding the entity's keys",
            );
        }
    }
}
