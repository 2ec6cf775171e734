//! Finding features: a [`FeatureSummary`] of each feature's newest version,
//! listed by name with filters and pages ([`list`]), or searched by text and
//! ranked ([`search`]); one feature in full ([`describe`]); the other kinds
//! of registry object, listed ([`objects`], [`page`]); statistics of the
//! values a version serves ([`value_stats`]), now or at the end of recent
//! time buckets ([`stats_over_time`]).

mod describe;
mod objects;
mod over_time;
mod value_stats;

pub use describe::{describe, upstream, FeatureDetail, Upstream, VersionDetail};
pub use objects::{objects, ObjectSummary};
pub use over_time::{stats_over_time, BucketStatistics, Buckets, MAX_BUCKETS};
pub use value_stats::{value_stats, Bin, FeatureStatistics, ValueStatistics, BINS, QUANTILES};

use crate::catalog::VersionStatus;
use crate::{EngineError, Result};

/// What the registry says of a feature, at its newest version.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSummary {
    /// The feature's name.
    pub name: String,
    /// Its newest version.
    pub version: u32,
    /// Every version stored, oldest first.
    pub versions: Vec<u32>,
    /// The entity it describes.
    pub entity: String,
    /// The source or transformation it aggregates.
    pub source: String,
    /// The aggregate (`sum(amount)`).
    pub aggregate: String,
    /// The window (`7d`); `None` for the whole history.
    pub window: Option<String>,
    /// The type of its values (`float64`); `None` when it cannot be resolved
    /// now (its source is gone).
    pub value_type: Option<String>,
    /// The definition's free text.
    pub description: Option<String>,
    /// Who answers for it.
    pub owner: Option<String>,
    /// Words to find it by.
    pub tags: Vec<String>,
    /// The sources and transformations it reads, directly or through
    /// transformations, by name.
    pub upstream: Vec<String>,
    /// The newest version's state (`ACTIVE`, `BACKFILLING`, ...); `UNKNOWN`
    /// before the engine has reported on it.
    pub state: String,
}

/// Which features [`list`] returns; `None` matches any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListFilter {
    /// Only features of this entity.
    pub entity: Option<String>,
    /// Only features over this source or transformation.
    pub source: Option<String>,
    /// Only features whose newest version is in this state (any case).
    pub state: Option<String>,
    /// Only features of this owner (any case).
    pub owner: Option<String>,
    /// Only features carrying every one of these tags (any case).
    pub tags: Vec<String>,
    /// Only features reading this source or transformation, directly or
    /// through transformations: what a change of it reaches.
    pub upstream: Option<String>,
}

/// Most features in one page.
pub const MAX_PAGE_SIZE: usize = 1_000;

/// The state `statuses` give `name@vN`, or `UNKNOWN`.
pub fn state_of(statuses: &[VersionStatus], name: &str, version: u32) -> String {
    statuses
        .iter()
        .find(|s| s.name == name && s.version == version)
        .map_or("UNKNOWN", |s| s.state.name())
        .to_string()
}

/// One page of the features `filter` matches, by name: at most `page_size`
/// (0: 100) after the feature named `page_token` (empty: from the start),
/// and the token of the next page (`None` on the last). `all` is sorted by
/// name.
pub fn list(
    all: Vec<FeatureSummary>,
    filter: &ListFilter,
    page_size: usize,
    page_token: &str,
) -> Result<(Vec<FeatureSummary>, Option<String>)> {
    let matches = |summary: &FeatureSummary| {
        filter.entity.as_ref().is_none_or(|e| *e == summary.entity)
            && filter.source.as_ref().is_none_or(|s| *s == summary.source)
            && filter
                .state
                .as_ref()
                .is_none_or(|s| s.eq_ignore_ascii_case(&summary.state))
            && filter.owner.as_ref().is_none_or(|o| {
                summary
                    .owner
                    .as_ref()
                    .is_some_and(|owner| owner.to_lowercase() == o.to_lowercase())
            })
            && filter
                .upstream
                .as_ref()
                .is_none_or(|table| summary.upstream.contains(table))
            && filter.tags.iter().all(|wanted| {
                summary
                    .tags
                    .iter()
                    .any(|tag| tag.to_lowercase() == wanted.to_lowercase())
            })
    };
    page(
        all.into_iter().filter(matches),
        |summary| &summary.name,
        page_size,
        page_token,
    )
}

/// One page of `items` (sorted by the name `name` gives): at most
/// `page_size` (0: 100; at most [`MAX_PAGE_SIZE`]) after the item named
/// `page_token` (empty: from the start), and the next page's token (`None`
/// on the last).
pub fn page<T>(
    items: impl Iterator<Item = T>,
    name: impl Fn(&T) -> &String,
    page_size: usize,
    page_token: &str,
) -> Result<(Vec<T>, Option<String>)> {
    if page_size > MAX_PAGE_SIZE {
        return Err(EngineError::InvalidRequest(format!(
            "page size {page_size}: at most {MAX_PAGE_SIZE}"
        )));
    }
    let page_size = if page_size == 0 { 100 } else { page_size };
    let mut found: Vec<T> = items
        .filter(|item| page_token.is_empty() || name(item).as_str() > page_token)
        .take(page_size + 1)
        .collect();
    let next = (found.len() > page_size).then(|| {
        found.truncate(page_size);
        name(&found[page_size - 1]).clone()
    });
    Ok((found, next))
}

/// The features matching every word of `query` (any case) in their name,
/// tags, description, owner, entity or source, best first, at most `limit`
/// (0: 20). A word scores 100 as the whole name, 50 as its start, 20 inside
/// it, 15 as a tag, 10 in the description, 8 in the owner and 5 as the entity
/// or source; ties go by name.
pub fn search(all: Vec<FeatureSummary>, query: &str, limit: usize) -> Result<Vec<FeatureSummary>> {
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    if words.is_empty() {
        return Err(EngineError::InvalidRequest(
            "an empty search: give at least one word".into(),
        ));
    }
    let limit = if limit == 0 {
        20
    } else {
        limit.min(MAX_PAGE_SIZE)
    };
    let score = |summary: &FeatureSummary| -> Option<u32> {
        let name = summary.name.to_lowercase();
        let description = summary.description.as_deref().unwrap_or("").to_lowercase();
        let owner = summary.owner.as_deref().unwrap_or("").to_lowercase();
        let mut total = 0;
        for word in &words {
            let points = if name == *word {
                100
            } else if name.starts_with(word.as_str()) {
                50
            } else if name.contains(word.as_str()) {
                20
            } else if summary.tags.iter().any(|tag| tag.to_lowercase() == *word) {
                15
            } else if description.contains(word.as_str()) {
                10
            } else if owner.contains(word.as_str()) {
                8
            } else if summary.entity.eq_ignore_ascii_case(word)
                || summary.source.eq_ignore_ascii_case(word)
            {
                5
            } else {
                return None;
            };
            total += points;
        }
        Some(total)
    };
    let mut ranked: Vec<(u32, FeatureSummary)> = all
        .into_iter()
        .filter_map(|summary| score(&summary).map(|points| (points, summary)))
        .collect();
    ranked.sort_by(|(a, x), (b, y)| b.cmp(a).then_with(|| x.name.cmp(&y.name)));
    Ok(ranked.into_iter().take(limit).map(|(_, s)| s).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(name: &str, entity: &str, description: &str, state: &str) -> FeatureSummary {
        FeatureSummary {
            name: name.into(),
            version: 1,
            versions: vec![1],
            entity: entity.into(),
            source: "purchases".into(),
            aggregate: "count(*)".into(),
            window: None,
            value_type: Some("int64".into()),
            description: (!description.is_empty()).then(|| description.into()),
            owner: None,
            tags: Vec::new(),
            upstream: vec!["purchases".into()],
            state: state.into(),
        }
    }

    fn owned(mut summary: FeatureSummary, owner: &str, tags: &[&str]) -> FeatureSummary {
        summary.owner = Some(owner.into());
        summary.tags = tags.iter().map(|t| t.to_string()).collect();
        summary
    }

    fn catalog() -> Vec<FeatureSummary> {
        vec![
            summary("category_spend", "category", "money per category", "ACTIVE"),
            summary("spend", "user", "", "ACTIVE"),
            summary(
                "spend_7d",
                "user",
                "money a user spent in a week",
                "BACKFILLING",
            ),
            owned(
                summary("user_clicks", "user", "clicks on spend pages", "ACTIVE"),
                "Growth Team",
                &["engagement", "PII"],
            ),
            owned(
                summary("visits", "user", "", "ACTIVE"),
                "growth team",
                &["engagement"],
            ),
        ]
    }

    fn names(found: &[FeatureSummary]) -> Vec<&str> {
        found.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn lists_filter_and_page_by_name() {
        let (page, next) = list(catalog(), &ListFilter::default(), 2, "").unwrap();
        assert_eq!(names(&page), ["category_spend", "spend"]);
        assert_eq!(next.as_deref(), Some("spend"));
        let (page, next) = list(catalog(), &ListFilter::default(), 2, "spend").unwrap();
        assert_eq!(names(&page), ["spend_7d", "user_clicks"]);
        assert_eq!(next.as_deref(), Some("user_clicks"));
        let users = ListFilter {
            entity: Some("user".into()),
            state: Some("active".into()),
            ..ListFilter::default()
        };
        let (page, next) = list(catalog(), &users, 0, "").unwrap();
        assert_eq!(names(&page), ["spend", "user_clicks", "visits"]);
        assert_eq!(next, None);
        // Owner and tags match in any case; every tag asked for must be there.
        let growth = ListFilter {
            owner: Some("GROWTH team".into()),
            tags: vec!["Engagement".into()],
            ..ListFilter::default()
        };
        let (page, _) = list(catalog(), &growth, 0, "").unwrap();
        assert_eq!(names(&page), ["user_clicks", "visits"]);
        let both = ListFilter {
            tags: vec!["engagement".into(), "pii".into()],
            ..ListFilter::default()
        };
        let (page, _) = list(catalog(), &both, 0, "").unwrap();
        assert_eq!(names(&page), ["user_clicks"]);
        let nobody = ListFilter {
            owner: Some("growth".into()),
            ..ListFilter::default()
        };
        assert!(list(catalog(), &nobody, 0, "").unwrap().0.is_empty());
        // Downstream of a table: features reading it through transformations too.
        let mut all = catalog();
        all[0].upstream = vec!["items".into(), "purchases".into(), "enriched".into()];
        let enriched = ListFilter {
            upstream: Some("enriched".into()),
            ..ListFilter::default()
        };
        let (page, _) = list(all.clone(), &enriched, 0, "").unwrap();
        assert_eq!(names(&page), ["category_spend"]);
        let purchases = ListFilter {
            upstream: Some("purchases".into()),
            ..ListFilter::default()
        };
        assert_eq!(list(all, &purchases, 0, "").unwrap().0.len(), 5);
        let error = list(catalog(), &ListFilter::default(), 5_000, "").unwrap_err();
        assert!(error.to_string().contains("page size 5000"), "{error}");
    }

    #[test]
    fn search_ranks_the_exact_name_first_then_prefixes_then_text() {
        let found = search(catalog(), "spend", 0).unwrap();
        // Exact name, prefix, inside the name, then the description only.
        assert_eq!(
            names(&found),
            ["spend", "spend_7d", "category_spend", "user_clicks"]
        );
        // Every word must match somewhere.
        let found = search(catalog(), "SPEND week", 0).unwrap();
        assert_eq!(names(&found), ["spend_7d"]);
        assert!(search(catalog(), "nothing", 0).unwrap().is_empty());
        assert_eq!(search(catalog(), "spend", 1).unwrap().len(), 1);
        assert!(search(catalog(), "  ", 0).is_err());
        // A tag (15) ranks above a description (10), which ranks above the
        // owner (8): visits is tagged engagement, user_clicks too.
        let found = search(catalog(), "engagement", 0).unwrap();
        assert_eq!(names(&found), ["user_clicks", "visits"]);
        let found = search(catalog(), "growth clicks", 0).unwrap();
        assert_eq!(names(&found), ["user_clicks"]);
        let found = search(catalog(), "pii", 0).unwrap();
        assert_eq!(names(&found), ["user_clicks"]);
    }
}
