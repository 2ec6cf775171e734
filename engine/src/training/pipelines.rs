//! Which pipelines a training set's replay runs: every feature version is
//! computed over the transformation versions it was defined over (its recorded
//! `inputs`, followed upstream), as its lane computes it online, not over the
//! newest SQL. Feature versions whose transformation versions agree share one
//! pipeline; the first pipeline runs the newest versions of every
//! transformation, and also yields the label rows when a label reads a stream.

use std::collections::BTreeMap;
use std::sync::Arc;

use freshet_registry::{Registry, Versioned};
use freshet_sql::model::{Feature, Transformation};
use freshet_sql::resolved::Resolved;

use crate::catalog::{upstream, LatestSet};
use crate::Result;

/// Index of the pipeline over the newest transformation versions.
pub const LATEST: usize = 0;

/// One pipeline's definitions: the sources and entities of the latest set with
/// exactly its transformation versions, resolved.
#[derive(Debug, Clone)]
pub struct ReplayPipeline {
    /// The transformation versions it runs, by name.
    pub versions: BTreeMap<String, Versioned<Transformation>>,
    /// Its definitions (what [`crate::pipeline::Pipeline::build`] plans) and
    /// their relations.
    pub resolved: Arc<Resolved>,
}

impl ReplayPipeline {
    /// Whether a feature reading `needs` can run in this pipeline, which reads
    /// exactly its versions when `exact` (the latest one: every transformation is
    /// in it already) or may take more otherwise.
    fn fits(&self, needs: &BTreeMap<String, Versioned<Transformation>>, exact: bool) -> bool {
        needs.iter().all(|(name, t)| match self.versions.get(name) {
            Some(held) => held.version == t.version,
            None => !exact,
        })
    }
}

/// The pipelines for `features` (feature versions as the registry holds them)
/// and, for each feature, the index of the pipeline that computes it; the first
/// pipeline is always the latest set's.
///
/// Resolving a pipeline's definitions registers them with the latest set's lane
/// resolutions, so [`crate::catalog::FeatureCatalog::resolve_definition`] then
/// resolves each feature against its own transformation versions' relations.
pub async fn plan(
    registry: &Registry,
    active: &LatestSet,
    features: &[Feature],
) -> Result<(Vec<ReplayPipeline>, Vec<usize>)> {
    let latest: BTreeMap<String, Versioned<Transformation>> = registry
        .latest_versions::<Transformation>()?
        .into_iter()
        .map(|t| (t.object.name.clone(), t))
        .collect();
    let mut pipelines = vec![ReplayPipeline {
        versions: latest,
        resolved: active.resolved.clone(),
    }];
    let mut pipeline_of = Vec::with_capacity(features.len());
    for feature in features {
        let needs = upstream(registry, std::slice::from_ref(feature))?;
        let found = pipelines
            .iter()
            .enumerate()
            .position(|(index, p)| p.fits(&needs, index == LATEST));
        let index = match found {
            Some(index) => index,
            None => {
                pipelines.push(ReplayPipeline {
                    versions: BTreeMap::new(),
                    resolved: Arc::default(),
                });
                pipelines.len() - 1
            }
        };
        if index != LATEST {
            pipelines[index].versions.extend(needs);
        }
        pipeline_of.push(index);
    }
    for pipeline in pipelines.iter_mut().skip(1) {
        pipeline.resolved = active.lanes.resolve(active, &pipeline.versions).await?;
    }
    Ok((pipelines, pipeline_of))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use freshet_backends::embedded::RocksStateStore;
    use freshet_sql::load::parse_definitions;

    use super::*;

    const V1: &str = "sources:\n  - { name: clicks, stream: {}, schema: { user_id: int64, amount: float64, ts: timestamp }, event_time: ts }\n\
        transformations:\n  - { name: scaled, sql: 'SELECT user_id, amount * 1.0 AS a, ts FROM clicks' }\n\
        entities:\n  - { name: user, key: user_id }\n\
        features:\n  - { name: total, entity: user, source: scaled, aggregate: sum(a), window: 30d }\n  - { name: clicks_1d, entity: user, source: clicks, aggregate: count(*), window: 1d }\n";

    fn feature(registry: &Registry, reference: &str) -> Feature {
        registry.resolve::<Feature>(reference).unwrap().object
    }

    #[tokio::test]
    async fn each_feature_version_runs_over_its_own_transformation_versions() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::new(Arc::new(RocksStateStore::open(dir.path()).unwrap()));
        for text in [V1.to_string(), V1.replace("amount * 1.0", "amount * 2.0")] {
            let definitions = parse_definitions(&text, "defs.yaml").unwrap();
            registry
                .apply(&definitions, "defs.yaml", Path::new("/"), false)
                .await
                .unwrap();
        }
        let active = LatestSet::load(&registry).await.unwrap();
        let features: Vec<Feature> = ["total@v1", "total@v2", "clicks_1d", "total@v1"]
            .iter()
            .map(|r| feature(&registry, r))
            .collect();
        let (pipelines, pipeline_of) = plan(&registry, &active, &features).await.unwrap();
        // The newest SQL for v2 and the feature over the bare stream; the old SQL,
        // once, for both requests of v1.
        assert_eq!(pipeline_of, vec![1, LATEST, LATEST, 1]);
        assert_eq!(pipelines.len(), 2);
        let sql = |p: &ReplayPipeline| {
            p.resolved
                .definitions
                .transformations
                .iter()
                .map(|t| t.sql.clone())
                .collect::<Vec<_>>()
        };
        assert!(sql(&pipelines[LATEST])[0].contains("amount * 2.0"));
        assert!(sql(&pipelines[1])[0].contains("amount * 1.0"));
        assert_eq!(pipelines[1].versions["scaled"].version, 1);
    }
}
