//! Source checks: streams have a schema and a timestamp event-time column; files
//! point at something readable whose columns Freshet can use.

use std::path::Path;

use super::catalog::{Relation, RelationKind};
use super::problems::Problems;
use crate::duration::parse_duration;
use crate::files::{describe_read_error, format_from_extension, open_frame, session, FileLocation};
use crate::model::{FileFormat, Kind, Source};
use crate::types::{ColumnSchema, ColumnType};

/// Checks one source, rewriting a relative `file://` URI to an absolute one (relative
/// to `base_dir`) so the stored definition does not depend on where apply ran.
/// Returns its relation when it is valid enough to be referenced.
pub async fn check_source(
    source: &mut Source,
    base_dir: &Path,
    problems: &mut Problems,
) -> Option<Relation> {
    let name = source.name.clone();
    let problem = |problems: &mut Problems, field: &str, message: String| {
        problems.add(Kind::Source, &name, field, message)
    };
    if let Some(lateness) = &source.allowed_lateness {
        if let Err(message) = parse_duration(lateness) {
            problem(problems, "allowed_lateness", message);
        }
    }
    let relation = match (&source.stream, &mut source.file) {
        (Some(_), Some(_)) => {
            problem(
                problems,
                "stream",
                "a source is either a stream or a file, not both".into(),
            );
            return None;
        }
        (None, None) => {
            problem(
                problems,
                "stream",
                "a source needs `stream: {..}` or `file: { uri: .. }`".into(),
            );
            return None;
        }
        (Some(stream), None) => {
            if stream.partitions == 0 || stream.partitions > 1024 {
                problem(
                    problems,
                    "stream.partitions",
                    format!("{} partitions: use 1 to 1024", stream.partitions),
                );
            }
            let Some(schema) = source.schema.clone() else {
                problem(
                    problems,
                    "schema",
                    "a stream source must declare its schema".into(),
                );
                return None;
            };
            Relation {
                kind: RelationKind::Stream,
                schema,
                event_time: None,
            }
        }
        (None, Some(file)) => {
            let location = match FileLocation::parse(&file.uri, base_dir) {
                Ok(location) => location,
                Err(message) => {
                    problem(problems, "file.uri", message);
                    return None;
                }
            };
            let format = match file.format.or_else(|| format_from_extension(&file.uri)) {
                Some(format) => format,
                None => {
                    problem(
                        problems,
                        "file.format",
                        format!("cannot tell the format of '{}' from its extension; set format: parquet, csv or json", file.uri),
                    );
                    return None;
                }
            };
            file.uri = location.uri();
            let schema = match infer_schema(&location, format).await {
                Ok(inferred) => match &source.schema {
                    Some(declared) => {
                        check_declared_against_file(declared, &inferred, problems, &name)
                    }
                    None => inferred_columns(&inferred, problems, &name),
                },
                Err(message) => {
                    problem(problems, "file.uri", message);
                    return None;
                }
            };
            Relation {
                kind: RelationKind::File,
                schema,
                event_time: None,
            }
        }
    };
    let mut relation = relation;
    match &source.event_time {
        Some(column) => match relation.schema.get(column) {
            Some(ColumnType::Timestamp) => relation.event_time = Some(column.clone()),
            Some(other) => problem(
                problems,
                "event_time",
                format!("column '{column}' is {other}; the event-time column must be a timestamp"),
            ),
            None => problem(
                problems,
                "event_time",
                format!("column '{column}' is not in the schema"),
            ),
        },
        None if relation.kind == RelationKind::Stream => problem(
            problems,
            "event_time",
            "a stream source must name its event-time column".into(),
        ),
        None => {}
    }
    Some(relation)
}

async fn infer_schema(
    location: &FileLocation,
    format: FileFormat,
) -> Result<arrow::datatypes::Schema, String> {
    if let FileLocation::Local(path) = location {
        if !path.is_file() {
            return Err(format!("file {} does not exist", path.display()));
        }
    }
    let unreadable = |e: datafusion::error::DataFusionError| {
        format!(
            "cannot read {}: {}",
            location.table_path(),
            describe_read_error(&e)
        )
    };
    let ctx = session().map_err(unreadable)?;
    let frame = open_frame(&ctx, location, format).await;
    frame
        .map(|frame| frame.schema().as_arrow().clone())
        .map_err(unreadable)
}

fn inferred_columns(
    schema: &arrow::datatypes::Schema,
    problems: &mut Problems,
    name: &str,
) -> ColumnSchema {
    let (columns, unsupported) = ColumnSchema::from_arrow(schema);
    if !unsupported.is_empty() {
        problems.add(
            Kind::Source,
            name,
            "schema",
            format!(
                "the file has columns of types Freshet cannot use: {}; declare a schema with the columns you need",
                unsupported.join(", ")
            ),
        );
    }
    columns
}

fn check_declared_against_file(
    declared: &ColumnSchema,
    file_schema: &arrow::datatypes::Schema,
    problems: &mut Problems,
    name: &str,
) -> ColumnSchema {
    let (in_file, _) = ColumnSchema::from_arrow(file_schema);
    for (column, column_type) in &declared.columns {
        match in_file.get(column) {
            None => problems.add(
                Kind::Source,
                name,
                &format!("schema.{column}"),
                format!("the file has no column '{column}'"),
            ),
            Some(found)
                if found != *column_type && !(found.is_numeric() && column_type.is_numeric()) =>
            {
                problems.add(
                    Kind::Source,
                    name,
                    &format!("schema.{column}"),
                    format!("declared {column_type}, but the file holds {found}"),
                )
            }
            Some(_) => {}
        }
    }
    declared.clone()
}
