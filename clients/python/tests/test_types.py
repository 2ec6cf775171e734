"""Every column type through the client both ways: events in from pandas and
Arrow, values out of get_online_features and training sets, nulls and time
zones included."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

import freshet
from conftest import Server

DEFINITIONS = """
sources:
  - name: readings
    stream: { topic: readings, format: json }
    schema: { device: string, i: int64, f: float64, s: string, b: bool, t: timestamp, ts: timestamp }
    event_time: ts
entities:
  - { name: device, key: device }
features:
  - { name: last_i, entity: device, source: readings, aggregate: last(i) }
  - { name: last_f, entity: device, source: readings, aggregate: last(f) }
  - { name: last_s, entity: device, source: readings, aggregate: last(s) }
  - { name: last_b, entity: device, source: readings, aggregate: last(b) }
  - { name: last_t, entity: device, source: readings, aggregate: last(t) }
"""
FEATURES = ["last_i", "last_f", "last_s", "last_b", "last_t"]
PARIS = "Europe/Paris"


@pytest.fixture
def typed(tmp_path: Path):
    definitions = tmp_path / "typed.yaml"
    definitions.write_text(DEFINITIONS)
    server = Server(tmp_path / "data", definitions)
    with freshet.Client(server.address) as client:
        yield client
    server.stop()


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_events_from_pandas_and_arrow_come_back_typed(typed):
    # Device a from pandas, its t in Paris time (12:30+01:00 is 11:30 UTC);
    # device b from an Arrow table, t without a zone (taken as UTC).
    frame = pd.DataFrame(
        {
            "device": ["a", "a"],
            "i": [1, -(2**62)],
            "f": [0.5, 1e-300],
            "s": ["first", "héllo, \"wörld\"\n"],
            "b": [False, True],
            "t": pd.to_datetime(["2026-01-01 00:00", "2026-06-01 12:30"]).tz_localize(PARIS),
            "ts": pd.to_datetime(["2026-11-01 10:00", "2026-11-01 11:00"], utc=True),
        }
    )
    assert typed.ingest("readings", frame, wait=True).accepted == 2
    table = pa.table(
        {
            "device": ["b"],
            "i": pa.array([7], pa.int32()),
            "f": pa.array([2.0], pa.float32()),
            "s": [""],
            "b": [False],
            "t": pa.array([dt.datetime(2026, 3, 4, 5, 6, 7, 891011)], pa.timestamp("us")),
            "ts": pa.array([dt.datetime(2026, 11, 2)], pa.timestamp("ns")),
        }
    )
    assert typed.ingest("readings", table, wait=True).accepted == 1

    online = typed.get_online_features(FEATURES, {"device": ["a", "b", "never"]})
    assert online.to_dict() == {
        "device": ["a", "b", "never"],
        "last_i": [-(2**62), 7, None],
        "last_f": [1e-300, 2.0, None],
        "last_s": ["héllo, \"wörld\"\n", "", None],
        "last_b": [True, False, None],
        "last_t": [
            dt.datetime(2026, 6, 1, 10, 30, tzinfo=dt.timezone.utc),
            dt.datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=dt.timezone.utc),
            None,
        ],
    }
    assert online.to_arrow().schema.types == [
        pa.string(), pa.int64(), pa.float64(), pa.string(), pa.bool_(),
        pa.timestamp("us", tz="UTC"),
    ]


def test_label_columns_of_every_type_come_back_as_sent(typed):
    frame = pd.DataFrame(
        {
            "device": ["a", "a"],
            "i": [1, 2], "f": [1.0, 2.0], "s": ["x", "y"], "b": [True, False],
            "t": [utc("2026-01-01"), utc("2026-01-02")],
            "ts": [utc("2026-11-01 10:00"), utc("2026-11-01 11:00")],
        }
    )
    typed.ingest("readings", frame, wait=True)
    labels = pd.DataFrame(
        {
            "device": ["a", "a", "zz"],
            "ts": pd.to_datetime(
                ["2026-11-01 11:30", "2026-11-01 12:30", "2026-11-01 13:00"]
            ).tz_localize(PARIS),
            "y_int": pd.array([1, None, 3], dtype="Int64"),
            "y_float": [0.25, None, float("inf")],
            "y_text": ["p", None, "q"],
            "y_bool": pd.array([True, None, False], dtype="boolean"),
            "y_time": [utc("2020-02-29 23:59:59.999999"), pd.NaT, utc("1970-01-01")],
        }
    )
    table = typed.get_training_set(features=FEATURES, labels=labels, timestamp_column="ts")
    assert table.column_names == list(labels.columns) + FEATURES
    sent = pa.Table.from_pandas(labels)
    for column in ["device", "y_int", "y_float", "y_text", "y_bool"]:
        assert table.column(column).to_pylist() == sent.column(column).to_pylist(), column
    back = table.to_pandas()
    assert back["ts"].tolist() == labels["ts"].dt.tz_convert("UTC").tolist()
    assert back["y_time"].isna().tolist() == [False, True, False]
    assert back["y_time"].iloc[0] == utc("2020-02-29 23:59:59.999999")
    # 11:30 Paris is 10:30 UTC: only the 10:00 event is in; 12:30 Paris has both.
    assert table.column("last_i").to_pylist() == [1, 2, None]
    assert table.column("last_t").to_pylist() == [
        dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
        dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc),
        None,
    ]
    assert table.schema.field("last_t").type == pa.timestamp("us", tz="UTC")
