//! Transformation checks: one SELECT that DataFusion parses and plans against the
//! tables it reads, in dependency order, with no cycles. Planning gives each
//! transformation's output columns.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::catalog::MemTable;
use datafusion::error::DataFusionError;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::{DFParser, Statement};
use datafusion::sql::resolve::resolve_table_references;

use super::catalog::{Catalog, Relation, RelationKind};
use super::problems::Problems;
use crate::model::{Kind, Transformation};
use crate::streaming::{keyword_position, split, StreamPlan};
use crate::types::{ColumnSchema, ColumnType};

/// A transformation that parsed, with the tables it reads.
struct Parsed<'a> {
    transformation: &'a Transformation,
    statement: Statement,
    reads: BTreeSet<String>,
}

/// Checks every transformation, adding each valid one to `catalog`.
pub async fn check_transformations(
    transformations: &[Transformation],
    catalog: &mut Catalog,
    problems: &mut Problems,
) {
    let mut parsed = BTreeMap::new();
    for transformation in transformations {
        if let Some(ok) = parse(transformation, problems) {
            parsed.insert(transformation.name.clone(), ok);
        }
    }
    let names: BTreeSet<String> = transformations.iter().map(|t| t.name.clone()).collect();
    for (name, item) in &parsed {
        for table in &item.reads {
            if !catalog.relations.contains_key(table) && !names.contains(table) {
                let known: Vec<&str> = catalog
                    .relations
                    .keys()
                    .chain(names.iter())
                    .map(String::as_str)
                    .filter(|known| *known != name.as_str())
                    .collect();
                problems.add(
                    Kind::Transformation,
                    name,
                    "sql",
                    format!(
                        "reads unknown table '{table}' (known: {})",
                        known.join(", ")
                    ),
                );
            }
        }
    }

    let context = planning_context(catalog);
    let mut pending: BTreeMap<String, Parsed> = parsed;
    loop {
        let ready: Vec<String> = pending
            .iter()
            .filter(|(_, item)| item.reads.iter().all(|table| !pending.contains_key(table)))
            .map(|(name, _)| name.clone())
            .collect();
        if ready.is_empty() {
            break;
        }
        for name in ready {
            let item = pending.remove(&name).expect("ready item is pending");
            if !item
                .reads
                .iter()
                .all(|table| catalog.relations.contains_key(table))
            {
                continue;
            }
            if let Some(relation) = plan(&context, &item, catalog, problems).await {
                register(&context, &name, &relation.schema);
                catalog.relations.insert(name, relation);
            }
        }
    }
    for name in pending.keys() {
        problems.add(
            Kind::Transformation,
            name,
            "sql",
            "transformations read each other in a cycle; a transformation can only read tables defined without it",
        );
    }
}

fn parse<'a>(transformation: &'a Transformation, problems: &mut Problems) -> Option<Parsed<'a>> {
    let name = &transformation.name;
    let mut statements = match DFParser::parse_sql(&transformation.sql) {
        Ok(statements) => statements,
        Err(error) => {
            let message = error.strip_backtrace();
            problems.add_at(
                Kind::Transformation,
                name,
                "sql",
                parser_position(&message),
                parser_message(&message),
            );
            return None;
        }
    };
    if statements.len() != 1 {
        problems.add(
            Kind::Transformation,
            name,
            "sql",
            format!(
                "holds {} statements; a transformation is exactly one SELECT",
                statements.len()
            ),
        );
        return None;
    }
    let statement = statements.pop_front().expect("one statement");
    let is_query = matches!(&statement, Statement::Statement(inner) if matches!(**inner, datafusion::sql::sqlparser::ast::Statement::Query(_)));
    if !is_query {
        problems.add(
            Kind::Transformation,
            name,
            "sql",
            "is not a query; a transformation is exactly one SELECT",
        );
        return None;
    }
    let reads = match resolve_table_references(&statement, true) {
        Ok((tables, _)) => tables.iter().map(|t| t.table().to_string()).collect(),
        Err(error) => {
            problems.add(Kind::Transformation, name, "sql", error.strip_backtrace());
            return None;
        }
    };
    Some(Parsed {
        transformation,
        statement,
        reads,
    })
}

/// Finds `Line: L, Column: C` in a parser message.
fn parser_position(message: &str) -> Option<(u64, u64)> {
    let at = message.rfind("Line: ")?;
    let rest = &message[at + "Line: ".len()..];
    let (line, rest) = rest.split_once(", Column: ")?;
    let column: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    Some((line.trim().parse().ok()?, column.parse().ok()?))
}

/// The parser's own words, without the `SQL error: ParserError("..")` wrapping and
/// the position (reported separately).
fn parser_message(message: &str) -> String {
    let inner = message
        .strip_prefix("SQL error: ParserError(\"")
        .and_then(|rest| rest.strip_suffix("\")"))
        .unwrap_or(message);
    let without_position = inner.rfind(" at Line: ").map_or(inner, |at| &inner[..at]);
    format!("SQL syntax error: {without_position}")
}

fn planning_context(catalog: &Catalog) -> SessionContext {
    let config = SessionConfig::new().set_bool("datafusion.sql_parser.collect_spans", true);
    let context = SessionContext::new_with_config(config);
    for (name, relation) in &catalog.relations {
        register(&context, name, &relation.schema);
    }
    context
}

fn register(context: &SessionContext, name: &str, schema: &ColumnSchema) {
    let table = MemTable::try_new(Arc::new(schema.to_arrow()), vec![vec![]])
        .expect("an empty table matches its own schema");
    context
        .register_table(name, Arc::new(table))
        .expect("registering a table in a fresh in-memory catalog");
}

async fn plan(
    context: &SessionContext,
    item: &Parsed<'_>,
    catalog: &Catalog,
    problems: &mut Problems,
) -> Option<Relation> {
    let name = &item.transformation.name;
    let plan = match context
        .state()
        .statement_to_plan(item.statement.clone())
        .await
    {
        Ok(plan) => plan,
        Err(error) => {
            let (position, message) = located(&error);
            problems.add_at(Kind::Transformation, name, "sql", position, message);
            return None;
        }
    };
    let kinds = catalog
        .relations
        .iter()
        .map(|(name, relation)| (name.clone(), relation.kind))
        .collect();
    let kind = match split(&plan, &kinds) {
        Ok(StreamPlan::Stateless { .. }) => RelationKind::Transformation,
        Ok(StreamPlan::View(_)) => RelationKind::View,
        Ok(StreamPlan::Table) => RelationKind::File,
        Err(rejection) => {
            let position = rejection
                .keywords
                .iter()
                .find_map(|keyword| keyword_position(&item.transformation.sql, keyword));
            problems.add_at(
                Kind::Transformation,
                name,
                "sql",
                position,
                rejection.message,
            );
            return None;
        }
    };
    let (schema, unsupported) = ColumnSchema::from_arrow(plan.schema().as_arrow());
    if !unsupported.is_empty() {
        problems.add(
            Kind::Transformation,
            name,
            "sql",
            format!(
                "outputs columns of types Freshet cannot store: {}; cast them",
                unsupported.join(", ")
            ),
        );
        return None;
    }
    let event_time = match &item.transformation.event_time {
        Some(_) if kind == RelationKind::View => {
            problems.add(
                Kind::Transformation,
                name,
                "event_time",
                "a GROUP BY view is a keyed table kept current, with no event-time column; remove event_time",
            );
            None
        }
        Some(column) => {
            match schema.get(column) {
                Some(ColumnType::Timestamp) => Some(column.clone()),
                Some(other) => {
                    problems.add(
                    Kind::Transformation,
                    name,
                    "event_time",
                    format!("column '{column}' is {other}; the event-time column must be a timestamp"),
                );
                    None
                }
                None => {
                    problems.add(
                        Kind::Transformation,
                        name,
                        "event_time",
                        format!("the query outputs no column '{column}'"),
                    );
                    None
                }
            }
        }
        None if kind == RelationKind::View => None,
        None => item
            .reads
            .iter()
            .filter_map(|table| catalog.relations.get(table))
            .filter(|relation| relation.kind != RelationKind::File)
            .filter_map(|relation| relation.event_time.clone())
            .find(|column| schema.get(column) == Some(ColumnType::Timestamp)),
    };
    Some(Relation {
        kind,
        schema,
        event_time,
    })
}

/// DataFusion's message and, when it knows one, the SQL position of the error.
fn located(error: &DataFusionError) -> (Option<(u64, u64)>, String) {
    let position = error
        .diagnostic()
        .and_then(|diagnostic| diagnostic.span)
        .map(|span| (span.start.line, span.start.column));
    (position, error.strip_backtrace().replace('\n', " "))
}
