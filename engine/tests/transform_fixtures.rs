//! SQL transformation fixtures: every folder under `tests/transform_fixtures/`
//! (except `data/`, which holds files the cases share) is one case, run through
//! validation, the pipeline and, for GROUP BY views, the view operator, and its
//! output compared with the case's `expected.txt`, written by hand from the SQL.
//!
//! A case folder holds:
//!
//! * `definitions.yaml`: one stream source (with its schema and event time),
//!   optional file sources (`file://` URIs are relative to the case folder; shared
//!   files are `file://../data/NAME`) and transformations. Its first line names
//!   the transformation whose output is checked: `# output: NAME`.
//! * `events.jsonl`: the stream source's events, one JSON object per line, read
//!   with the source's schema (timestamps as RFC 3339 strings; an absent field is
//!   NULL).
//! * `expected.txt`: the expected output.
//!
//! The output is a header line of the column names joined by ` | `, then one line
//! per row, its cells joined by ` | `, the row lines sorted as text. Cells print
//! NULL as `NULL`, integers as integers, floats with Rust's `{}` for `f64` (`12.5`,
//! `3`, `0.1`), strings as they are, booleans as `true`/`false`, and timestamps as
//! RFC 3339 in UTC with `Z` (`2026-11-21T10:00:00Z`; fractions of a second only
//! when present, as `.250`).
//!
//! * A stateless transformation runs on all the events as one micro-batch; the
//!   rows it yields are printed.
//! * A GROUP BY view is fed in two micro-batches, the first half of the event
//!   lines (rounded down) and then the rest, its state committed to a RocksDB
//!   state store in between, so its incremental maintenance is exercised. Its
//!   final rows are printed: one per group, the view's columns in SELECT order.
//!
//! Definitions that validation must reject are `error_*` fixtures of the sql
//! crate (`sql/tests/fixtures/`), not cases here: every case here applies. The
//! case folder's path, where a message shows it, is written `<case>`.
//!
//! `FRESHET_BLESS=1 cargo test -p freshet-engine --test transform_fixtures`
//! rewrites the expected files instead of comparing; these files are the
//! independent reference, so read every change before committing it.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use arrow::json::ReaderBuilder;
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, SecondsFormat};
use freshet_backends::embedded::RocksStateStore;
use freshet_engine::operators::{Changes, ViewOperator};
use freshet_engine::pipeline::Pipeline;
use freshet_engine::value::{value_at, Value};
use freshet_sql::load::parse_definitions;
use freshet_sql::model::Definitions;
use freshet_sql::streaming::ViewPlan;
use freshet_sql::validate::{validate, Catalog};
use freshet_storage::state::StateStore;
use freshet_testkit::fixtures::{check_expected, redact};

/// The definitions file of a case, and its name in error messages.
const DEFINITIONS: &str = "definitions.yaml";
/// The stream source's events.
const EVENTS: &str = "events.jsonl";
/// The expected output.
const EXPECTED: &str = "expected.txt";
/// The folder of shared files, which is not a case.
const SHARED_DATA: &str = "data";
/// Stands for the case folder's path in error texts.
const CASE_PLACEHOLDER: &str = "<case>";
/// Joins the cells of a line.
const SEPARATOR: &str = " | ";
/// How a NULL cell prints.
const NULL: &str = "NULL";

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transform_fixtures")
}

/// The case folders (every folder but the shared data), sorted by name.
fn case_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_dir() && path.file_name().is_some_and(|name| name != SHARED_DATA))
        .collect();
    cases.sort();
    cases
}

fn case_name(case: &Path) -> String {
    case.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| case.display().to_string())
}

fn read(case: &Path, file: &str) -> Result<String, String> {
    std::fs::read_to_string(case.join(file)).map_err(|e| format!("cannot read {file}: {e}"))
}

/// The transformation named by the first line, `# output: NAME`.
fn output_name(definitions: &str) -> Result<String, String> {
    let first = definitions.lines().next().unwrap_or_default();
    first
        .strip_prefix('#')
        .and_then(|rest| rest.trim().strip_prefix("output:"))
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .ok_or_else(|| {
            format!("the first line of {DEFINITIONS} must be `# output: NAME`, not {first:?}")
        })
}

/// The one stream source: its name and the Arrow schema its events are read with.
fn stream_source(definitions: &Definitions) -> Result<(String, SchemaRef), String> {
    let streams: Vec<_> = definitions
        .sources
        .iter()
        .filter(|s| s.stream.is_some())
        .collect();
    let [source] = streams.as_slice() else {
        return Err(format!(
            "a case has exactly one stream source, not {}",
            streams.len()
        ));
    };
    let schema = source
        .schema
        .as_ref()
        .ok_or_else(|| format!("stream source '{}' declares no schema", source.name))?;
    Ok((source.name.clone(), Arc::new(schema.to_arrow())))
}

/// The non-empty lines of `events.jsonl`.
fn event_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect()
}

/// One micro-batch of the events on `lines`, read with the source's schema.
fn events_batch(schema: &SchemaRef, lines: &[&str]) -> Result<RecordBatch, String> {
    let problem = |e: arrow::error::ArrowError| format!("cannot read {EVENTS}: {e}");
    let text = lines.join("\n");
    let reader = ReaderBuilder::new(schema.clone())
        .build(Cursor::new(text.into_bytes()))
        .map_err(problem)?;
    let batches = reader.collect::<Result<Vec<_>, _>>().map_err(problem)?;
    concat_batches(schema, &batches).map_err(problem)
}

/// A column cast to the types [`value_at`] reads: integers of any width to
/// int64, floats to float64, timestamps of any unit and dates to microseconds
/// (keeping a time zone, so values stay UTC instants).
fn normalize(array: &ArrayRef) -> Result<ArrayRef, String> {
    let target = match array.data_type() {
        t if t.is_integer() => DataType::Int64,
        DataType::Float16 | DataType::Float32 => DataType::Float64,
        DataType::Timestamp(_, zone) => DataType::Timestamp(TimeUnit::Microsecond, zone.clone()),
        DataType::Date32 | DataType::Date64 => DataType::Timestamp(TimeUnit::Microsecond, None),
        _ => return Ok(array.clone()),
    };
    cast(array, &target).map_err(|e| format!("cannot cast a {} column: {e}", array.data_type()))
}

/// A value as the expected files print it.
fn show(value: Option<&Value>) -> String {
    match value {
        None => NULL.to_string(),
        Some(Value::Bool(v)) => v.to_string(),
        Some(Value::Int(v)) => v.to_string(),
        Some(Value::Float(v)) => v.to_string(),
        Some(Value::Str(v)) => v.clone(),
        Some(Value::Timestamp(micros)) => DateTime::from_timestamp_micros(*micros)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
            .unwrap_or_else(|| format!("<timestamp {micros}µs out of range>")),
    }
}

/// Every row of `batches`, as printed cells.
fn batch_rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    for batch in batches {
        let columns = batch
            .columns()
            .iter()
            .map(normalize)
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            let mut cells = Vec::with_capacity(columns.len());
            for column in &columns {
                let value = value_at(column, row).map_err(|e| e.to_string())?;
                cells.push(show(value.as_ref()));
            }
            rows.push(cells);
        }
    }
    Ok(rows)
}

/// The header, then the rows sorted as text.
fn render(header: &[String], rows: Vec<Vec<String>>) -> Result<String, String> {
    let mut lines = Vec::with_capacity(rows.len());
    for row in rows {
        if row.len() != header.len() {
            return Err(format!(
                "a row has {} cells for {} columns ({}): {}",
                row.len(),
                header.len(),
                header.join(", "),
                row.join(SEPARATOR)
            ));
        }
        lines.push(row.join(SEPARATOR));
    }
    lines.sort();
    let mut out = header.join(SEPARATOR);
    out.push('\n');
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}

/// Runs a stateless transformation on all the events as one micro-batch.
async fn run_stateless(
    pipeline: &mut Pipeline,
    output: &str,
    events: RecordBatch,
) -> Result<Vec<Vec<String>>, String> {
    let relations = pipeline.relations().join(", ");
    let mut outputs = pipeline
        .run(events)
        .await
        .map_err(|e| format!("running the micro-batch: {e}"))?;
    let batches = outputs.remove(output).ok_or_else(|| {
        format!("the pipeline yields no rows for '{output}' (it yields: {relations})")
    })?;
    batch_rows(&batches)
}

/// The group keys of a view's per-batch rows (its first `keys` columns), each
/// once, in the order first seen: the order in which
/// [`ViewOperator::apply_rows`] reports the groups that changed.
fn group_keys(batches: &[RecordBatch], keys: usize) -> Result<Vec<String>, String> {
    let mut seen: Vec<String> = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            let key = (0..keys)
                .map(|i| value_at(batch.column(i), row))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("reading a group key: {e}"))?;
            let text = format!("{key:?}");
            if !seen.contains(&text) {
                seen.push(text);
            }
        }
    }
    Ok(seen)
}

/// Feeds a GROUP BY view the events in two micro-batches, committing its state
/// after each, and returns its final rows.
async fn run_view(
    pipeline: &mut Pipeline,
    output: &str,
    plan: ViewPlan,
    schema: &SchemaRef,
    lines: &[&str],
) -> Result<Vec<Vec<String>>, String> {
    let state_dir = tempfile::tempdir().map_err(|e| format!("creating a state folder: {e}"))?;
    let store = RocksStateStore::open(state_dir.path())
        .map_err(|e| format!("opening the state store: {e}"))?;
    let keys = plan.keys;
    let mut view = ViewOperator::new(format!("{output}@v1"), output.to_string(), plan);
    // Group key → the group's latest output row.
    let mut latest: BTreeMap<String, Vec<Option<Value>>> = BTreeMap::new();
    let (first, second) = lines.split_at(lines.len() / 2);
    for (number, half) in [first, second].into_iter().enumerate() {
        let batch_name = format!("micro-batch {} of 2", number + 1);
        let events = events_batch(schema, half)?;
        let mut outputs = pipeline
            .run(events)
            .await
            .map_err(|e| format!("running {batch_name}: {e}"))?;
        let rows = outputs
            .remove(output)
            .ok_or_else(|| format!("{batch_name} yields no per-batch rows for view '{output}'"))?;
        let groups = group_keys(&rows, keys)?;
        let changed = view
            .apply_rows(&store, &rows)
            .map_err(|e| format!("folding {batch_name} into the view: {e}"))?;
        if changed.len() != groups.len() {
            return Err(format!(
                "{batch_name}: the view reports {} changed groups, but the per-batch rows hold {} group keys",
                changed.len(),
                groups.len()
            ));
        }
        for (group, columns) in groups.into_iter().zip(changed) {
            latest.insert(group, columns.into_iter().map(|(_, value)| value).collect());
        }
        let mut changes = Changes::default();
        view.flush(&mut changes);
        store
            .write(changes.state)
            .map_err(|e| format!("committing {batch_name}: {e}"))?;
    }
    Ok(latest
        .into_values()
        .map(|row| row.iter().map(|value| show(value.as_ref())).collect())
        .collect())
}

/// The column names of relation `name`, as validation planned them.
fn catalog_columns(catalog: &Catalog, name: &str) -> Result<Vec<String>, String> {
    let relation = catalog.relations.get(name).ok_or_else(|| {
        format!("'{name}' (named by `# output:`) is not a transformation of {DEFINITIONS}")
    })?;
    Ok(relation
        .schema
        .columns
        .iter()
        .map(|(column, _)| column.clone())
        .collect())
}

/// What a case produces: its output, or why it could not be produced.
async fn run_case(case: &Path) -> Result<String, String> {
    let text = read(case, DEFINITIONS)?;
    let definitions = parse_definitions(&text, DEFINITIONS).map_err(|e| e.to_string())?;
    let output = output_name(&text)?;
    let resolved = validate(&definitions, DEFINITIONS, case)
        .await
        .map_err(|e| {
            let error = redact(&e.to_string(), case, CASE_PLACEHOLDER);
            format!("validation failed:\n{error}")
        })?;
    let (definitions, catalog) = (resolved.definitions, resolved.catalog);
    let (source, schema) = stream_source(&definitions)?;
    let events = read(case, EVENTS)?;
    let lines = event_lines(&events);
    let mut pipeline = Pipeline::build(&definitions, &source)
        .await
        .map_err(|e| format!("building the pipeline of '{source}': {e}"))?;
    let (header, rows) = match pipeline.views().get(&output).cloned() {
        Some(plan) => {
            let header = plan
                .outputs
                .iter()
                .map(|column| column.name.clone())
                .collect::<Vec<_>>();
            (
                header,
                run_view(&mut pipeline, &output, plan, &schema, &lines).await?,
            )
        }
        None => {
            let header = catalog_columns(&catalog, &output)?;
            let batch = events_batch(&schema, &lines)?;
            (header, run_stateless(&mut pipeline, &output, batch).await?)
        }
    };
    render(&header, rows)
}

#[tokio::test]
async fn transform_fixtures() {
    let dir = cases_dir();
    let cases = case_dirs(&dir);
    assert!(!cases.is_empty(), "no cases in {}", dir.display());
    let mut failures = Vec::new();
    for case in &cases {
        let name = case_name(case);
        let actual = match run_case(case).await {
            Ok(actual) => actual,
            Err(problem) => {
                failures.push(format!("{name}: {problem}\n"));
                continue;
            }
        };
        if let Err(problem) = check_expected(&case.join(EXPECTED), &actual) {
            failures.push(format!("{name}: {problem}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} case(s) failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Every case folder holds its definitions, events and expected output; no case
/// is an `error_*` case (those are sql fixtures).
#[test]
fn cases_are_complete() {
    let dir = cases_dir();
    for case in case_dirs(&dir) {
        let name = case_name(&case);
        assert!(
            !name.starts_with("error_"),
            "case {name}: rejected definitions are sql fixtures (sql/tests/fixtures/{name}.yaml)"
        );
        for file in [DEFINITIONS, EVENTS, EXPECTED] {
            assert!(case.join(file).is_file(), "case {name} has no {file}");
        }
    }
}
