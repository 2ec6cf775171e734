//! Applying definitions: validate them together with the latest objects they do
//! not redefine, diff each against its latest version, and store every new version
//! in one atomic write.

use std::collections::BTreeMap;
use std::path::Path;

use freshet_sql::lineage::{dependency_order, reads};
use freshet_sql::model::{Definitions, Kind, Object};
use freshet_sql::reference::VersionRef;
use freshet_sql::validate::{validate, Catalog};
use freshet_sql::{DefinitionError, SqlError};
use freshet_storage::state::{column_family::REGISTRY, WriteBatch};
use serde::Serialize;
use tracing::info;

use crate::applied::{applied_key, Applied, Stamp};
use crate::{active_key, def_key, Registry, Result};

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
    /// Only its description, owner or tags changed: they are updated in
    /// place, on the same version (nothing is recomputed).
    MetadataUpdated,
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

impl Registry {
    /// Validates `definitions` together with the active objects they do not
    /// redefine, then stores a new version of every new or changed object, all in one
    /// atomic write (nothing when `dry_run`). Invalid definitions change nothing.
    /// The caller is not named: [`Registry::apply_as`] records who applied.
    pub async fn apply(
        &self,
        definitions: &Definitions,
        file: &str,
        base_dir: &Path,
        dry_run: bool,
    ) -> Result<(Plan, Catalog)> {
        self.apply_as(definitions, file, base_dir, dry_run, "")
            .await
    }

    /// [`Registry::apply`], recording for every version it makes (or whose
    /// metadata it updates) the time and `by`, the caller's name.
    pub async fn apply_as(
        &self,
        definitions: &Definitions,
        file: &str,
        base_dir: &Path,
        dry_run: bool,
        by: &str,
    ) -> Result<(Plan, Catalog)> {
        let stamp = Stamp {
            at_micros: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX)),
            by: by.to_string(),
        };
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
                &stamp,
            )?;
        }
        // Transformations in dependency order, so that each records the versions
        // of those it reads after this apply; a new upstream version makes a new
        // version of every reader, named in the file or not.
        let mut transformation_versions = BTreeMap::new();
        for transformation in dependency_order(&validated.transformations) {
            let mut transformation = transformation.clone();
            transformation.inputs = reads(&transformation.sql)
                .into_iter()
                .filter_map(|r| transformation_versions.get(&r).map(|v| (r, *v)))
                .collect();
            let named = named(Kind::Transformation, &transformation.name);
            let version = self.diff(&transformation, named, &mut plan, &mut batch, &stamp)?;
            transformation_versions.insert(transformation.name.clone(), version);
        }
        for object in &validated.entities {
            self.diff(
                object,
                named(Kind::Entity, &object.name),
                &mut plan,
                &mut batch,
                &stamp,
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
            self.diff(&feature, named, &mut plan, &mut batch, &stamp)?;
        }
        for object in &validated.labels {
            self.diff(
                object,
                named(Kind::Label, &object.name),
                &mut plan,
                &mut batch,
                &stamp,
            )?;
        }
        for object in &validated.training_sets {
            let named = named(Kind::TrainingSet, &object.name);
            self.diff(object, named, &mut plan, &mut batch, &stamp)?;
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
                    errors.push(DefinitionError {
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
            Err(SqlError::Invalid(errors).into())
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
        stamp: &Stamp,
    ) -> Result<u32> {
        let name = object.name();
        let (version, change) = match self.latest_version(T::KIND, name)? {
            None => (1, Change::Created),
            Some(current) => {
                let stored = self.resolve_version::<T>(name, current)?.object;
                if stored == *object {
                    (current, Change::Unchanged)
                } else if stored.without_metadata() == object.without_metadata() {
                    (current, Change::MetadataUpdated)
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
        }
        let applied = match change {
            Change::Created | Change::NewVersion { .. } => {
                batch.put(REGISTRY, active_key(T::KIND, name), version.to_string());
                Some(Applied {
                    applied: Some(stamp.clone()),
                    metadata_updated: None,
                })
            }
            Change::MetadataUpdated => {
                let mut applied = self.applied(T::KIND, name, version)?;
                applied.metadata_updated = Some(stamp.clone());
                Some(applied)
            }
            Change::Unchanged => None,
        };
        if let Some(applied) = applied {
            let json = serde_json::to_vec(&applied).expect("a history serialises to JSON");
            batch.put(REGISTRY, applied_key(T::KIND, name, version), json);
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
