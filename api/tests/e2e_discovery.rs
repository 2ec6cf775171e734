//! Finding features with the real binary: `ListFeatures`, `SearchFeatures`,
//! `DescribeFeature`, `GetFeatureStats` and the object listings over the
//! e-commerce example (and the training-set tests' definitions, which hold a
//! training set), through `freshet features list|search|describe|stats` and
//! `freshet registry`. The expected names, sources, ranks and lineage are
//! read by hand off `examples/ecommerce/definitions.yaml` and
//! `tests/data/training_churn.yaml`.

mod common;

use common::{stdout_of, Server};
use freshet_api::proto;

/// Every feature of the example, by name.
const ALL: [&str; 12] = [
    "category_revenue",
    "user_amount_stddev_30d",
    "user_avg_amount_30d",
    "user_categories_30d",
    "user_cents_var_1h",
    "user_first_purchase_at",
    "user_last_category",
    "user_lifetime_cents",
    "user_max_amount_7d",
    "user_min_amount_7d",
    "user_purchases_1d",
    "user_spend_7d",
];

fn json(server: &Server, args: &[&str]) -> serde_json::Value {
    let out = stdout_of(server.cli(&[&["features"][..], args, &["--json"][..]].concat()));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("features {args:?} printed {out:?}: {e}"))
}

fn names(found: &serde_json::Value) -> Vec<String> {
    found["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn features_are_listed_filtered_paged_and_searched() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let definitions = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/ecommerce/definitions.yaml"
    );
    stdout_of(server.cli(&["apply", "-f", definitions]));
    let expected: Vec<String> = ALL.iter().map(|s| s.to_string()).collect();
    // Every version caught up, so each is reported in a settled state.
    let mut client = server.client().await;
    for name in &expected {
        client
            .wait_for_feature(proto::WaitForFeatureRequest {
                reference: name.clone(),
            })
            .await
            .unwrap_or_else(|e| panic!("wait for {name}: {e:?}"));
    }

    // All of them, by name, ACTIVE at v1 with their resolved types.
    let listed = json(&server, &["list"]);
    assert_eq!(names(&listed), expected);
    assert_eq!(listed["next_page_token"], serde_json::Value::Null);
    let spend = &listed["features"][expected.len() - 1];
    assert_eq!(
        (
            &spend["version"],
            &spend["state"],
            &spend["type"],
            &spend["window"]
        ),
        (&1.into(), &"ACTIVE".into(), &"float64".into(), &"7d".into()),
        "{spend}"
    );
    assert_eq!(spend["description"], "Total spend in the last 7 days");
    assert_eq!(listed["features"][10]["type"], "int64", "user_purchases_1d");

    // Pages of five, followed by their tokens, give the same list.
    let mut paged = Vec::new();
    let mut token = String::new();
    loop {
        let page = json(
            &server,
            &["list", "--page-size", "5", "--page-token", &token],
        );
        let got = names(&page);
        assert!(got.len() <= 5, "{page}");
        paged.extend(got);
        match page["next_page_token"].as_str() {
            Some(next) => token = next.to_string(),
            None => break,
        }
    }
    assert_eq!(paged, expected);

    // Filters.
    assert_eq!(
        names(&json(&server, &["list", "--entity", "category"])),
        ["category_revenue"]
    );
    assert_eq!(
        names(&json(&server, &["list", "--source", "purchases"])),
        [
            "user_amount_stddev_30d",
            "user_avg_amount_30d",
            "user_first_purchase_at",
            "user_max_amount_7d",
            "user_min_amount_7d",
            "user_purchases_1d",
        ]
    );
    assert!(names(&json(&server, &["list", "--state", "backfilling"])).is_empty());

    // Search: the exact name first, then names that start with the word, hold
    // it, and descriptions that hold it; every word must match; ties by name.
    assert_eq!(
        names(&json(&server, &["search", "user_spend_7d"])),
        ["user_spend_7d"]
    );
    assert_eq!(
        names(&json(&server, &["search", "spend"])),
        ["user_spend_7d", "user_lifetime_cents"]
    );
    assert_eq!(
        names(&json(&server, &["search", "category"])),
        ["category_revenue", "user_last_category"]
    );
    assert_eq!(
        names(&json(&server, &["search", "amount", "7", "days"])),
        ["user_max_amount_7d", "user_min_amount_7d"]
    );

    // For people: one line per version; a refused request is said with its code.
    let human = stdout_of(server.cli(&["features", "list", "--entity", "category"]));
    assert!(
        human.starts_with("category_revenue@v1") && human.contains("ACTIVE"),
        "{human}"
    );
    let output = server.cli(&["features", "list", "--page-size", "5000", "--json"]);
    assert!(!output.status.success());
    let error: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(error["error"]["code"], "INVALID_ARGUMENT", "{error}");
    assert_eq!(error["error"]["message"], "page size 5000: at most 1000");
}

fn upstream(detail: &serde_json::Value, version: usize) -> Vec<String> {
    detail["versions"][version]["upstream"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            format!(
                "{} {}@v{}",
                u["kind"].as_str().unwrap(),
                u["name"].as_str().unwrap(),
                u["version"]
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn features_are_described_with_lineage_and_statistics_and_objects_listed() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(&data.path().join("data"));
    let definitions = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/ecommerce/definitions.yaml"
    );
    let before = chrono::Utc::now();
    stdout_of(server.cli(&["apply", "-f", definitions]));
    let after = chrono::Utc::now();

    // A feature over a join: the transformation and both tables it reads.
    let spend = json(&server, &["describe", "user_spend_7d"]);
    // Who applied it (the CLI names its login and machine) and when.
    let applied = &spend["versions"][0]["applied"];
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let by = applied["by"].as_str().unwrap();
    assert!(by.ends_with(&format!("@{}", host.trim())), "{applied}");
    if let Ok(user) = std::env::var("USER") {
        assert!(by.starts_with(&format!("{user}@")), "{applied}");
    }
    let at = chrono::DateTime::parse_from_rfc3339(applied["at"].as_str().unwrap()).unwrap();
    // Whole seconds: the apply happened within the second-rounded interval.
    assert!(
        at.timestamp() >= before.timestamp() && at.timestamp() <= after.timestamp(),
        "{applied} not within {before}..{after}"
    );
    assert_eq!(
        spend["versions"][0]["metadata_updated"],
        serde_json::Value::Null
    );
    assert_eq!(spend["name"], "user_spend_7d");
    assert_eq!(spend["versions"].as_array().unwrap().len(), 1, "{spend}");
    assert_eq!(spend["versions"][0]["version"], 1);
    assert_eq!(
        spend["versions"][0]["definition"]["aggregate"],
        "sum(amount)"
    );
    assert_eq!(spend["versions"][0]["definition"]["window"], "7d");
    assert_eq!(
        upstream(&spend, 0),
        [
            "source items@v1",
            "source purchases@v1",
            "transformation purchases_enriched@v1"
        ]
    );
    assert_eq!(spend["training_sets"], serde_json::json!([]));
    // A feature over a view over the join: two transformations deep.
    let revenue = json(&server, &["describe", "category_revenue"]);
    assert_eq!(
        upstream(&revenue, 0),
        [
            "source items@v1",
            "source purchases@v1",
            "transformation category_sales@v1",
            "transformation purchases_enriched@v1"
        ]
    );
    // A feature straight over a stream.
    let purchases = json(&server, &["describe", "user_purchases_1d"]);
    assert_eq!(upstream(&purchases, 0), ["source purchases@v1"]);

    // For people: the versions, what they read, who reads them.
    let human = stdout_of(server.cli(&["features", "describe", "user_purchases_1d"]));
    assert!(
        human.starts_with("user_purchases_1d\n  v1 ")
            && human.contains("reads: source purchases@v1")
            && human.contains(&format!(
                "    applied {} by {by}",
                applied["at"].as_str().unwrap()
            ))
            && human.contains("read by no training set"),
        "{human}"
    );
    // Statistics of served values: purchases in the last day per user, for
    // users with 2, 1 and 3 purchases now.
    let now = chrono::Utc::now().timestamp_millis();
    let lines: String = [1, 1, 2, 3, 3, 3]
        .iter()
        .map(|user| {
            format!("{{\"user_id\": {user}, \"item_id\": 1, \"amount\": 5.0, \"ts\": {now}}}\n")
        })
        .collect();
    let events = data.path().join("events.jsonl");
    std::fs::write(&events, lines).unwrap();
    stdout_of(server.cli(&[
        "ingest",
        "--source",
        "purchases",
        "--wait",
        events.to_str().unwrap(),
    ]));
    let stats = json(&server, &["stats", "user_purchases_1d"]);
    assert_eq!(stats["feature"], "user_purchases_1d@v1");
    assert_eq!(
        (&stats["count"], &stats["nulls"]),
        (&3.into(), &0.into()),
        "{stats}"
    );
    assert_eq!(stats["truncated"], false);
    // 1, 2, 3: mean 2, sample stddev 1, median 2.
    assert_eq!(
        (&stats["mean"], &stats["stddev"]),
        (&2.0.into(), &1.0.into())
    );
    assert_eq!((&stats["min"], &stats["max"]), (&1.0.into(), &3.0.into()));
    assert_eq!(
        stats["quantiles"][3],
        serde_json::json!({"q": 0.5, "value": 2.0})
    );
    let bins = stats["histogram"].as_array().unwrap();
    assert_eq!(bins.len(), 10);
    assert_eq!(
        (&bins[0]["count"], &bins[9]["count"]),
        (&1.into(), &1.into())
    );
    let counted: u64 = bins.iter().map(|b| b["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, 3);
    assert_eq!(stats["buckets"], serde_json::json!([]));
    // Over time: two hours back nobody had bought (all purchases are from
    // now), an hour back neither; at the end of the last bucket (now) the
    // replay gives what serving gives.
    let over_time = json(
        &server,
        &[
            "stats",
            "user_purchases_1d",
            "--buckets",
            "3",
            "--bucket",
            "1h",
        ],
    );
    let buckets = over_time["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 3, "{over_time}");
    let ends: Vec<i64> = buckets
        .iter()
        .map(|b| b["evaluated_at_micros"].as_i64().unwrap())
        .collect();
    assert_eq!(ends[1] - ends[0], 3_600_000_000);
    assert_eq!(ends[2] - ends[1], 3_600_000_000);
    assert_eq!(ends[2], over_time["evaluated_at_micros"].as_i64().unwrap());
    for earlier in &buckets[..2] {
        // count(*) has default 0: three keys, each 0.
        assert_eq!(
            (&earlier["count"], &earlier["min"], &earlier["max"]),
            (&3.into(), &0.0.into(), &0.0.into()),
            "{earlier}"
        );
    }
    for field in [
        "count",
        "nulls",
        "mean",
        "stddev",
        "min",
        "max",
        "quantiles",
    ] {
        assert_eq!(buckets[2][field], over_time[field], "{field}: {over_time}");
    }
    // Timestamps are counted, not averaged.
    let first = json(&server, &["stats", "user_first_purchase_at"]);
    assert_eq!(
        (&first["count"], &first["mean"]),
        (&3.into(), &serde_json::Value::Null)
    );
    let human = stdout_of(server.cli(&["features", "stats", "user_purchases_1d"]));
    assert!(
        human.starts_with(
            "user_purchases_1d@v1: 3 value(s), 0 null\n  mean 2  stddev 1  min 1  max 3"
        ),
        "{human}"
    );

    // The other objects: sources, entities, a page at a time.
    let registry = |args: &[&str]| -> serde_json::Value {
        let out = stdout_of(server.cli(&[&["registry"][..], args, &["--json"][..]].concat()));
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("registry {args:?}: {out:?}: {e}"))
    };
    let first = registry(&["sources", "--page-size", "1"]);
    assert_eq!(first["objects"][0]["name"], "items", "{first}");
    assert_eq!(
        first["objects"][0]["description"],
        "The item catalogue (reloaded when the file changes)"
    );
    assert_eq!(first["next_page_token"], "items");
    let second = registry(&["sources", "--page-size", "1", "--page-token", "items"]);
    assert_eq!(second["objects"][0]["name"], "purchases", "{second}");
    assert_eq!(second["objects"][0]["definition"]["event_time"], "ts");
    assert_eq!(second["next_page_token"], serde_json::Value::Null);
    let entities = registry(&["entities"]);
    let keys: Vec<(&str, &str)> = entities["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let name = e["name"].as_str().unwrap();
            (name, e["definition"]["key"].as_str().unwrap())
        })
        .collect();
    assert_eq!(keys, [("category", "category"), ("user", "user_id")]);
    let human = stdout_of(server.cli(&["registry", "entities"]));
    assert!(
        human.starts_with("category@v1") && human.contains("A customer"),
        "{human}"
    );

    let output = server.cli(&["features", "describe", "nope", "--json"]);
    assert!(!output.status.success());
    let error: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(error["error"]["code"], "NOT_FOUND", "{error}");
    assert_eq!(error["error"]["message"], "feature 'nope' not found");
    server.stop();

    // Downstream: the training set that lists a feature reads it.
    let churn = tempfile::tempdir().unwrap();
    let yaml = churn.path().join("training_churn.yaml");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/training_churn.yaml"
        ),
        &yaml,
    )
    .unwrap();
    std::fs::write(
        churn.path().join("outcomes.csv"),
        "user_id,ts,churned\n1,2026-03-01T00:00:00Z,0\n",
    )
    .unwrap();
    let server = Server::start(&churn.path().join("data"));
    stdout_of(server.cli(&["apply", "-f", yaml.to_str().unwrap()]));
    let spend = json(&server, &["describe", "spend_1h"]);
    assert_eq!(spend["training_sets"], serde_json::json!(["churn_v1@v1"]));
    assert_eq!(upstream(&spend, 0), ["source clicks@v1"]);
    let life = json(&server, &["describe", "avg_life"]);
    assert_eq!(life["training_sets"], serde_json::json!([]));
    let sets = stdout_of(server.cli(&["registry", "training-sets", "--json"]));
    let sets: serde_json::Value = serde_json::from_str(&sets).unwrap();
    assert_eq!(sets["objects"][0]["name"], "churn_v1", "{sets}");
    assert_eq!(sets["objects"][0]["definition"]["label"], "outcome");
    assert_eq!(
        sets["objects"][0]["definition"]["features"],
        serde_json::json!(["spend_1h", "clicks_1d", "last_item_1h", "min_1h"])
    );
}
