"""The registry from Python on the e-commerce example: listing, ranked
search, lineage both ways, statistics, and applying definitions."""

from __future__ import annotations

import datetime as dt
import statistics

import pytest

import freshet
from conftest import EXAMPLE
from events import DAY, min_amount, purchases, whole_second_now

USER_FEATURES = {
    "user_spend_7d", "user_purchases_1d", "user_avg_amount_30d", "user_min_amount_7d",
    "user_max_amount_7d", "user_last_category", "user_first_purchase_at",
    "user_categories_30d", "user_amount_stddev_30d", "user_cents_var_1h",
    "user_lifetime_cents",
}


@pytest.fixture(scope="module")
def registry(shared_server):
    with freshet.Client(shared_server.address) as client:
        yield client


def test_list_filters_by_entity_source_and_state(registry):
    every = registry.features.list()
    assert {f.name for f in every} == USER_FEATURES | {"category_revenue"}
    assert [f.name for f in every] == sorted(f.name for f in every)
    assert {f.name for f in registry.features.list(entity="user")} == USER_FEATURES
    by_source = registry.features.list(source="purchases_enriched")
    assert {f.name for f in by_source} == {
        "user_spend_7d", "user_last_category", "user_categories_30d",
        "user_cents_var_1h", "user_lifetime_cents",
    }
    spend = next(f for f in every if f.name == "user_spend_7d")
    assert (spend.entity, spend.aggregate, spend.window, spend.type, spend.version) == (
        "user", "sum(amount)", "7d", "float64", 1,
    )
    assert spend.description == "Total spend in the last 7 days"
    assert registry.features.list(state="retired") == []


def test_search_puts_the_exact_name_first(registry):
    found = [f.name for f in registry.features.search("user_spend_7d")]
    assert found[0] == "user_spend_7d"
    words = [f.name for f in registry.features.search("spend days")]
    assert "user_spend_7d" in words
    assert registry.features.search("zebra") == []


def test_describe_gives_lineage_through_transformations(registry):
    described = registry.features.describe("user_spend_7d")
    assert described.name == "user_spend_7d"
    (version,) = described.versions
    assert version.applied_by == "freshet serve --apply"
    assert version.applied_at is not None and version.metadata_updated_at is None
    assert version.definition["aggregate"] == "sum(amount)"
    assert {(t.kind, t.name) for t in version.upstream} == {
        ("transformation", "purchases_enriched"), ("source", "purchases"), ("source", "items"),
    }
    assert described.training_sets == []


def test_a_source_lists_everything_downstream_of_it(registry):
    # Lineage from the other end: items is read only through the
    # purchases_enriched join (and the category_sales view over it).
    through_join = {
        "user_spend_7d", "user_last_category", "user_categories_30d",
        "user_cents_var_1h", "user_lifetime_cents", "category_revenue",
    }
    assert {f.name for f in registry.features.list(upstream="items")} == through_join
    assert {f.name for f in registry.features.list(upstream="purchases_enriched")} == through_join
    assert [f.name for f in registry.features.list(upstream="category_sales")] == [
        "category_revenue"
    ]
    assert {f.name for f in registry.features.list(upstream="purchases")} == USER_FEATURES | {
        "category_revenue"
    }
    # The same as each feature's own lineage says.
    for summary in registry.features.list():
        described = registry.features.describe(summary.name).versions[-1].upstream
        assert sorted(summary.upstream) == sorted(t.name for t in described)


def test_sources_and_entities_are_listed(registry):
    assert [s.name for s in registry.list_sources()] == ["items", "purchases"]
    users = next(e for e in registry.list_entities() if e.name == "user")
    assert users.definition["key"] == "user_id"
    assert registry.list_training_sets() == []


def test_stats_describe_the_served_values(client):
    events = purchases(whole_second_now())
    client.ingest("purchases", events, wait=True)
    stats = client.features.stats("user_min_amount_7d")
    # Users 1 and 2 bought in the last 7 days (min 2.25 and 7.0); user 3's
    # only purchase is 40 days old, so it serves null.
    online = client.get_online_features(["user_min_amount_7d"], {"user_id": [1, 2, 3]})
    served = [v for v in online["user_min_amount_7d"] if v is not None]
    assert sorted(served) == [2.25, 7.0]
    assert (stats.feature, stats.count, stats.nulls) == ("user_min_amount_7d@v1", 3, 1)
    assert (stats.min, stats.max) == (2.25, 7.0)
    assert stats.mean == pytest.approx(statistics.mean(served))
    assert stats.stddev == pytest.approx(statistics.stdev(served))
    assert sum(count for _, _, count in stats.histogram) == 2
    assert set(stats.quantiles) == {0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99}
    assert stats.buckets == []


def test_stats_over_recent_buckets_are_exact_at_each_end(client):
    events = purchases(whole_second_now())
    client.ingest("purchases", events, wait=True)
    stats = client.features.stats("user_min_amount_7d", buckets=3, bucket="1d")
    ends = [b.evaluated_at for b in stats.buckets]
    assert ends[-1] == stats.evaluated_at
    assert [later - earlier for earlier, later in zip(ends, ends[1:])] == [DAY, DAY]
    for bucket in stats.buckets:
        # Users 1-3 at the bucket's end, by brute force over the events.
        values = [min_amount(events, u, bucket.evaluated_at, 7 * DAY) for u in (1, 2, 3)]
        served = [v for v in values if v is not None]
        assert (bucket.count, bucket.nulls) == (3, values.count(None)), bucket
        assert (bucket.min, bucket.max) == (min(served), max(served)), bucket
        assert bucket.mean == pytest.approx(statistics.mean(served))
        assert bucket.buckets == []
    # Two days back only user 1's 10.0 and 20.0 were in the week; now 2.25 is.
    assert [b.min for b in stats.buckets] == [10.0, 20.0, 2.25]
    with pytest.raises(freshet.InvalidArgumentError, match="bucket 'fortnight'"):
        client.features.stats("user_min_amount_7d", buckets=2, bucket="fortnight")
    with pytest.raises(freshet.InvalidArgumentError, match="at most 30"):
        client.features.stats("user_min_amount_7d", buckets=31)


def example_with(tmp_path, old: str, new: str):
    """The example's definitions with ``old`` replaced by ``new``, beside the
    original's items.csv by absolute path (so the items source is unchanged)."""
    path = tmp_path / "definitions.yaml"
    text = EXAMPLE.read_text()
    assert old in text
    path.write_text(
        text.replace(old, new).replace(
            "file://items.csv", f"file://{EXAMPLE.parent / 'items.csv'}"
        )
    )
    return path


def test_apply_returns_the_plan(client, tmp_path):
    assert {c.action for c in client.apply(EXAMPLE).changes} == {"unchanged"}
    longer = example_with(tmp_path, "    window: 7d\n    type: float64", "    window: 14d\n    type: float64")
    plan = client.apply(longer, dry_run=True)
    assert plan.dry_run
    moved = [c for c in plan.changes if c.action != "unchanged"]
    assert [(c.kind, c.name, c.action, c.version, c.previous_version) for c in moved] == [
        ("feature", "user_spend_7d", "new_version", 2, 1)
    ]
    assert [v.version for v in client.features.describe("user_spend_7d").versions] == [1]
    applied = client.apply(longer)
    assert not applied.dry_run
    versions = client.features.describe("user_spend_7d").versions
    assert [v.version for v in versions] == [1, 2]
    assert versions[1].applied_by == client.user
    assert client.wait_for("user_spend_7d@v2", timeout=60).state in ("READY", "ACTIVE")


def test_owner_tags_and_description_change_in_place(server, tmp_path):
    with freshet.Client(server.address, user="ana@laptop") as client:
        check_metadata_in_place(client, tmp_path)


def check_metadata_in_place(client: freshet.Client, tmp_path) -> None:
    owned = example_with(
        tmp_path,
        "    description: Total spend in the last 7 days\n",
        "    description: Total spend over the last 7 days\n"
        "    owner: Growth Team\n"
        "    tags: [revenue, tier:gold]\n",
    )
    client.ingest("purchases", purchases(whole_second_now()), wait=True)
    served = client.get_online_features(["user_spend_7d"], {"user_id": [1, 2, 3]})
    before = dt.datetime.now(dt.timezone.utc)
    plan = client.apply(owned)
    after = dt.datetime.now(dt.timezone.utc)
    moved = [c for c in plan.changes if c.action != "unchanged"]
    assert [(c.name, c.action, c.version) for c in moved] == [
        ("user_spend_7d", "metadata_updated", 1)
    ]
    (spend,) = client.features.list(owner="growth team", tags=["REVENUE"])
    assert (spend.name, spend.version, spend.owner, spend.tags) == (
        "user_spend_7d", 1, "Growth Team", ["revenue", "tier:gold"],
    )
    assert spend.description == "Total spend over the last 7 days"
    assert client.features.list(tags=["revenue", "pii"]) == []
    # Inside a name ranks above a tag; a tag matches as a whole word.
    assert [f.name for f in client.features.search("revenue")] == [
        "category_revenue", "user_spend_7d",
    ]
    assert [f.name for f in client.features.search("TIER:GOLD")] == ["user_spend_7d"]
    assert [f.name for f in client.features.search("growth")] == ["user_spend_7d"]
    (v1,) = client.features.describe("user_spend_7d").versions
    assert v1.applied_by == "freshet serve --apply"
    assert v1.metadata_updated_by == "ana@laptop"
    # Microseconds on both sides: the server's clock read between ours.
    assert before - dt.timedelta(milliseconds=1) <= v1.metadata_updated_at <= after
    assert client.wait_for("user_spend_7d", timeout=60).state == "ACTIVE"
    # Nothing was recomputed or lost: the same version serves the same values.
    again = client.get_online_features(["user_spend_7d"], {"user_id": [1, 2, 3]})
    assert again.feature_versions == ["user_spend_7d@v1"]
    assert again["user_spend_7d"] == served["user_spend_7d"]
    assert served["user_spend_7d"][0] > 0
