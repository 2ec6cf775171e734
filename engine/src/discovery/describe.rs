//! [`describe`]: every version of one feature with its definition, state and
//! upstream lineage, and the training sets downstream of it.

use std::collections::BTreeSet;

use freshet_registry::{Applied, Registry, RegistryError};
use freshet_sql::lineage::reads;
use freshet_sql::model::{Feature, Kind, TrainingSet, Transformation};
use freshet_sql::reference::VersionRef;

use super::state_of;
use crate::catalog::VersionStatus;
use crate::{EngineError, Result};

/// A table a feature version is computed from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Upstream {
    /// `source` or `transformation`.
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// The version read: the one a transformation's dependants recorded,
    /// or a source's newest.
    pub version: u32,
}

/// One version of a feature.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionDetail {
    /// The version.
    pub version: u32,
    /// Its state (`ACTIVE`, `READY`, `RETIRED`, ...; `UNKNOWN` before the
    /// engine reports on it).
    pub state: String,
    /// Its definition as applied.
    pub definition: Feature,
    /// Every source and transformation it reads, directly or through
    /// transformations, by kind and name.
    pub upstream: Vec<Upstream>,
    /// When and by whom it was applied, and its metadata last changed.
    pub applied: Applied,
}

/// Everything the registry knows of one feature.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureDetail {
    /// The feature's name.
    pub name: String,
    /// Every version, oldest first.
    pub versions: Vec<VersionDetail>,
    /// The training sets (at their newest version, `name@vN`) that read it.
    pub training_sets: Vec<String>,
}

/// Describes the feature `name` (a bare name; every version is described);
/// NOT_FOUND when the registry has no such feature.
pub fn describe(
    registry: &Registry,
    statuses: &[VersionStatus],
    name: &str,
) -> Result<FeatureDetail> {
    let numbers = registry.versions(Kind::Feature, name)?;
    if numbers.is_empty() {
        return Err(EngineError::Registry(RegistryError::NotFound {
            kind: "feature",
            reference: name.to_string(),
            hint: String::new(),
        }));
    }
    let mut versions = Vec::with_capacity(numbers.len());
    for version in numbers {
        let definition = registry.resolve_version::<Feature>(name, version)?.object;
        versions.push(VersionDetail {
            version,
            state: state_of(statuses, name, version),
            upstream: upstream(registry, &definition)?,
            applied: registry.applied(Kind::Feature, name, version)?,
            definition,
        });
    }
    let training_sets = registry
        .latest_versions::<TrainingSet>()?
        .into_iter()
        .filter(|set| set.object.features.iter().any(|f| names(f, name)))
        .map(|set| format!("{}@v{}", set.object.name, set.version))
        .collect();
    Ok(FeatureDetail {
        name: name.to_string(),
        versions,
        training_sets,
    })
}

/// Whether the feature reference `reference` (`name` or `name@vN`) names the
/// feature `name`.
fn names(reference: &str, name: &str) -> bool {
    VersionRef::parse(reference).is_ok_and(|parsed| parsed.name == name)
}

/// The sources and transformations `feature` reads, following each
/// transformation's SQL upstream; a transformation at the version its reader
/// recorded, a source at its newest version.
pub fn upstream(registry: &Registry, feature: &Feature) -> Result<Vec<Upstream>> {
    let mut found = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut pending = vec![(
        feature.source.clone(),
        feature.inputs.get(&feature.source).copied(),
    )];
    while let Some((table, recorded)) = pending.pop() {
        if !seen.insert(table.clone()) {
            continue;
        }
        let transformation = match recorded {
            Some(version) => Some(version),
            None => registry.latest_version(Kind::Transformation, &table)?,
        };
        match transformation {
            Some(version) => {
                let read = registry.resolve_version::<Transformation>(&table, version)?;
                for input in reads(&read.object.sql) {
                    let version = read.object.inputs.get(&input).copied();
                    pending.push((input, version));
                }
                found.insert(Upstream {
                    kind: "transformation",
                    name: table,
                    version,
                });
            }
            None => {
                if let Some(version) = registry.latest_version(Kind::Source, &table)? {
                    found.insert(Upstream {
                        kind: "source",
                        name: table,
                        version,
                    });
                }
            }
        }
    }
    Ok(found.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::names;

    #[test]
    fn references_name_a_feature_bare_or_with_a_version() {
        assert!(names("spend", "spend"));
        assert!(names("spend@v2", "spend"));
        assert!(!names("spend_7d", "spend"));
        assert!(!names("spend@vx", "spend"));
    }
}
