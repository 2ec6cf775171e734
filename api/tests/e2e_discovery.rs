//! Finding features with the real binary: `ListFeatures` and `SearchFeatures`
//! over the e-commerce example, through `freshet features list|search`. The
//! expected names, sources and ranks are read by hand off
//! `examples/ecommerce/definitions.yaml`.

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
