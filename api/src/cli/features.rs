//! `freshet features list|search|describe|stats`: find features; `freshet features
//! wait|retire|freeze|unfreeze`: act on feature versions.

use clap::Subcommand;

use super::status::{version_json, version_line};
use super::{connect, definition, non_empty, print_next_page, ClientArgs};
use crate::proto;
use crate::Result;

/// What to do to a feature or version.
#[derive(Debug, Subcommand)]
pub enum FeaturesCommand {
    /// Statistics of the values a feature serves now over its entity keys:
    /// count, nulls, mean, stddev, min, max, quantiles and a histogram.
    Stats {
        /// `NAME` (the version it serves) or `NAME@vN`.
        reference: String,
        /// Also the statistics at the end of this many recent buckets (at
        /// most 30; each replays the feature's events, as a training set does).
        #[arg(long, default_value_t = 0, hide_default_value = true)]
        buckets: u32,
        /// The buckets' width (`1h`, `1d`); the last ends now.
        #[arg(long, default_value = "1d")]
        bucket: String,
    },
    /// Every version of a feature: definition, state, what it reads, and the
    /// training sets that read it.
    Describe {
        /// The feature's name.
        name: String,
    },
    /// List features at their newest version, by name.
    List {
        /// Only features of this entity.
        #[arg(long)]
        entity: Option<String>,
        /// Only features over this source or transformation.
        #[arg(long)]
        source: Option<String>,
        /// Only features whose newest version is in this state (ACTIVE, ...).
        #[arg(long)]
        state: Option<String>,
        /// Only features of this owner (any case).
        #[arg(long)]
        owner: Option<String>,
        /// Only features carrying this tag (any case); repeat for features
        /// carrying every one.
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Only features reading this source or transformation, directly or
        /// through transformations (what a change of it reaches).
        #[arg(long)]
        upstream: Option<String>,
        /// At most this many per page (default 100).
        #[arg(long, default_value_t = 0, hide_default_value = true)]
        page_size: u32,
        /// The page after this token (printed with the previous page).
        #[arg(long, default_value = "")]
        page_token: String,
    },
    /// Find features by words of their name, tags, description, owner,
    /// entity or source, best first.
    Search {
        /// The words; every one must match.
        #[arg(required = true)]
        query: Vec<String>,
        /// At most this many (default 20).
        #[arg(long, default_value_t = 0, hide_default_value = true)]
        limit: u32,
    },
    /// Wait until a version has caught up (READY or ACTIVE); fails if it FAILED.
    Wait {
        /// `NAME@vN`, or `NAME` for its newest version.
        reference: String,
    },
    /// Retire `NAME@vN` and free its state (not the active version).
    Retire {
        /// `NAME@vN`.
        reference: String,
    },
    /// Serve the values the feature has now (or its default) until unfrozen.
    Freeze {
        /// The feature's name.
        name: String,
    },
    /// Serve current values again.
    Unfreeze {
        /// The feature's name.
        name: String,
    },
}

/// Runs a `freshet features` command and prints what it found, or the
/// version's status.
pub async fn features(command: &FeaturesCommand, client: &ClientArgs) -> Result<()> {
    let mut connection = connect(client).await?;
    let status = match command {
        FeaturesCommand::List {
            entity,
            source,
            state,
            owner,
            tags,
            upstream,
            page_size,
            page_token,
        } => {
            let found = connection
                .list_features(proto::ListFeaturesRequest {
                    entity: entity.clone().unwrap_or_default(),
                    source: source.clone().unwrap_or_default(),
                    state: state.clone().unwrap_or_default(),
                    owner: owner.clone().unwrap_or_default(),
                    tags: tags.clone(),
                    upstream: upstream.clone().unwrap_or_default(),
                    page_size: *page_size,
                    page_token: page_token.clone(),
                })
                .await?
                .into_inner();
            print_summaries(&found, client.json);
            return Ok(());
        }
        FeaturesCommand::Describe { name } => {
            let detail = connection
                .describe_feature(proto::DescribeFeatureRequest { name: name.clone() })
                .await?
                .into_inner();
            print_detail(&detail, client.json)?;
            return Ok(());
        }
        FeaturesCommand::Stats {
            reference,
            buckets,
            bucket,
        } => {
            let found = connection
                .get_feature_stats(proto::GetFeatureStatsRequest {
                    reference: reference.clone(),
                    buckets: *buckets,
                    bucket: bucket.clone(),
                })
                .await?
                .into_inner();
            print_stats(&found, client.json);
            return Ok(());
        }
        FeaturesCommand::Search { query, limit } => {
            let found = connection
                .search_features(proto::SearchFeaturesRequest {
                    query: query.join(" "),
                    limit: *limit,
                })
                .await?
                .into_inner();
            print_summaries(&found, client.json);
            return Ok(());
        }
        FeaturesCommand::Wait { reference } => {
            connection
                .wait_for_feature(proto::WaitForFeatureRequest {
                    reference: reference.clone(),
                })
                .await?
        }
        FeaturesCommand::Retire { reference } => {
            connection
                .retire_feature(proto::FeatureReference {
                    reference: reference.clone(),
                })
                .await?
        }
        FeaturesCommand::Freeze { name } => {
            connection
                .freeze_feature(proto::FeatureReference {
                    reference: name.clone(),
                })
                .await?
        }
        FeaturesCommand::Unfreeze { name } => {
            connection
                .unfreeze_feature(proto::FeatureReference {
                    reference: name.clone(),
                })
                .await?
        }
    }
    .into_inner();
    if client.json {
        println!("{}", version_json(&status));
    } else {
        println!("{}", version_line(&status));
    }
    Ok(())
}

/// Prints features found: a line each (`name@vN`, state, entity, aggregate
/// and window, type, description, then owner and tags when given) and the
/// next page's token; with `json`,
/// `{"features": [...], "next_page_token": ...}`.
fn print_summaries(found: &proto::ListFeaturesResponse, json: bool) {
    if json {
        let features: Vec<serde_json::Value> = found
            .features
            .iter()
            .map(|f| {
                serde_json::json!({
                    "name": f.name,
                    "version": f.version,
                    "versions": f.versions,
                    "entity": f.entity,
                    "source": f.source,
                    "aggregate": f.aggregate,
                    "window": non_empty(&f.window),
                    "type": non_empty(&f.r#type),
                    "description": non_empty(&f.description),
                    "owner": non_empty(&f.owner),
                    "tags": f.tags,
                    "upstream": f.upstream,
                    "state": f.state,
                })
            })
            .collect();
        let next = non_empty(&found.next_page_token);
        println!(
            "{}",
            serde_json::json!({ "features": features, "next_page_token": next })
        );
        return;
    }
    if found.features.is_empty() {
        println!("no features found");
    }
    for f in &found.features {
        let window = match f.window.as_str() {
            "" => "lifetime".to_string(),
            window => format!("over {window}"),
        };
        let reference = format!("{}@v{}", f.name, f.version);
        let mut about = Vec::new();
        if !f.owner.is_empty() {
            about.push(format!("owner: {}", f.owner));
        }
        if !f.tags.is_empty() {
            about.push(format!("tags: {}", f.tags.join(", ")));
        }
        let about = if about.is_empty() {
            String::new()
        } else {
            format!("  ({})", about.join("; "))
        };
        println!(
            "{reference:<32} {:<12} {:<10} {} {window}  {}  {}{about}",
            f.state, f.entity, f.aggregate, f.r#type, f.description
        );
    }
    print_next_page(&found.next_page_token);
}

/// Prints a feature in full: per version its state, what it reads and its
/// definition, then the training sets reading it; with `json`, the same as
/// one object (definitions as objects).
fn print_detail(detail: &proto::DescribeFeatureResponse, json: bool) -> Result<()> {
    let reads = |v: &proto::FeatureVersionDetail| -> Vec<String> {
        v.upstream
            .iter()
            .map(|u| format!("{} {}@v{}", u.kind, u.name, u.version))
            .collect()
    };
    if json {
        let versions = detail
            .versions
            .iter()
            .map(|v| {
                Ok(serde_json::json!({
                    "version": v.version,
                    "state": v.state,
                    "definition": definition(&v.definition_json)?,
                    "upstream": v.upstream.iter().map(|u| serde_json::json!({
                        "kind": u.kind, "name": u.name, "version": u.version,
                    })).collect::<Vec<_>>(),
                    "applied": stamp_json(v.applied_at_micros, &v.applied_by),
                    "metadata_updated": stamp_json(
                        v.metadata_updated_at_micros,
                        &v.metadata_updated_by,
                    ),
                }))
            })
            .collect::<Result<Vec<_>>>()?;
        println!(
            "{}",
            serde_json::json!({
                "name": detail.name,
                "versions": versions,
                "training_sets": detail.training_sets,
            })
        );
        return Ok(());
    }
    println!("{}", detail.name);
    for v in &detail.versions {
        println!("  v{} {}", v.version, v.state);
        if let Some(at) = instant(v.applied_at_micros) {
            println!("    applied {at} by {}", v.applied_by);
        }
        if let Some(at) = instant(v.metadata_updated_at_micros) {
            println!("    metadata updated {at} by {}", v.metadata_updated_by);
        }
        println!("    reads: {}", reads(v).join(", "));
        println!("    definition: {}", definition(&v.definition_json)?);
    }
    match detail.training_sets.as_slice() {
        [] => println!("  read by no training set"),
        sets => println!("  read by training sets: {}", sets.join(", ")),
    }
    Ok(())
}

/// An instant of the registry's history (µs since the epoch; 0 when not
/// recorded) in RFC 3339, UTC.
fn instant(micros: i64) -> Option<String> {
    (micros != 0)
        .then(|| chrono::DateTime::from_timestamp_micros(micros))
        .flatten()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// `{"at": RFC 3339, "by": who}`, or null when not recorded.
fn stamp_json(micros: i64, by: &str) -> serde_json::Value {
    match instant(micros) {
        Some(at) => serde_json::json!({ "at": at, "by": by }),
        None => serde_json::Value::Null,
    }
}

/// Prints a version's value statistics: a few lines (counts, moments,
/// quantiles, histogram bars), or with `json` one object.
fn print_stats(found: &proto::FeatureStatsResponse, json: bool) {
    if json {
        println!("{}", stats_json(found));
        return;
    }
    let number = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v}"));
    let more = if found.truncated {
        " (first keys only)"
    } else {
        ""
    };
    println!(
        "{}: {} value(s){more}, {} null",
        found.feature, found.count, found.nulls
    );
    println!(
        "  mean {}  stddev {}  min {}  max {}",
        number(found.mean),
        number(found.stddev),
        number(found.min),
        number(found.max)
    );
    if !found.quantiles.is_empty() {
        let quantiles: Vec<String> = found
            .quantiles
            .iter()
            .map(|q| format!("p{}={}", q.q * 100.0, q.value))
            .collect();
        println!("  {}", quantiles.join("  "));
    }
    let largest = found.histogram.iter().map(|b| b.count).max().unwrap_or(0);
    for bin in &found.histogram {
        let bar = super::progress::bar(bin.count, largest);
        println!("  [{}, {}] {bar} {}", bin.low, bin.high, bin.count);
    }
    if !found.buckets.is_empty() {
        println!("  at the end of each bucket:");
    }
    for bucket in &found.buckets {
        let median = bucket
            .quantiles
            .iter()
            .find(|q| q.q == 0.5)
            .map(|q| q.value);
        println!(
            "    {}  {} value(s), {} null  mean {}  min {}  median {}  max {}",
            instant(bucket.evaluated_at_micros).unwrap_or_default(),
            bucket.count,
            bucket.nulls,
            number(bucket.mean),
            number(bucket.min),
            number(median),
            number(bucket.max)
        );
    }
}

/// A version's statistics as one JSON object, its buckets' nested.
fn stats_json(found: &proto::FeatureStatsResponse) -> serde_json::Value {
    let quantiles: Vec<serde_json::Value> = found
        .quantiles
        .iter()
        .map(|q| serde_json::json!({ "q": q.q, "value": q.value }))
        .collect();
    let histogram: Vec<serde_json::Value> = found
        .histogram
        .iter()
        .map(|b| serde_json::json!({ "low": b.low, "high": b.high, "count": b.count }))
        .collect();
    serde_json::json!({
        "feature": found.feature,
        "evaluated_at_micros": found.evaluated_at_micros,
        "truncated": found.truncated,
        "count": found.count,
        "nulls": found.nulls,
        "mean": found.mean,
        "stddev": found.stddev,
        "min": found.min,
        "max": found.max,
        "quantiles": quantiles,
        "histogram": histogram,
        "buckets": found.buckets.iter().map(stats_json).collect::<Vec<_>>(),
    })
}
