"""Errors as a caller meets them: refused rows with their row, column and
reason (numbered over the whole data, however it was split), refused
definitions located, unknown names, and a server that is not there."""

from __future__ import annotations

import base64
import json
import socket

import pandas as pd
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import freshet
from freshet import ingest as ingesting
from freshet.v1 import feature_store_pb2 as pb
from events import purchases, whole_second_now


def bad_purchases() -> pd.DataFrame:
    frame = purchases(whole_second_now())
    frame["user_id"] = frame["user_id"].astype(object)
    frame.loc[2, "user_id"] = "not a number"
    frame.loc[4, "ts"] = None
    return frame


def test_bad_rows_refuse_the_request_naming_each(client):
    with pytest.raises(freshet.InvalidArgumentError) as refused:
        client.ingest("purchases", bad_purchases())
    error = refused.value
    assert error.code == "INVALID_ARGUMENT"
    assert [(r.row, r.column) for r in error.rows] == [(2, "user_id"), (4, "ts")]
    assert all(r.reason for r in error.rows)
    assert error.accepted_before == 0
    assert client.status().sources[0].events_accepted == 0


def test_bad_rows_of_a_csv_file_are_numbered_from_the_first_data_row(client, tmp_path):
    path = tmp_path / "purchases.csv"
    path.write_text(
        "user_id,item_id,amount,ts\n"
        "1,1,10.0,2026-11-01T10:00:00Z\n"
        "2,2,oops,2026-11-01T10:01:00Z\n"
    )
    with pytest.raises(freshet.InvalidArgumentError) as refused:
        client.ingest("purchases", path)
    assert [(r.row, r.column) for r in refused.value.rows] == [(1, "amount")]


def test_skipped_rows_are_returned_and_the_rest_kept(client):
    result = client.ingest("purchases", bad_purchases(), skip_bad_rows=True, wait=True)
    assert (result.accepted, result.rejected) == (4, 2)
    assert [(r.row, r.column) for r in result.errors] == [(2, "user_id"), (4, "ts")]


def test_rows_are_numbered_over_the_whole_data_when_it_is_split(client, monkeypatch):
    # One row per request: row 4's error comes from the fifth request.
    monkeypatch.setattr(ingesting, "REQUEST_BYTES", 1)
    with pytest.raises(freshet.InvalidArgumentError) as refused:
        client.ingest("purchases", bad_purchases().iloc[3:])
    # Rows 3 and 4 of the original are rows 0 and 1 here; row 1 is refused
    # after row 0 was written.
    assert [(r.row, r.column) for r in refused.value.rows] == [(1, "ts")]
    assert refused.value.accepted_before == 1
    skipped = client.ingest("purchases", bad_purchases(), skip_bad_rows=True)
    assert skipped.requests == 6
    assert [(r.row, r.column) for r in skipped.errors] == [(2, "user_id"), (4, "ts")]


def test_bad_definitions_carry_every_problem(client):
    definitions = {
        "sources": [
            {
                "name": "clicks",
                "stream": {"topic": "clicks", "format": "json"},
                "schema": {"user_id": "int64", "ts": "timestamp"},
                "event_time": "when",
            }
        ],
        "entities": [{"name": "user", "key": "user_id"}],
        "features": [
            {"name": "clicks_1d", "entity": "user", "source": "clicks",
             "aggregate": "count(*)", "window": "one day"}
        ],
    }
    with pytest.raises(freshet.InvalidArgumentError) as refused:
        client.apply(definitions)
    found = {(p.object, p.field) for p in refused.value.problems}
    assert ("source 'clicks'", "event_time") in found
    assert ("feature 'clicks_1d'", "window") in found
    assert all(p.file == "definitions.json" and p.reason for p in refused.value.problems)


def test_unknown_names_are_not_found(client):
    with pytest.raises(freshet.NotFoundError, match="feature 'nope' not found"):
        client.get_online_features(["nope"], {"user_id": [1]})
    with pytest.raises(freshet.NotFoundError, match="nope"):
        client.features.describe("nope")
    with pytest.raises(freshet.NotFoundError, match="nope"):
        client.get_training_set(training_set="nope")
    with pytest.raises(freshet.InvalidArgumentError, match="entity 'user'"):
        client.get_online_features(["user_spend_7d"], {"category": ["books"]})


def test_a_server_that_is_down_is_a_connection_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    # Nothing listens there now.
    with freshet.Client(address, timeout=5) as client:
        with pytest.raises(freshet.UnavailableError, match=f"cannot reach the Freshet server at {address}") as down:
            client.status()
        assert isinstance(down.value, ConnectionError)
        with pytest.raises(freshet.UnavailableError, match=address):
            client.get_training_set(training_set="churn")


def test_waiting_longer_than_the_timeout_is_a_timeout(client, tmp_path):
    with pytest.raises(freshet.NotFoundError):
        client.wait_for("nope@v1", timeout=5)
    status = client.wait_for("user_spend_7d", timeout=30)
    assert (status.name, status.state) == ("user_spend_7d", "ACTIVE")


def test_arrow_bytes_claiming_more_than_they_hold_are_refused(client):
    # Eight bytes stating a 2 GiB message: refused, not allocated (found by fuzzing).
    claim = b"\xff\xff\xff\xff\xff\xff\xff\x7f"
    request = pb.IngestRequest(
        source="purchases", format=pb.PAYLOAD_FORMAT_ARROW_IPC, data=claim
    )
    with pytest.raises(freshet.InvalidArgumentError, match="states 2147483647 bytes"):
        client._call("Ingest", request)
    ticket = {"features": ["user_spend_7d"], "timestamp_column": "ts",
              "labels_arrow_ipc": base64.b64encode(claim).decode()}
    with pytest.raises(pa.ArrowInvalid, match="states 2147483647 bytes"):
        client._flight.do_get(flight.Ticket(json.dumps(ticket).encode())).read_all()
    assert client.status().sources[0].events_accepted == 0
