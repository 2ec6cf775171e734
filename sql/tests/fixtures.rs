//! Definitions fixtures: every `tests/fixtures/*.yaml` (and `*.json`) is parsed,
//! applied to a fresh registry on the real RocksDB state store, and the outcome
//! compared with `NAME.expected` beside it.
//!
//! * A fixture named `error_*` must be rejected; its expected file holds the exact
//!   error text a user sees.
//! * Any other fixture must apply; its expected file holds a dump of the plan, the
//!   registry's active versions, the stored file URIs and the catalog.
//!
//! The fixtures folder's absolute path is replaced by `<fixtures>` so expected files
//! do not depend on where the repository is checked out.
//!
//! `FRESHET_BLESS=1 cargo test -p freshet-sql --test fixtures` rewrites the
//! expected files; read every changed one before committing it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use freshet_backends::embedded::RocksStateStore;
use freshet_registry::{Change, Plan, Registry};
use freshet_sql::aggregate::Aggregate;
use freshet_sql::load::parse_definitions;
use freshet_sql::model::{Definitions, Entity, Feature, Kind, Label, Object, Source};
use freshet_sql::model::{TrainingSet, Transformation};
use freshet_sql::types::ColumnType;
use freshet_sql::validate::Catalog;
use freshet_testkit::fixtures::{check_expected, redact};

const FIXTURES_PLACEHOLDER: &str = "<fixtures>";

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The fixture files, sorted by name.
fn fixture_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| {
            path.is_file()
                && matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                )
        })
        .collect();
    files.sort();
    files
}

fn change_text(change: Change) -> String {
    match change {
        Change::Created => "created".to_string(),
        Change::NewVersion { previous } => format!("new_version (previous v{previous})"),
        Change::Unchanged => "unchanged".to_string(),
        Change::MetadataUpdated => "metadata_updated".to_string(),
    }
}

fn dump_plan(plan: &Plan, out: &mut String) {
    writeln!(out, "plan:").unwrap();
    for change in &plan.changes {
        writeln!(
            out,
            "  {} {}: v{} {}",
            change.kind.name(),
            change.name,
            change.version,
            change_text(change.change)
        )
        .unwrap();
    }
}

/// One line per active object, checked against `registry.resolve`.
fn dump_active_of<T: Object>(registry: &Registry, objects: &[T], out: &mut String) {
    for object in objects {
        let name = object.name();
        let active = registry
            .latest_version(T::KIND, name)
            .expect("read active version")
            .unwrap_or_else(|| {
                panic!(
                    "{} '{name}' listed as active has no version",
                    T::KIND.name()
                )
            });
        let resolved = registry
            .resolve::<T>(name)
            .unwrap_or_else(|e| panic!("resolve {name}: {e}"));
        assert_eq!(resolved.version, active, "resolve({name}) version");
        assert!(
            resolved.object == *object,
            "resolve({name}) returns the active object"
        );
        let versions = registry.versions(T::KIND, name).expect("list versions");
        let versions: Vec<String> = versions.iter().map(|v| format!("v{v}")).collect();
        writeln!(
            out,
            "  {} {}: active v{active} (versions: {})",
            T::KIND.name(),
            name,
            versions.join(", ")
        )
        .unwrap();
    }
}

fn dump_active(registry: &Registry, out: &mut String) {
    let active: Definitions = registry.latest_definitions().expect("active definitions");
    writeln!(out, "active:").unwrap();
    dump_active_of::<Source>(registry, &active.sources, out);
    dump_active_of::<Transformation>(registry, &active.transformations, out);
    dump_active_of::<Entity>(registry, &active.entities, out);
    dump_active_of::<Feature>(registry, &active.features, out);
    dump_active_of::<Label>(registry, &active.labels, out);
    dump_active_of::<TrainingSet>(registry, &active.training_sets, out);
    let files: Vec<&Source> = active.sources.iter().filter(|s| s.file.is_some()).collect();
    if !files.is_empty() {
        writeln!(out, "stored file uris:").unwrap();
        for source in files {
            let file = source.file.as_ref().expect("file source");
            writeln!(out, "  {}: {}", source.name, file.uri).unwrap();
        }
    }
}

fn dump_catalog(catalog: &Catalog, out: &mut String) {
    writeln!(out, "catalog:").unwrap();
    for (name, relation) in &catalog.relations {
        let event_time = relation.event_time.as_deref().unwrap_or("(none)");
        writeln!(
            out,
            "  {name} ({:?}), event_time: {event_time}",
            relation.kind
        )
        .unwrap();
        for (column, column_type) in &relation.schema.columns {
            writeln!(out, "    {column}: {column_type}").unwrap();
        }
    }
}

/// Each feature's aggregate, window and value type (declared, or the type the
/// aggregate gives over its source column).
fn dump_features(features: &[Feature], catalog: &Catalog, out: &mut String) {
    if features.is_empty() {
        return;
    }
    writeln!(out, "features:").unwrap();
    for feature in features {
        let aggregate = Aggregate::parse(&feature.aggregate).expect("valid aggregate");
        let computed = match &aggregate.column {
            None => ColumnType::Int64,
            Some(column) => {
                let input = catalog.relations[&feature.source]
                    .schema
                    .get(column)
                    .expect("aggregated column");
                aggregate
                    .function
                    .output_type(input)
                    .expect("aggregate type")
            }
        };
        let value_type = match feature.value_type {
            Some(declared) => format!("{declared} (declared; aggregate gives {computed})"),
            None => computed.to_string(),
        };
        let default = match &feature.default {
            Some(default) => format!(", default {default}"),
            None => String::new(),
        };
        writeln!(
            out,
            "  {}: {}({}) of {} per {}, window {} -> {value_type}{default}",
            feature.name,
            aggregate.function,
            aggregate.column.as_deref().unwrap_or("*"),
            feature.source,
            feature.entity,
            feature.window.as_deref().unwrap_or("lifetime"),
        )
        .unwrap();
    }
}

/// What the fixture produces: `Ok(dump)` when it applied, `Err(error text)`.
async fn run_fixture(path: &Path, dir: &Path) -> Result<String, String> {
    let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(path).expect("read fixture");
    let definitions = parse_definitions(&text, &file_name).map_err(|e| e.to_string())?;
    let state_dir = tempfile::tempdir().expect("tempdir");
    let store = RocksStateStore::open(state_dir.path()).expect("open RocksDB state store");
    let registry = Registry::new(Arc::new(store));
    let (plan, catalog) = match registry.apply(&definitions, &file_name, dir, false).await {
        Ok(applied) => applied,
        Err(error) => {
            // A rejected apply must leave the registry empty.
            let after = registry.latest_definitions().expect("active definitions");
            assert_eq!(
                after,
                Definitions::default(),
                "{file_name}: a rejected apply stored something"
            );
            return Err(error.to_string());
        }
    };
    // Every object of the file is in the plan, in dependency order.
    let kinds: Vec<Kind> = plan.changes.iter().map(|c| c.kind).collect();
    let mut sorted = kinds.clone();
    sorted.sort();
    assert_eq!(kinds, sorted, "{file_name}: plan is in dependency order");
    let mut out = String::new();
    dump_plan(&plan, &mut out);
    dump_active(&registry, &mut out);
    dump_features(&definitions.features, &catalog, &mut out);
    dump_catalog(&catalog, &mut out);
    Ok(out)
}

#[tokio::test]
async fn definitions_fixtures() {
    let dir = fixtures_dir();
    let files = fixture_files(&dir);
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    let mut failures = Vec::new();
    for path in &files {
        let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
        let expect_error = file_name.starts_with("error_");
        let outcome = run_fixture(path, &dir).await;
        let actual = match (expect_error, outcome) {
            (true, Err(text)) => format!("{}\n", redact(&text, &dir, FIXTURES_PLACEHOLDER)),
            (false, Ok(dump)) => redact(&dump, &dir, FIXTURES_PLACEHOLDER),
            (true, Ok(dump)) => {
                failures.push(format!(
                    "{file_name}: expected an error, but it applied:\n{dump}"
                ));
                continue;
            }
            (false, Err(text)) => {
                failures.push(format!("{file_name}: expected to apply, but:\n{text}"));
                continue;
            }
        };
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if let Err(problem) = check_expected(&dir.join(format!("{stem}.expected")), &actual) {
            failures.push(format!("{file_name}: {problem}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixture(s) failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// Every expected file belongs to a fixture (a renamed fixture leaves none behind).
#[test]
fn no_orphan_expected_files() {
    let dir = fixtures_dir();
    let fixtures: Vec<String> = fixture_files(&dir)
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("expected") {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            assert!(
                fixtures.contains(&stem),
                "{stem}.expected has no fixture {stem}.yaml or {stem}.json"
            );
        }
    }
}
