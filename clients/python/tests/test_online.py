"""get_online_features against the real server: values equal a brute-force
reference of the events ingested, in every shape the keys and answer take."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest

import freshet
from events import DAY, count, last_category, purchases, spend, whole_second_now

FEATURES = ["user_spend_7d", "user_purchases_1d", "user_last_category", "user_first_purchase_at"]


@pytest.fixture
def loaded(client: freshet.Client) -> tuple[freshet.Client, pd.DataFrame]:
    now = whole_second_now()
    events = purchases(now)
    result = client.ingest("purchases", events, wait=True)
    assert (result.accepted, result.rejected, result.late) == (len(events), 0, 0)
    return client, events


def expected_rows(events: pd.DataFrame, users: list[int], at: dt.datetime) -> dict[str, list]:
    firsts = {
        u: events[events["user_id"] == u]["ts"].min().to_pydatetime() for u in users
    }
    return {
        "user_id": users,
        "user_spend_7d": [spend(events, u, at, 7 * DAY) for u in users],
        "user_purchases_1d": [count(events, u, at, DAY) for u in users],
        "user_last_category": [last_category(events, u, at) or "none" for u in users],
        "user_first_purchase_at": [firsts[u] for u in users],
    }


def test_values_equal_a_brute_force_of_the_events(loaded):
    client, events = loaded
    online = client.get_online_features(FEATURES, {"user_id": [1, 2, 3]})
    assert isinstance(online, dict)
    assert online.to_dict() == expected_rows(events, [1, 2, 3], online.evaluated_at)
    assert online.key_column == "user_id"
    assert online.feature_versions == [f"{f}@v1" for f in FEATURES]
    assert online.types == ["float64", "int64", "string", "timestamp"]
    assert online["user_first_purchase_at"][0].tzinfo == dt.timezone.utc


def test_a_key_without_events_gets_defaults_and_nulls(loaded):
    client, _ = loaded
    online = client.get_online_features(FEATURES, {"user_id": [404]})
    # Defaults from the definitions: 0.0, 0, "none"; first(ts) has none: null.
    assert online.to_dict() == {
        "user_id": [404],
        "user_spend_7d": [0.0],
        "user_purchases_1d": [0],
        "user_last_category": ["none"],
        "user_first_purchase_at": [None],
    }


def test_keys_as_dict_dataframe_or_series_by_entity_or_key_column(loaded):
    client, _ = loaded
    by_dict = client.get_online_features(FEATURES, {"user_id": [3, 1]}).to_dict()
    by_entity = client.get_online_features(FEATURES, {"user": [3, 1]}).to_dict()
    frame = pd.DataFrame({"user_id": [3, 1]})
    by_frame = client.get_online_features(FEATURES, frame).to_dict()
    by_series = client.get_online_features(FEATURES, frame["user_id"]).to_dict()
    assert by_dict == by_entity == by_frame == by_series
    assert by_dict["user_id"] == [3, 1]


def test_arrow_and_pandas_are_typed(loaded):
    client, events = loaded
    online = client.get_online_features(FEATURES, {"user_id": [1, 404]})
    table = online.to_arrow()
    assert table.schema == pa.schema(
        [
            ("user_id", pa.int64()),
            ("user_spend_7d", pa.float64()),
            ("user_purchases_1d", pa.int64()),
            ("user_last_category", pa.string()),
            ("user_first_purchase_at", pa.timestamp("us", tz="UTC")),
        ]
    )
    frame = online.to_pandas()
    assert list(frame.columns) == list(table.column_names)
    assert frame["user_first_purchase_at"].iloc[0] == events[events.user_id == 1]["ts"].min()
    assert pd.isna(frame["user_first_purchase_at"].iloc[1])
    assert str(frame["user_first_purchase_at"].dtype).endswith("UTC]")


def test_more_keys_than_one_request_carries_come_back_in_order(loaded):
    client, events = loaded
    users = list(range(25_000, 0, -1))
    online = client.get_online_features(["user_spend_7d"], {"user_id": users})
    assert online["user_id"] == users
    at = online.evaluated_at
    expected = {u: spend(events, u, at, 7 * DAY) for u in (1, 2, 3)}
    assert online["user_spend_7d"] == [expected.get(u, 0.0) for u in users]


def test_keys_of_the_wrong_shape_are_refused_before_sending(client):
    with pytest.raises(ValueError, match="key #1 is missing"):
        client.get_online_features(FEATURES, {"user_id": [1, None]})
    with pytest.raises(ValueError, match=r"key #0 \(1.5\) is a float"):
        client.get_online_features(FEATURES, {"user_id": [1.5]})
    with pytest.raises(ValueError, match="one entry"):
        client.get_online_features(FEATURES, {"user_id": [1], "item_id": [2]})
    with pytest.raises(ValueError, match="more than once"):
        client.get_online_features(["user_spend_7d", "user_spend_7d"], {"user_id": [1]})
