//! Lineage: which tables a transformation reads, and the transformations in the
//! order that puts every one after those it reads. The registry uses it to give
//! dependants of a changed transformation new versions; the engine, to know which
//! transformation versions a feature version is computed from.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::sql::parser::DFParser;
use datafusion::sql::resolve::resolve_table_references;

use crate::model::Transformation;

/// The tables `sql` reads (sources and transformations), by name; empty when the
/// SQL does not parse (validation reports that).
pub fn reads(sql: &str) -> BTreeSet<String> {
    let Ok(mut statements) = DFParser::parse_sql(sql) else {
        return BTreeSet::new();
    };
    let Some(statement) = statements.pop_front() else {
        return BTreeSet::new();
    };
    match resolve_table_references(&statement, true) {
        Ok((tables, _)) => tables.iter().map(|t| t.table().to_string()).collect(),
        Err(_) => BTreeSet::new(),
    }
}

/// `transformations` ordered so that each comes after every transformation it
/// reads (ties by name). Transformations in a cycle, which validation refuses,
/// come last in name order.
pub fn dependency_order(transformations: &[Transformation]) -> Vec<&Transformation> {
    let by_name: BTreeMap<&str, &Transformation> = transformations
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    let mut pending: BTreeMap<&str, BTreeSet<String>> = by_name
        .iter()
        .map(|(name, t)| {
            let upstream = reads(&t.sql)
                .into_iter()
                .filter(|r| by_name.contains_key(r.as_str()) && r != name)
                .collect();
            (*name, upstream)
        })
        .collect();
    let mut ordered = Vec::with_capacity(transformations.len());
    while !pending.is_empty() {
        let ready: Vec<&str> = pending
            .iter()
            .filter(|(_, upstream)| upstream.is_empty())
            .map(|(name, _)| *name)
            .collect();
        let ready = if ready.is_empty() {
            pending.keys().copied().collect()
        } else {
            ready
        };
        for name in ready {
            pending.remove(name);
            for upstream in pending.values_mut() {
                upstream.remove(name);
            }
            ordered.push(by_name[name]);
        }
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transformation(name: &str, sql: &str) -> Transformation {
        serde_json::from_value(serde_json::json!({ "name": name, "sql": sql })).unwrap()
    }

    #[test]
    fn reads_names_every_table_of_a_join() {
        let tables = reads("SELECT * FROM a JOIN b ON a.k = b.k WHERE a.x IN (SELECT x FROM c)");
        assert_eq!(
            tables,
            ["a", "b", "c"].iter().map(|s| s.to_string()).collect()
        );
    }

    #[test]
    fn dependency_order_puts_readers_after_what_they_read() {
        let all = vec![
            transformation("top", "SELECT * FROM middle"),
            transformation("middle", "SELECT * FROM bottom JOIN events ON true"),
            transformation("bottom", "SELECT * FROM events"),
            transformation("apart", "SELECT * FROM events"),
        ];
        let names: Vec<&str> = dependency_order(&all)
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(names, ["apart", "bottom", "middle", "top"]);
    }
}
