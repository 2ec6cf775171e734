//! Metadata checks: an owner is a short line of text, and tags are short words
//! (letters, digits and `_ - . : / =`), none given twice. Descriptions are free
//! text.

use std::collections::HashSet;

use super::problems::Problems;
use crate::model::{Definitions, Object};

/// Longest owner, in characters.
const MAX_OWNER: usize = 200;
/// Longest tag, in characters.
const MAX_TAG: usize = 64;

fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.chars().count() <= MAX_TAG
        && tag
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/' | '='))
}

fn check_kind<'a, T: Object + 'a>(
    objects: impl IntoIterator<Item = &'a T>,
    problems: &mut Problems,
) {
    for object in objects {
        let metadata = object.metadata();
        if let Some(owner) = metadata.owner {
            if owner.trim().is_empty()
                || owner.chars().count() > MAX_OWNER
                || owner.chars().any(char::is_control)
            {
                problems.add(
                    T::KIND,
                    object.name(),
                    "owner",
                    format!(
                        "an owner is one line of 1-{MAX_OWNER} characters (a team or a person)"
                    ),
                );
            }
        }
        let mut seen = HashSet::new();
        for (i, tag) in metadata.tags.iter().enumerate() {
            if !valid_tag(tag) {
                problems.add(
                    T::KIND,
                    object.name(),
                    "tags",
                    format!(
                        "tag #{i} ({tag:?}) is not 1-{MAX_TAG} letters, digits \
                         or '_', '-', '.', ':', '/', '='"
                    ),
                );
            } else if !seen.insert(tag.to_lowercase()) {
                problems.add(
                    T::KIND,
                    object.name(),
                    "tags",
                    format!("tag #{i} ({tag:?}) is given twice (tags match in any case)"),
                );
            }
        }
    }
}

/// Records every bad owner and tag.
pub fn check_metadata(definitions: &Definitions, problems: &mut Problems) {
    check_kind(&definitions.sources, problems);
    check_kind(&definitions.transformations, problems);
    check_kind(&definitions.entities, problems);
    check_kind(&definitions.features, problems);
    check_kind(&definitions.labels, problems);
    check_kind(&definitions.training_sets, problems);
}
