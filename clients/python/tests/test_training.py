"""get_training_set against the real server over Arrow Flight: rows equal a
brute-force point-in-time reference, from labels given inline or as a file,
with an offset, and a million rows streamed in batches."""

from __future__ import annotations

import datetime as dt
import random

import pandas as pd
import pyarrow as pa
import pytest

import freshet
from events import DAY, HOUR, categories, count, last_category, purchases, spend, whole_second_now

FEATURES = ["user_spend_7d", "user_purchases_1d", "user_last_category"]


def brute_force(events: pd.DataFrame, labels: pd.DataFrame, offset: dt.timedelta) -> dict:
    at = [t.to_pydatetime() - offset for t in labels["ts"]]
    users = labels["user_id"].tolist()
    return {
        "user_spend_7d": [spend(events, u, t, 7 * DAY) for u, t in zip(users, at)],
        "user_purchases_1d": [count(events, u, t, DAY) for u, t in zip(users, at)],
        "user_last_category": [last_category(events, u, t) or "none" for u, t in zip(users, at)],
    }


@pytest.fixture
def history(client: freshet.Client):
    now = whole_second_now()
    events = purchases(now)
    client.ingest("purchases", events, wait=True)
    # Label instants between the events, and none within a second of one.
    labels = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 1, 2, 2, 3, 404],
            "ts": [
                now - 9 * DAY, now - 5 * DAY, now - 90 * dt.timedelta(minutes=1),
                now - dt.timedelta(minutes=10), now - HOUR, now - dt.timedelta(minutes=5),
                now - 39 * DAY, now,
            ],
            "churned": [0, 0, 1, 0, 1, 0, 1, 0],
        }
    )
    return client, events, labels


def test_rows_equal_a_point_in_time_brute_force(history):
    client, events, labels = history
    table = client.get_training_set(features=FEATURES, labels=labels, timestamp_column="ts")
    assert isinstance(table, pa.Table)
    assert table.column_names == ["user_id", "ts", "churned", *FEATURES]
    assert table.select(FEATURES).to_pydict() == brute_force(events, labels, dt.timedelta(0))
    assert table.column("churned").to_pylist() == labels["churned"].tolist()
    frame = table.to_pandas()
    assert frame["ts"].tolist() == labels["ts"].tolist()


def test_an_offset_moves_every_feature_back(history):
    client, events, labels = history
    table = client.get_training_set(
        features=FEATURES, labels=labels, timestamp_column="ts", feature_offset="1h"
    )
    assert table.select(FEATURES).to_pydict() == brute_force(events, labels, HOUR)


def test_labels_from_a_file_the_server_reads(history, tmp_path):
    client, events, labels = history
    path = tmp_path / "labels.parquet"
    labels.to_parquet(path)
    table = client.get_training_set(features=FEATURES, labels=path, timestamp_column="ts")
    assert table.select(FEATURES).to_pydict() == brute_force(events, labels, dt.timedelta(0))


def test_a_progress_bar_counts_the_rows(history, capsys):
    client, _, labels = history
    client.get_training_set(
        features=FEATURES, labels=labels, timestamp_column="ts", progress=True
    )
    err = capsys.readouterr().err
    assert f"{len(labels)}/{len(labels)}" in err, err


def test_a_million_rows_stream_in_batches(client):
    now = whole_second_now()
    rng = random.Random(7)
    items = sorted(categories())
    users = 1000
    rows = []
    for i in range(4000):
        at = now - dt.timedelta(seconds=rng.randrange(1, 10 * 86400))
        rows.append((rng.randrange(users), rng.choice(items), round(rng.uniform(1, 100), 2), at))
    events = pd.DataFrame(rows, columns=["user_id", "item_id", "amount", "ts"]).sort_values(
        "ts", kind="stable"
    )
    assert client.ingest("purchases", events, wait=True).accepted == len(events)
    n = 1_000_000
    labels = pd.DataFrame(
        {
            "user_id": [rng.randrange(users) for _ in range(n)],
            "ts": [now - dt.timedelta(seconds=rng.randrange(0, 10 * 86400)) for _ in range(n)],
        }
    )
    table = client.get_training_set(
        features=["user_spend_7d", "user_purchases_1d"], labels=labels, timestamp_column="ts"
    )
    assert table.num_rows == n
    assert table.column("user_spend_7d").num_chunks > 1
    assert table.column("user_id").to_pylist() == labels["user_id"].tolist()
    sample = sorted(rng.sample(range(n), 300))
    picked = labels.iloc[sample]
    spent = table.column("user_spend_7d").take(sample).to_pylist()
    counted = table.column("user_purchases_1d").take(sample).to_pylist()
    for (user, at), got_spend, got_count in zip(
        zip(picked["user_id"], picked["ts"]), spent, counted
    ):
        at = at.to_pydatetime()
        assert got_spend == pytest.approx(spend(events, user, at, 7 * DAY), rel=1e-12)
        assert got_count == count(events, user, at, DAY)
