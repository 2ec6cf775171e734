//! What of a planned transformation can run on an unbounded stream, and how: a
//! plain SELECT runs whole on each micro-batch; a GROUP BY splits into a per-batch
//! part (keys and aggregate arguments) and a keyed view the engine folds them into.
//! Anything else is refused, with the reason and the SQL keyword to point at.

use std::collections::BTreeMap;

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::JoinType;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};

use crate::aggregate::AggregateFunction;
use crate::validate::RelationKind;

/// How a transformation runs on its one input stream.
#[derive(Debug, Clone)]
pub enum StreamPlan {
    /// The whole plan runs on each micro-batch of `stream`.
    Stateless {
        /// The stream (a stream source or a stateless transformation) it reads.
        stream: String,
    },
    /// A GROUP BY, maintained incrementally as a table keyed by its group key.
    View(Box<ViewPlan>),
    /// Reads file tables only: a bounded table, recomputed when its files change.
    Table,
}

impl StreamPlan {
    /// The stream the transformation reads, if it reads one.
    pub fn stream(&self) -> Option<&str> {
        match self {
            StreamPlan::Stateless { stream } => Some(stream),
            StreamPlan::View(view) => Some(&view.stream),
            StreamPlan::Table => None,
        }
    }
}

/// A GROUP BY transformation, split for incremental maintenance.
#[derive(Debug, Clone)]
pub struct ViewPlan {
    /// The stream it reads.
    pub stream: String,
    /// The per-batch part: outputs the group keys (`__key0`, ...) then the
    /// aggregate arguments (`__arg0`, ..., one per aggregate that takes one).
    pub pre: LogicalPlan,
    /// How many group keys `pre` outputs.
    pub keys: usize,
    /// The aggregates, in the order of the GROUP BY's aggregate list.
    pub aggregates: Vec<ViewAggregate>,
    /// The view's output columns, in SELECT order.
    pub outputs: Vec<ViewOutput>,
}

/// One aggregate of a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewAggregate {
    /// The function.
    pub function: AggregateFunction,
    /// The column of `pre` holding its argument; `None` for `count(*)`.
    pub argument: Option<usize>,
}

/// One output column of a view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewOutput {
    /// The column name.
    pub name: String,
    /// What it shows.
    pub value: ViewValue,
}

/// Where a view's output column comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewValue {
    /// The i-th group key.
    Key(usize),
    /// The i-th aggregate's current value.
    Aggregate(usize),
}

/// Why a transformation cannot run on a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The SQL keywords the problem may sit at, first found wins, to locate it in
    /// the text.
    pub keywords: &'static [&'static str],
    /// The reason.
    pub message: String,
}

fn reject(keywords: &'static [&'static str], message: impl Into<String>) -> Rejection {
    Rejection {
        keywords,
        message: message.into(),
    }
}

/// Splits a planned transformation; `kinds` gives the kind of every table it may read
/// (a stateless transformation counts as a stream, a GROUP BY one as a view).
pub fn split(
    plan: &LogicalPlan,
    kinds: &BTreeMap<String, RelationKind>,
) -> Result<StreamPlan, Rejection> {
    let streams = streams_read(plan, kinds)?;
    let stream = match streams.as_slice() {
        [one] => one.clone(),
        [] => return Ok(StreamPlan::Table),
        many => {
            return Err(reject(
                &["JOIN", "UNION"],
                format!(
                    "reads {} streams ({}); joining two streams needs unbounded state and is not supported: join one stream with file tables",
                    many.len(),
                    many.join(", ")
                ),
            ))
        }
    };
    if streams_read_directly(plan, kinds) == 0 {
        return Err(reject(
            &["IN", "EXISTS", "SELECT"],
            format!("reads the stream '{stream}' only inside a subquery, which would emit the other tables' rows again on every micro-batch; join the stream instead"),
        ));
    }
    let (top, aggregate) = match plan {
        LogicalPlan::Projection(projection) => match projection.input.as_ref() {
            LogicalPlan::Aggregate(aggregate) => (Some(projection), Some(aggregate)),
            _ => (Some(projection), None),
        },
        LogicalPlan::Aggregate(aggregate) => (None, Some(aggregate)),
        _ => (None, None),
    };
    let Some(aggregate) = aggregate else {
        check_stateless(plan, kinds)?;
        return Ok(StreamPlan::Stateless { stream });
    };
    check_stateless(&aggregate.input, kinds)?;
    if aggregate.group_expr.is_empty() {
        return Err(reject(
            &["SELECT"],
            "aggregates without GROUP BY have no key to serve by; add GROUP BY, or use a feature for a per-entity aggregate",
        ));
    }
    let keys = aggregate.group_expr.len();
    let mut columns: Vec<Expr> = aggregate
        .group_expr
        .iter()
        .enumerate()
        .map(|(i, expr)| expr.clone().alias(format!("__key{i}")))
        .collect();
    let mut aggregates = Vec::new();
    for expr in &aggregate.aggr_expr {
        let call = match expr {
            Expr::Alias(alias) => alias.expr.as_ref(),
            other => other,
        };
        let Expr::AggregateFunction(call) = call else {
            return Err(reject(
                &["GROUP BY"],
                format!("'{expr}' is not an aggregate function call"),
            ));
        };
        let params = &call.params;
        if params.filter.is_some() || !params.order_by.is_empty() {
            return Err(reject(
                &["FILTER"],
                format!(
                    "'{expr}': FILTER and ORDER BY inside an aggregate are not supported in a view; filter in WHERE"
                ),
            ));
        }
        let function = view_function(call.func.name(), params.distinct).ok_or_else(|| {
            reject(
                &["GROUP BY"],
                format!(
                    "aggregate '{}' cannot be maintained incrementally in a view (supported: count, count(DISTINCT), sum, avg, min, max, first_value, last_value, stddev, var)",
                    call.func.name()
                ),
            )
        })?;
        let argument = match params.args.as_slice() {
            [] => None,
            [Expr::Literal(..)] if function == AggregateFunction::Count => None,
            [argument] => {
                columns.push(argument.clone().alias(format!("__arg{}", aggregates.len())));
                Some(columns.len() - 1)
            }
            _ => {
                return Err(reject(
                    &["GROUP BY"],
                    format!("'{expr}' takes more than one argument"),
                ))
            }
        };
        aggregates.push(ViewAggregate { function, argument });
    }
    let pre = LogicalPlanBuilder::from(aggregate.input.as_ref().clone())
        .project(columns)
        .and_then(|builder| builder.build())
        .map_err(|error| reject(&[], error.strip_backtrace()))?;
    let outputs = match top {
        None => aggregate
            .schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, field)| ViewOutput {
                name: field.name().clone(),
                value: value_at(i, keys),
            })
            .collect(),
        Some(projection) => {
            let mut outputs = Vec::new();
            for (expr, field) in projection.expr.iter().zip(projection.schema.fields()) {
                let mut column = expr;
                while let Expr::Alias(alias) = column {
                    column = alias.expr.as_ref();
                }
                let Expr::Column(column) = column else {
                    return Err(reject(
                        &["SELECT"],
                        format!("'{expr}' computes over an aggregate; a view outputs its group keys and aggregates as they are (compute further in a feature or a model)"),
                    ));
                };
                let index = aggregate
                    .schema
                    .index_of_column(column)
                    .map_err(|error| reject(&[], error.strip_backtrace()))?;
                outputs.push(ViewOutput {
                    name: field.name().clone(),
                    value: value_at(index, keys),
                });
            }
            outputs
        }
    };
    Ok(StreamPlan::View(Box::new(ViewPlan {
        stream,
        pre,
        keys,
        aggregates,
        outputs,
    })))
}

fn value_at(index: usize, keys: usize) -> ViewValue {
    if index < keys {
        ViewValue::Key(index)
    } else {
        ViewValue::Aggregate(index - keys)
    }
}

fn view_function(name: &str, distinct: bool) -> Option<AggregateFunction> {
    use AggregateFunction::*;
    Some(match (name, distinct) {
        ("count", false) => Count,
        ("count", true) => CountDistinct,
        ("sum", false) => Sum,
        ("avg", false) => Avg,
        ("min", _) => Min,
        ("max", _) => Max,
        ("first_value", false) => First,
        ("last_value", false) => Last,
        ("stddev" | "stddev_samp", false) => Stddev,
        ("var" | "var_samp" | "variance" | "var_sample", false) => Var,
        _ => return None,
    })
}

/// The streams (stream sources and stateless transformations) the plan reads, once
/// per read; refuses reads of views.
fn streams_read(
    plan: &LogicalPlan,
    kinds: &BTreeMap<String, RelationKind>,
) -> Result<Vec<String>, Rejection> {
    let mut streams = Vec::new();
    let mut problem = None;
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let table = scan.table_name.table().to_string();
            match kinds.get(&table) {
                Some(RelationKind::Stream | RelationKind::Transformation) => streams.push(table),
                Some(RelationKind::View) => {
                    problem = Some(reject(
                        &["FROM"],
                        format!("reads '{table}', a GROUP BY view: a view is a keyed table that changes in place, not a stream; read it from a feature"),
                    ));
                    return Ok(TreeNodeRecursion::Stop);
                }
                Some(RelationKind::File) | None => {}
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .map_err(|error| reject(&[], error.strip_backtrace()))?;
    match problem {
        Some(problem) => Err(problem),
        None => Ok(streams),
    }
}

/// How many stream scans the plan holds outside subquery expressions.
fn streams_read_directly(plan: &LogicalPlan, kinds: &BTreeMap<String, RelationKind>) -> usize {
    let mut count = 0;
    let _ = plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            if matches!(
                kinds.get(scan.table_name.table()),
                Some(RelationKind::Stream | RelationKind::Transformation)
            ) {
                count += 1;
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    count
}

fn reads_stream(plan: &LogicalPlan, kinds: &BTreeMap<String, RelationKind>) -> bool {
    streams_read(plan, kinds).is_ok_and(|streams| !streams.is_empty())
}

/// Checks that every operator of `plan` works row by row on a micro-batch.
fn check_stateless(
    plan: &LogicalPlan,
    kinds: &BTreeMap<String, RelationKind>,
) -> Result<(), Rejection> {
    let mut problem = None;
    plan.apply_with_subqueries(|node| {
        let found = match node {
            LogicalPlan::Projection(_)
            | LogicalPlan::Filter(_)
            | LogicalPlan::TableScan(_)
            | LogicalPlan::SubqueryAlias(_)
            | LogicalPlan::Subquery(_)
            | LogicalPlan::EmptyRelation(_)
            | LogicalPlan::Values(_) => None,
            LogicalPlan::Join(join) => {
                let left = reads_stream(&join.left, kinds);
                let right = reads_stream(&join.right, kinds);
                let preserved = match join.join_type {
                    JoinType::Inner => true,
                    JoinType::Left | JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark => {
                        left || !right
                    }
                    JoinType::Right
                    | JoinType::RightSemi
                    | JoinType::RightAnti
                    | JoinType::RightMark => right || !left,
                    JoinType::Full => !left && !right,
                };
                (!preserved).then(|| reject(
                    &["JOIN"],
                    format!("a {} JOIN with the stream on its non-preserved side would emit file rows again on every micro-batch; put the stream on the preserved side (stream LEFT JOIN file) or use an inner join", join.join_type.to_string().to_uppercase()),
                ))
            }
            LogicalPlan::Sort(_) => Some(reject(
                &["ORDER BY"],
                "ORDER BY cannot run on an unbounded stream: it would wait forever for the last row; features order by event time",
            )),
            LogicalPlan::Limit(_) => Some(reject(
                &["LIMIT"],
                "LIMIT/OFFSET cannot run on an unbounded stream: a stream has no first or last N rows",
            )),
            LogicalPlan::Window(_) => Some(reject(
                &["OVER"],
                "window functions (OVER) need the whole partition, which a stream never completes; use a feature with a `window:`",
            )),
            LogicalPlan::Distinct(_) => Some(reject(
                &["DISTINCT"],
                "DISTINCT over a stream needs every row ever seen; use GROUP BY for a view or count_distinct in a feature",
            )),
            LogicalPlan::Union(_) => Some(reject(
                &["UNION"],
                "UNION is not supported in a transformation; define one transformation per stream",
            )),
            LogicalPlan::Aggregate(_) => Some(reject(
                &["HAVING", "GROUP BY"],
                "an aggregation must be the last step of a transformation (SELECT keys, aggregates ... GROUP BY keys), with no HAVING and nothing above it",
            )),
            other => Some(reject(
                &[],
                format!("'{}' cannot run on an unbounded stream", other.display()),
            )),
        };
        if found.is_some() {
            problem = found;
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .map_err(|error| reject(&[], error.strip_backtrace()))?;
    match problem {
        Some(problem) => Err(problem),
        None => Ok(()),
    }
}

/// The (line, column), both from 1, of the first occurrence of `keyword` (words
/// separated by any whitespace, any case) in `sql`.
pub fn keyword_position(sql: &str, keyword: &str) -> Option<(u64, u64)> {
    let words: Vec<String> = keyword
        .split_whitespace()
        .map(str::to_ascii_uppercase)
        .collect();
    let upper = sql.to_ascii_uppercase();
    let bytes = upper.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut start = 0;
    while let Some(found) = upper[start..].find(words[0].as_str()) {
        let at = start + found;
        start = at + 1;
        if at > 0 && is_word(bytes[at - 1]) {
            continue;
        }
        let mut cursor = at + words[0].len();
        let mut matched = cursor >= bytes.len() || !is_word(bytes[cursor]);
        for word in &words[1..] {
            if !matched {
                break;
            }
            let rest = &upper[cursor..];
            let trimmed = rest.trim_start();
            cursor += rest.len() - trimmed.len();
            matched = cursor > at + words[0].len()
                && trimmed.starts_with(word.as_str())
                && (cursor + word.len() >= bytes.len() || !is_word(bytes[cursor + word.len()]));
            cursor += word.len();
        }
        if matched {
            let before = &sql[..at];
            let line = before.matches('\n').count() as u64 + 1;
            let column = (at - before.rfind('\n').map_or(0, |n| n + 1)) as u64 + 1;
            return Some((line, column));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::keyword_position;

    #[test]
    fn keyword_positions_count_lines_and_columns_from_one() {
        let sql = "SELECT a\nFROM t\n  ORDER   BY a";
        assert_eq!(keyword_position(sql, "ORDER BY"), Some((3, 3)));
        assert_eq!(keyword_position(sql, "from"), Some((2, 1)));
        assert_eq!(keyword_position("SELECT reorder BY x", "ORDER BY"), None);
        assert_eq!(keyword_position(sql, "LIMIT"), None);
    }
}
