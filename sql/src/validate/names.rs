//! Name checks: every object has a usable name, unique among its kind (and sources
//! and transformations share one namespace, the SQL tables).

use std::collections::HashSet;

use super::problems::Problems;
use crate::model::{Definitions, Kind, Object};

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 128
}

fn check_kind<'a, T: Object + 'a>(
    objects: impl IntoIterator<Item = &'a T>,
    seen: &mut HashSet<String>,
    problems: &mut Problems,
) {
    for object in objects {
        let name = object.name();
        if !valid_name(name) {
            problems.add(
                T::KIND,
                name,
                "name",
                "names must be 1-128 characters of lowercase letters, digits and '_', starting with a letter or '_'",
            );
        } else if !seen.insert(name.to_string()) {
            let scope = match T::KIND {
                Kind::Source | Kind::Transformation => "among sources and transformations",
                _ => "among objects of its kind",
            };
            problems.add(
                T::KIND,
                name,
                "name",
                format!("the name '{name}' is used twice {scope}"),
            );
        }
    }
}

/// Records every bad or duplicate name.
pub fn check_names(definitions: &Definitions, problems: &mut Problems) {
    let mut tables = HashSet::new();
    check_kind(&definitions.sources, &mut tables, problems);
    check_kind(&definitions.transformations, &mut tables, problems);
    check_kind(&definitions.entities, &mut HashSet::new(), problems);
    check_kind(&definitions.features, &mut HashSet::new(), problems);
    check_kind(&definitions.labels, &mut HashSet::new(), problems);
    check_kind(&definitions.training_sets, &mut HashSet::new(), problems);
}
