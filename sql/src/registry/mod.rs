//! The registry: every applied version of every definition, stored in the state
//! store's `registry` column family.
//!
//! Keys: `def/KIND/NAME/VERSION` (version zero-padded) holds the object as JSON;
//! `active/KIND/NAME` holds the newest applied version number. Versions are
//! immutable: applying an unchanged object is a no-op, a changed one becomes version
//! n+1, and one apply is one atomic write. A new version of a transformation makes
//! new versions of everything that reads it ([`crate::lineage`]).
//!
//! A feature's bare name reads its *serving* version ([`lifecycle`]), which the
//! engine moves once a new version's backfill has caught up.

mod lifecycle;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use freshet_storage::state::{column_family::REGISTRY, StateStore, WriteBatch};
use serde::Serialize;
use tracing::info;

use crate::error::{Result, SqlError};
use crate::lineage::dependency_order;
use crate::model::{Definitions, Kind, Object};
use crate::reference::VersionRef;
use crate::validate::{validate, Catalog};

pub use lifecycle::{Frozen, Retirement};

/// What an apply does to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Change {
    /// The object is new: version 1.
    Created,
    /// The object changed: a new version after `previous`.
    NewVersion {
        /// The version it replaces as active.
        previous: u32,
    },
    /// Identical to the latest version: nothing is written.
    Unchanged,
}

/// One line of an apply plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedChange {
    /// The object's kind.
    pub kind: Kind,
    /// The object's name.
    pub name: String,
    /// The version the object has after the apply.
    pub version: u32,
    /// What happens to it.
    #[serde(flatten)]
    pub change: Change,
}

/// What an apply did (or, in a dry run, would do), object by object in dependency order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The changes.
    pub changes: Vec<PlannedChange>,
}

/// One stored version of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    /// The version number, from 1.
    pub version: u32,
    /// The definition as applied (file URIs absolute).
    pub object: T,
}

/// The versioned definitions registry.
pub struct Registry {
    store: Arc<dyn StateStore>,
    apply_lock: tokio::sync::Mutex<()>,
}

fn def_key(kind: Kind, name: &str, version: u32) -> Vec<u8> {
    format!("def/{}/{}/{:010}", kind.name(), name, version).into_bytes()
}

fn active_key(kind: Kind, name: &str) -> Vec<u8> {
    format!("active/{}/{}", kind.name(), name).into_bytes()
}

impl Registry {
    /// A registry over `store`.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        Registry {
            store,
            apply_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The latest (newest applied) version number of an object, if it exists; not
    /// necessarily the one its bare name serves (see `serving_version`).
    pub fn latest_version(&self, kind: Kind, name: &str) -> Result<Option<u32>> {
        let Some(bytes) = self.store.get(REGISTRY, &active_key(kind, name))? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&bytes);
        text.parse::<u32>()
            .map(Some)
            .map_err(|e| SqlError::CorruptRecord {
                key: String::from_utf8_lossy(&active_key(kind, name)).into_owned(),
                reason: e.to_string(),
            })
    }

    /// Every version number of an object, ascending.
    pub fn versions(&self, kind: Kind, name: &str) -> Result<Vec<u32>> {
        let prefix = format!("def/{}/{}/", kind.name(), name);
        self.store
            .scan_prefix(REGISTRY, prefix.as_bytes())?
            .into_iter()
            .map(|(key, _)| {
                let text = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                text.parse::<u32>().map_err(|e| SqlError::CorruptRecord {
                    key: String::from_utf8_lossy(&key).into_owned(),
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    /// Resolves `name` (the serving version, else the latest) or `name@vN` (that version).
    pub fn resolve<T: Object>(&self, reference: &str) -> Result<Versioned<T>> {
        let not_found = |hint: String| SqlError::NotFound {
            kind: T::KIND.name(),
            reference: reference.to_string(),
            hint,
        };
        let VersionRef { name, version } =
            VersionRef::parse(reference).map_err(|m| not_found(format!(": {m}")))?;
        let name = name.as_str();
        let version = match version {
            Some(version) => version,
            None => match self.serving_version(T::KIND, name)? {
                Some(version) => version,
                None => self
                    .latest_version(T::KIND, name)?
                    .ok_or_else(|| not_found(String::new()))?,
            },
        };
        let key = def_key(T::KIND, name, version);
        let bytes = self.store.get(REGISTRY, &key)?.ok_or_else(|| {
            let known = self.versions(T::KIND, name).unwrap_or_default();
            not_found(match known.is_empty() {
                true => String::new(),
                false => format!(
                    " (versions: {})",
                    known
                        .iter()
                        .map(|v| format!("v{v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
        })?;
        let object = serde_json::from_slice(&bytes).map_err(|e| SqlError::CorruptRecord {
            key: String::from_utf8_lossy(&key).into_owned(),
            reason: e.to_string(),
        })?;
        Ok(Versioned { version, object })
    }

    /// The latest version of every object of kind `T`, with its version number.
    pub fn latest_versions<T: Object>(&self) -> Result<Vec<Versioned<T>>> {
        let prefix = format!("active/{}/", T::KIND.name());
        self.store
            .scan_prefix(REGISTRY, prefix.as_bytes())?
            .into_iter()
            .map(|(key, _)| {
                let name = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                self.resolve::<T>(&name)
            })
            .collect()
    }

    /// Every stored version of every object of kind `T`, by name then version.
    pub fn all_versions<T: Object>(&self) -> Result<Vec<Versioned<T>>> {
        let prefix = format!("def/{}/", T::KIND.name());
        self.store
            .scan_prefix(REGISTRY, prefix.as_bytes())?
            .into_iter()
            .map(|(key, bytes)| {
                let corrupt = |reason: String| SqlError::CorruptRecord {
                    key: String::from_utf8_lossy(&key).into_owned(),
                    reason,
                };
                let text = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                let version = text
                    .rsplit_once('/')
                    .and_then(|(_, v)| v.parse::<u32>().ok())
                    .ok_or_else(|| corrupt("no version".into()))?;
                let object = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
                Ok(Versioned { version, object })
            })
            .collect()
    }

    fn latest_of<T: Object>(&self) -> Result<Vec<T>> {
        Ok(self
            .latest_versions::<T>()?
            .into_iter()
            .map(|v| v.object)
            .collect())
    }

    /// The latest version of every object.
    pub fn latest_definitions(&self) -> Result<Definitions> {
        Ok(Definitions {
            sources: self.latest_of()?,
            transformations: self.latest_of()?,
            entities: self.latest_of()?,
            features: self.latest_of()?,
            labels: self.latest_of()?,
            training_sets: self.latest_of()?,
        })
    }

    /// Validates `definitions` together with the active objects they do not
    /// redefine, then stores a new version of every new or changed object, all in one
    /// atomic write (nothing when `dry_run`). Invalid definitions change nothing.
    pub async fn apply(
        &self,
        definitions: &Definitions,
        file: &str,
        base_dir: &Path,
        dry_run: bool,
    ) -> Result<(Plan, Catalog)> {
        let _serialised = self.apply_lock.lock().await;
        let active = self.latest_definitions()?;
        let merged = Definitions {
            sources: overlay(&active.sources, &definitions.sources),
            transformations: overlay(&active.transformations, &definitions.transformations),
            entities: overlay(&active.entities, &definitions.entities),
            features: overlay(&active.features, &definitions.features),
            labels: overlay(&active.labels, &definitions.labels),
            training_sets: overlay(&active.training_sets, &definitions.training_sets),
        };
        let resolved = validate(&merged, file, base_dir).await?;
        let validated = &resolved.definitions;

        let mut plan = Plan::default();
        let mut batch = WriteBatch::new();
        let named = |kind: Kind, name: &str| match kind {
            Kind::Source => definitions.sources.iter().any(|o| o.name == name),
            Kind::Transformation => definitions.transformations.iter().any(|o| o.name == name),
            Kind::Entity => definitions.entities.iter().any(|o| o.name == name),
            Kind::Feature => definitions.features.iter().any(|o| o.name == name),
            Kind::Label => definitions.labels.iter().any(|o| o.name == name),
            Kind::TrainingSet => definitions.training_sets.iter().any(|o| o.name == name),
        };
        for object in &validated.sources {
            self.diff(
                object,
                named(Kind::Source, &object.name),
                &mut plan,
                &mut batch,
            )?;
        }
        // Transformations in dependency order, so that each records the versions
        // of those it reads after this apply; a new upstream version makes a new
        // version of every reader, named in the file or not.
        let mut transformation_versions = BTreeMap::new();
        for transformation in dependency_order(&validated.transformations) {
            let mut transformation = transformation.clone();
            transformation.inputs = crate::lineage::reads(&transformation.sql)
                .into_iter()
                .filter_map(|r| transformation_versions.get(&r).map(|v| (r, *v)))
                .collect();
            let named = named(Kind::Transformation, &transformation.name);
            let version = self.diff(&transformation, named, &mut plan, &mut batch)?;
            transformation_versions.insert(transformation.name.clone(), version);
        }
        for object in &validated.entities {
            self.diff(
                object,
                named(Kind::Entity, &object.name),
                &mut plan,
                &mut batch,
            )?;
        }
        for feature in &validated.features {
            let mut feature = feature.clone();
            feature.inputs = transformation_versions
                .get(&feature.source)
                .map(|v| (feature.source.clone(), *v))
                .into_iter()
                .collect();
            let named = named(Kind::Feature, &feature.name);
            self.diff(&feature, named, &mut plan, &mut batch)?;
        }
        for object in &validated.labels {
            self.diff(
                object,
                named(Kind::Label, &object.name),
                &mut plan,
                &mut batch,
            )?;
        }
        for object in &validated.training_sets {
            let named = named(Kind::TrainingSet, &object.name);
            self.diff(object, named, &mut plan, &mut batch)?;
        }
        self.check_pinned_versions(validated, &plan, file)?;
        if !dry_run && !batch.is_empty() {
            self.store.write(batch)?;
            for change in plan
                .changes
                .iter()
                .filter(|c| c.change != Change::Unchanged)
            {
                info!(kind = change.kind.name(), name = %change.name, version = change.version, "applied");
            }
        }
        Ok((plan, resolved.catalog))
    }

    /// Checks that every `feature@vN` a training set pins is stored or is created by
    /// this apply.
    fn check_pinned_versions(
        &self,
        definitions: &Definitions,
        plan: &Plan,
        file: &str,
    ) -> Result<()> {
        let mut errors = Vec::new();
        for training_set in &definitions.training_sets {
            for reference in &training_set.features {
                let Ok(VersionRef {
                    name,
                    version: Some(version),
                }) = VersionRef::parse(reference)
                else {
                    continue;
                };
                let name = name.as_str();
                let planned = plan
                    .changes
                    .iter()
                    .any(|c| c.kind == Kind::Feature && c.name == name && c.version == version);
                if !planned && !self.versions(Kind::Feature, name)?.contains(&version) {
                    errors.push(crate::error::DefinitionError {
                        file: file.to_string(),
                        object: format!("training_set '{}'", training_set.name),
                        field: "features".into(),
                        sql_position: None,
                        message: format!("feature '{name}' has no version v{version}"),
                    });
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(SqlError::Invalid(errors))
        }
    }

    /// Adds to `batch` a new version of `object` when it differs from its newest
    /// version, and to `plan` its change when it is `named` in the file or changes
    /// anyway (a dependant of a changed transformation). Returns its version after
    /// the apply.
    fn diff<T: Object>(
        &self,
        object: &T,
        named: bool,
        plan: &mut Plan,
        batch: &mut WriteBatch,
    ) -> Result<u32> {
        let name = object.name();
        let (version, change) = match self.latest_version(T::KIND, name)? {
            None => (1, Change::Created),
            Some(current) => {
                let stored = self.resolve_version::<T>(name, current)?.object;
                if stored == *object {
                    (current, Change::Unchanged)
                } else {
                    let latest = self
                        .versions(T::KIND, name)?
                        .into_iter()
                        .max()
                        .unwrap_or(current);
                    (latest + 1, Change::NewVersion { previous: current })
                }
            }
        };
        if change != Change::Unchanged {
            let json = serde_json::to_vec(object).expect("definitions serialise to JSON");
            batch.put(REGISTRY, def_key(T::KIND, name, version), json);
            batch.put(REGISTRY, active_key(T::KIND, name), version.to_string());
        }
        if named || change != Change::Unchanged {
            plan.changes.push(PlannedChange {
                kind: T::KIND,
                name: name.to_string(),
                version,
                change,
            });
        }
        Ok(version)
    }

    /// Version `version` of `name`.
    pub fn resolve_version<T: Object>(&self, name: &str, version: u32) -> Result<Versioned<T>> {
        self.resolve::<T>(&format!("{name}@v{version}"))
    }
}

/// The active objects with those named in `file` put in their place (file order
/// kept for the named ones, after the rest).
fn overlay<T: Object>(active: &[T], file: &[T]) -> Vec<T> {
    let mut merged: Vec<T> = active
        .iter()
        .filter(|a| !file.iter().any(|f| f.name() == a.name()))
        .cloned()
        .collect();
    merged.extend(file.iter().cloned());
    merged
}
