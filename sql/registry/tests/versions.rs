//! Registry versioning over a fixture file of `sql/tests/fixtures` (DESIGN.md
//! §4.6 and §4.7): re-applying is a no-op, a changed feature becomes version n+1
//! while version n stays addressable, and a rejected apply changes nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use freshet_backends::embedded::RocksStateStore;
use freshet_registry::{Change, Plan, Registry, RegistryError};
use freshet_sql::load::parse_definitions;
use freshet_sql::model::{Definitions, Feature, Kind, Source};

const FIXTURE: &str = "csv_inferred.yaml";

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn fixture() -> Definitions {
    let text = std::fs::read_to_string(fixtures_dir().join(FIXTURE)).expect("read fixture");
    parse_definitions(&text, FIXTURE).expect("fixture parses")
}

fn registry(dir: &Path) -> Registry {
    Registry::new(Arc::new(
        RocksStateStore::open(dir).expect("open RocksDB state store"),
    ))
}

async fn apply(registry: &Registry, definitions: &Definitions) -> Result<Plan, RegistryError> {
    registry
        .apply(definitions, FIXTURE, &fixtures_dir(), false)
        .await
        .map(|(plan, _)| plan)
}

/// `(kind, name, version, change)` of every planned change.
fn summary(plan: &Plan) -> Vec<(Kind, String, u32, Change)> {
    plan.changes
        .iter()
        .map(|c| (c.kind, c.name.clone(), c.version, c.change))
        .collect()
}

fn set_window(definitions: &mut Definitions, feature: &str, window: &str) {
    definitions
        .features
        .iter_mut()
        .find(|f| f.name == feature)
        .expect("feature in fixture")
        .window = Some(window.to_string());
}

#[tokio::test]
async fn reapply_is_unchanged_and_a_changed_window_is_a_new_version() {
    let state = tempfile::tempdir().unwrap();
    let registry = registry(state.path());
    let definitions = fixture();

    let first = apply(&registry, &definitions).await.expect("first apply");
    assert!(first.changes.iter().all(|c| c.change == Change::Created));
    assert!(first.changes.iter().all(|c| c.version == 1));
    assert_eq!(first.changes.len(), 6, "{first:?}");

    // The same file again: every object unchanged, still version 1 (the file
    // source's URI, made absolute when stored, compares equal).
    let again = apply(&registry, &definitions).await.expect("second apply");
    assert_eq!(again.changes.len(), first.changes.len());
    for change in &again.changes {
        assert_eq!(change.change, Change::Unchanged, "{change:?}");
        assert_eq!(change.version, 1, "{change:?}");
    }
    let stored_items = registry.resolve::<Source>("items").unwrap().object;
    let uri = &stored_items.file.as_ref().unwrap().uri;
    assert!(
        uri.starts_with("file:///") && uri.ends_with("/data/items.csv"),
        "stored URI is absolute: {uri}"
    );

    // Change one feature's window: exactly that feature becomes v2.
    let mut changed = definitions.clone();
    set_window(&mut changed, "user_spend_7d", "14d");
    let plan = apply(&registry, &changed)
        .await
        .expect("apply changed window");
    let new_versions: Vec<_> = summary(&plan)
        .into_iter()
        .filter(|(_, _, _, change)| *change != Change::Unchanged)
        .collect();
    assert_eq!(
        new_versions,
        vec![(
            Kind::Feature,
            "user_spend_7d".to_string(),
            2,
            Change::NewVersion { previous: 1 }
        )]
    );
    assert!(plan
        .changes
        .iter()
        .filter(|c| c.name != "user_spend_7d")
        .all(|c| c.change == Change::Unchanged && c.version == 1));

    // v1 is immutable and still addressable; the bare name is the new version.
    let v1 = registry.resolve::<Feature>("user_spend_7d@v1").unwrap();
    assert_eq!(v1.version, 1);
    assert_eq!(v1.object.window.as_deref(), Some("7d"));
    // As written, plus the version of the transformation it reads.
    let mut written = definitions
        .features
        .iter()
        .find(|f| f.name == "user_spend_7d")
        .unwrap()
        .clone();
    written.inputs = [("purchases_enriched".to_string(), 1)].into();
    assert_eq!(v1.object, written);
    let active = registry.resolve::<Feature>("user_spend_7d").unwrap();
    assert_eq!(active.version, 2);
    assert_eq!(active.object.window.as_deref(), Some("14d"));
    assert_eq!(
        registry.resolve::<Feature>("user_spend_7d@v2").unwrap(),
        active
    );
    assert_eq!(
        registry.versions(Kind::Feature, "user_spend_7d").unwrap(),
        vec![1, 2]
    );
    assert_eq!(
        registry
            .latest_version(Kind::Feature, "user_last_category")
            .unwrap(),
        Some(1)
    );
    let missing = registry
        .resolve::<Feature>("user_spend_7d@v3")
        .unwrap_err()
        .to_string();
    assert_eq!(
        missing,
        "feature 'user_spend_7d@v3' not found (versions: v1, v2)"
    );

    // Going back to the v1 definition is a change too: it becomes v3, never v1 again.
    let plan = apply(&registry, &definitions).await.expect("apply v1 text");
    let back = plan
        .changes
        .iter()
        .find(|c| c.name == "user_spend_7d")
        .unwrap();
    assert_eq!(back.version, 3);
    assert_eq!(back.change, Change::NewVersion { previous: 2 });
    assert_eq!(
        registry.resolve::<Feature>("user_spend_7d@v2").unwrap(),
        active,
        "v2 did not change"
    );
}

#[tokio::test]
async fn a_file_naming_some_objects_leaves_the_others_active() {
    let state = tempfile::tempdir().unwrap();
    let registry = registry(state.path());
    apply(&registry, &fixture()).await.expect("first apply");

    // A second file with only a new feature over a transformation applied before.
    let text = "features:\n  - { name: user_avg_price_30d, entity: user, source: purchases_enriched, aggregate: avg(price), window: 30d }\n";
    let extra = parse_definitions(text, "extra.yaml").unwrap();
    let (plan, catalog) = registry
        .apply(&extra, "extra.yaml", &fixtures_dir(), false)
        .await
        .expect("feature over the registry's tables");
    assert_eq!(
        summary(&plan),
        vec![(
            Kind::Feature,
            "user_avg_price_30d".to_string(),
            1,
            Change::Created
        )]
    );
    assert!(catalog.relations.contains_key("purchases_enriched"));
    let active = registry.latest_definitions().unwrap();
    assert_eq!(active.features.len(), 3);
    assert_eq!(active.sources.len(), 2);
}

#[tokio::test]
async fn a_rejected_or_dry_run_apply_changes_nothing() {
    let state = tempfile::tempdir().unwrap();
    let registry = registry(state.path());
    let definitions = fixture();
    apply(&registry, &definitions).await.expect("first apply");
    let before = registry.latest_definitions().unwrap();
    let versions_before = registry.versions(Kind::Feature, "user_spend_7d").unwrap();

    // One valid change and one invalid one in the same file: neither is stored.
    let mut invalid = definitions.clone();
    set_window(&mut invalid, "user_spend_7d", "14d");
    set_window(&mut invalid, "user_last_category", "0d");
    let error = apply(&registry, &invalid).await.unwrap_err().to_string();
    assert_eq!(
        error,
        "1 invalid definition(s):\n  - csv_inferred.yaml: feature 'user_last_category', field 'window': duration '0d' must be greater than zero"
    );
    assert_eq!(registry.latest_definitions().unwrap(), before);
    assert_eq!(
        registry.versions(Kind::Feature, "user_spend_7d").unwrap(),
        versions_before
    );
    assert_eq!(
        registry
            .resolve::<Feature>("user_spend_7d")
            .unwrap()
            .version,
        1
    );

    // A file that breaks an object it does not name (removing a column the stored
    // transformation reads) is rejected as a whole too.
    let mut breaking = Definitions::default();
    let mut purchases = definitions
        .sources
        .iter()
        .find(|s| s.name == "purchases")
        .unwrap()
        .clone();
    purchases
        .schema
        .as_mut()
        .unwrap()
        .columns
        .retain(|(column, _)| column != "amount");
    breaking.sources.push(purchases);
    let error = apply(&registry, &breaking).await.unwrap_err().to_string();
    assert!(
        error.contains("transformation 'purchases_enriched', field 'sql'"),
        "{error}"
    );
    assert_eq!(registry.latest_definitions().unwrap(), before);

    // A dry run reports the new version but stores nothing.
    let mut changed = definitions.clone();
    set_window(&mut changed, "user_spend_7d", "14d");
    let (plan, _) = registry
        .apply(&changed, FIXTURE, &fixtures_dir(), true)
        .await
        .expect("dry run");
    let feature = plan
        .changes
        .iter()
        .find(|c| c.name == "user_spend_7d")
        .unwrap();
    assert_eq!(feature.version, 2);
    assert_eq!(feature.change, Change::NewVersion { previous: 1 });
    assert_eq!(registry.latest_definitions().unwrap(), before);
    assert_eq!(
        registry.versions(Kind::Feature, "user_spend_7d").unwrap(),
        vec![1]
    );
}

#[tokio::test]
async fn versions_survive_reopening_the_store() {
    let state = tempfile::tempdir().unwrap();
    let definitions = fixture();
    let mut changed = definitions.clone();
    set_window(&mut changed, "user_spend_7d", "14d");
    {
        let registry = registry(state.path());
        apply(&registry, &definitions).await.unwrap();
        apply(&registry, &changed).await.unwrap();
    }
    let registry = registry(state.path());
    assert_eq!(
        registry
            .resolve::<Feature>("user_spend_7d")
            .unwrap()
            .version,
        2
    );
    assert_eq!(
        registry
            .resolve::<Feature>("user_spend_7d@v1")
            .unwrap()
            .object
            .window
            .as_deref(),
        Some("7d")
    );
    let plan = apply(&registry, &changed).await.unwrap();
    assert!(plan.changes.iter().all(|c| c.change == Change::Unchanged));
}

#[tokio::test]
async fn metadata_alone_is_updated_in_place_and_with_a_real_change_makes_a_version() {
    let state = tempfile::tempdir().unwrap();
    let registry = registry(state.path());
    let definitions = fixture();
    apply(&registry, &definitions).await.expect("first apply");

    // A new description, owner and tags: the same version, updated in place.
    let mut described = definitions.clone();
    let feature = described
        .features
        .iter_mut()
        .find(|f| f.name == "user_spend_7d")
        .expect("feature in fixture");
    feature.description = Some("Spend over a week".into());
    feature.owner = Some("growth".into());
    feature.tags = vec!["revenue".into()];
    let before = now_micros();
    let (plan, _) = registry
        .apply_as(&described, FIXTURE, &fixtures_dir(), false, "ana@laptop")
        .await
        .expect("metadata apply");
    let after = now_micros();
    let moved: Vec<_> = summary(&plan)
        .into_iter()
        .filter(|(_, _, _, change)| *change != Change::Unchanged)
        .collect();
    assert_eq!(
        moved,
        vec![(
            Kind::Feature,
            "user_spend_7d".to_string(),
            1,
            Change::MetadataUpdated
        )]
    );
    assert_eq!(
        registry.versions(Kind::Feature, "user_spend_7d").unwrap(),
        [1]
    );
    let stored = registry.resolve::<Feature>("user_spend_7d@v1").unwrap();
    assert_eq!(stored.object.owner.as_deref(), Some("growth"));
    assert_eq!(stored.object.tags, ["revenue"]);
    assert_eq!(
        stored.object.description.as_deref(),
        Some("Spend over a week")
    );
    // The history: made by the first (unnamed) apply, metadata by ana.
    let history = registry.applied(Kind::Feature, "user_spend_7d", 1).unwrap();
    let made = history.applied.expect("v1's apply recorded");
    assert_eq!(made.by, "");
    assert!(made.at_micros <= before, "{made:?} before {before}");
    let updated = history.metadata_updated.expect("metadata update recorded");
    assert_eq!(updated.by, "ana@laptop");
    assert!((before..=after).contains(&updated.at_micros), "{updated:?}");
    // Applied again, it is unchanged.
    let again = apply(&registry, &described).await.expect("reapply");
    assert!(again.changes.iter().all(|c| c.change == Change::Unchanged));

    // Metadata with a window change: a new version carrying both; v1 keeps its
    // metadata.
    let mut changed = described.clone();
    set_window(&mut changed, "user_spend_7d", "14d");
    changed
        .features
        .iter_mut()
        .find(|f| f.name == "user_spend_7d")
        .unwrap()
        .owner = Some("finance".into());
    let (plan, _) = registry
        .apply_as(&changed, FIXTURE, &fixtures_dir(), false, "bo")
        .await
        .expect("real change");
    let feature = plan
        .changes
        .iter()
        .find(|c| c.name == "user_spend_7d")
        .unwrap();
    assert_eq!(
        (feature.version, feature.change),
        (2, Change::NewVersion { previous: 1 })
    );
    let v2 = registry.resolve::<Feature>("user_spend_7d").unwrap();
    assert_eq!(
        (v2.version, v2.object.owner.as_deref()),
        (2, Some("finance"))
    );
    let v1 = registry.resolve::<Feature>("user_spend_7d@v1").unwrap();
    assert_eq!(v1.object.owner.as_deref(), Some("growth"));
    let v2_history = registry.applied(Kind::Feature, "user_spend_7d", 2).unwrap();
    assert_eq!(v2_history.applied.map(|s| s.by).as_deref(), Some("bo"));
    assert_eq!(v2_history.metadata_updated, None);
    let v1_history = registry.applied(Kind::Feature, "user_spend_7d", 1).unwrap();
    assert_eq!(
        v1_history.metadata_updated.map(|s| s.by).as_deref(),
        Some("ana@laptop")
    );
}

/// Now, in µs since the Unix epoch, read from the system clock.
fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}
