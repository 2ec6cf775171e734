//! The definitions users write, as plain data (DESIGN.md §3). Parsing lives in
//! [`crate::load`], checking in [`crate::validate`], storage in [`crate::registry`].

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::types::{ColumnSchema, ColumnType};

/// Everything one definitions file declares.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definitions {
    /// Event streams and files.
    #[serde(default)]
    pub sources: Vec<Source>,
    /// SQL over sources and other transformations.
    #[serde(default)]
    pub transformations: Vec<Transformation>,
    /// Things features describe, each with its key column.
    #[serde(default)]
    pub entities: Vec<Entity>,
    /// Aggregations served online and reproduced in training sets.
    #[serde(default)]
    pub features: Vec<Feature>,
    /// What models learn to predict.
    #[serde(default)]
    pub labels: Vec<Label>,
    /// A label and the features to join to it.
    #[serde(default)]
    pub training_sets: Vec<TrainingSet>,
}

/// Where events or rows come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Unique among sources and transformations; the table name in SQL.
    pub name: String,
    /// Set for an event stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamSpec>,
    /// Set for a file table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileSpec>,
    /// The columns; required for streams, inferred from the file when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<ColumnSchema>,
    /// The timestamp column that gives each event its event time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<String>,
    /// How far behind the watermark an event may arrive and still be placed (`5m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_lateness: Option<String>,
    /// Free text for the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who answers for it (a team or a person), for the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Words to find it by (`payments`, `pii`), for the registry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// A stream source on the event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSpec {
    /// The log topic; defaults to the source name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// How producers encode events on the topic.
    #[serde(default)]
    pub format: StreamFormat,
    /// Number of log partitions.
    #[serde(default = "one_partition")]
    pub partitions: u32,
}

fn one_partition() -> u32 {
    1
}

/// How events are encoded on a stream topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamFormat {
    /// One JSON object per event.
    #[default]
    Json,
}

/// A file table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// `file://path` (relative to the definitions file's folder) or `s3://bucket/key`.
    pub uri: String,
    /// The file format; inferred from the extension when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<FileFormat>,
}

/// Formats of file tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    /// Apache Parquet.
    Parquet,
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    #[serde(alias = "jsonl", alias = "ndjson")]
    Json,
}

/// A SQL query over sources and other transformations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transformation {
    /// Unique among sources and transformations; the table name in SQL.
    pub name: String,
    /// One SELECT statement.
    pub sql: String,
    /// The output timestamp column that is the event time; defaults to the event-time
    /// column of a stream it reads, when the output keeps it under the same name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<String>,
    /// Free text for the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who answers for it (a team or a person), for the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Words to find it by (`payments`, `pii`), for the registry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Set by the registry: the version of each transformation it reads, so that a
    /// new version of one of them makes a new version of this one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, u32>,
}

/// A kind of thing features describe, and its key column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entity {
    /// Unique among entities.
    pub name: String,
    /// The key column every source of its features must have.
    pub key: String,
    /// Free text for the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who answers for it (a team or a person), for the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Words to find it by (`payments`, `pii`), for the registry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// A feature: an aggregation of one column of a source, per entity, over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feature {
    /// Unique among features.
    pub name: String,
    /// The entity it describes.
    pub entity: String,
    /// The source or transformation it aggregates.
    pub source: String,
    /// `count(*)`, `sum(amount)`, ... (see [`crate::aggregate`]).
    pub aggregate: String,
    /// The sliding window (`7d`); none means the whole history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// The value type; inferred from the aggregate when omitted.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub value_type: Option<ColumnType>,
    /// Served when the feature has no value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    /// Free text for the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who answers for it (a team or a person), for the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Words to find it by (`payments`, `pii`), for the registry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Value transforms applied at read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<ValueTransform>,
    /// Set by the registry: the version of the transformation it reads, if it reads
    /// one, so that a new version of it makes a new version of this feature.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, u32>,
}

/// Transforms applied to a feature's value when it is read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueTransform {
    /// How a missing value is filled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill: Option<Fill>,
    /// How values are scaled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<Scale>,
    /// Clip at these quantiles of the seen values, each in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip: Option<Vec<f64>>,
}

/// How to fill a missing value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Fill {
    /// A fixed number.
    Constant(f64),
    /// A statistic of the values seen.
    Statistic(FillStatistic),
}

/// Statistics a missing value can be filled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FillStatistic {
    /// The mean of the values seen.
    Mean,
    /// The median of the values seen.
    Median,
}

/// How to scale values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// `(x - mean) / stddev`.
    Zscore,
    /// `(x - min) / (max - min)`.
    Minmax,
}

/// What a model learns to predict: a value per entity at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label {
    /// Unique among labels.
    pub name: String,
    /// The source or transformation holding the label rows.
    pub source: String,
    /// The entity the label is about.
    pub entity: String,
    /// The label value column(s).
    #[serde(deserialize_with = "one_or_many")]
    pub value: Vec<String>,
    /// The timestamp column of each label row.
    pub event_time: String,
    /// Free text for the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who answers for it (a team or a person), for the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Words to find it by (`payments`, `pii`), for the registry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(value) => vec![value],
        OneOrMany::Many(values) => values,
    })
}

/// A label and the features to compute for each of its rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingSet {
    /// Unique among training sets.
    pub name: String,
    /// The label.
    pub label: String,
    /// The features, as names or `name@vN`, in output order.
    pub features: Vec<String>,
    /// The label column holding each entity's keys, by entity, when the
    /// features describe several (a purchase has a user and an item); an
    /// entity not named here is read from the column named as its key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub entities: BTreeMap<String, String>,
    /// Free text for the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who answers for it (a team or a person), for the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Words to find it by (`payments`, `pii`), for the registry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// The kinds of object a definitions file holds, in dependency order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A [`Source`].
    Source,
    /// A [`Transformation`].
    Transformation,
    /// An [`Entity`].
    Entity,
    /// A [`Feature`].
    Feature,
    /// A [`Label`].
    Label,
    /// A [`TrainingSet`].
    TrainingSet,
}

impl Kind {
    /// The name used in messages and registry keys.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Source => "source",
            Kind::Transformation => "transformation",
            Kind::Entity => "entity",
            Kind::Feature => "feature",
            Kind::Label => "label",
            Kind::TrainingSet => "training_set",
        }
    }
}

/// Access to any object of a definitions file by kind, for code that treats them alike.
pub trait Object: Serialize + serde::de::DeserializeOwned + Clone + PartialEq {
    /// The object's kind.
    const KIND: Kind;
    /// The object's name.
    fn name(&self) -> &str;
    /// Its description, owner and tags: what the registry shows of it and
    /// nothing computes from.
    fn metadata(&self) -> Metadata<'_>;
    /// The object with no description, owner or tags: what tells its
    /// versions apart (a change of metadata alone makes no new version).
    fn without_metadata(&self) -> Self;
}

/// What every object may carry for people finding it, and nothing reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata<'a> {
    /// Free text.
    pub description: Option<&'a str>,
    /// Who answers for it.
    pub owner: Option<&'a str>,
    /// Words to find it by.
    pub tags: &'a [String],
}

macro_rules! object {
    ($type:ty, $kind:expr) => {
        impl Object for $type {
            const KIND: Kind = $kind;
            fn name(&self) -> &str {
                &self.name
            }
            fn metadata(&self) -> Metadata<'_> {
                Metadata {
                    description: self.description.as_deref(),
                    owner: self.owner.as_deref(),
                    tags: &self.tags,
                }
            }
            fn without_metadata(&self) -> Self {
                let mut bare = self.clone();
                bare.description = None;
                bare.owner = None;
                bare.tags = Vec::new();
                bare
            }
        }
    };
}

object!(Source, Kind::Source);
object!(Transformation, Kind::Transformation);
object!(Entity, Kind::Entity);
object!(Feature, Kind::Feature);
object!(Label, Kind::Label);
object!(TrainingSet, Kind::TrainingSet);
