"""Events into a stream source: the caller's data cut into requests under the
server's size limit, each with the row its data starts at, so refused rows
are numbered as in the caller's data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from freshet._arrow import for_server, ipc_stream, to_table
from freshet.errors import RowError
from freshet.v1 import feature_store_pb2 as pb

#: The most bytes of events one Ingest request carries (the server takes up
#: to 64 MiB); larger inputs are sent in several requests.
REQUEST_BYTES = 16 << 20


@dataclass
class IngestResult:
    """What an ingest did: rows accepted, rows rejected (kept in the source's
    rejected-events topic, with ``skip_bad_rows``), rows refused as late, and
    every refused row with its 0-based row in the data given, column and
    reason."""

    accepted: int = 0
    rejected: int = 0
    late: int = 0
    errors: list[RowError] = field(default_factory=list)
    requests: int = 0


@dataclass(frozen=True)
class Chunk:
    """One request's events: the payload, its format, and the row of the
    caller's data it starts at."""

    data: bytes
    format: int
    first_row: int


def _table_chunks(table: pa.Table) -> Iterator[Chunk]:
    table = for_server(table)
    if table.num_rows == 0:
        yield Chunk(ipc_stream(table), pb.PAYLOAD_FORMAT_ARROW_IPC, 0)
        return
    per_row = max(1, table.nbytes // table.num_rows)
    rows = max(1, REQUEST_BYTES // per_row)
    for start in range(0, table.num_rows, rows):
        part = table.slice(start, rows)
        yield Chunk(ipc_stream(part), pb.PAYLOAD_FORMAT_ARROW_IPC, start)


def _text_chunks(path: Path, payload_format: int) -> Iterator[Chunk]:
    """A CSV or JSON-lines file, whole when small; otherwise cut at line ends
    (a CSV's header repeated in every request), so a CSV value holding a line
    break must be in a file under REQUEST_BYTES."""
    data = path.read_bytes()
    if len(data) <= REQUEST_BYTES:
        yield Chunk(data, payload_format, 0)
        return
    lines = data.splitlines(keepends=True)
    header = b""
    if payload_format == pb.PAYLOAD_FORMAT_CSV:
        header, lines = lines[0], lines[1:]
    start = 0
    while start < len(lines):
        size = len(header)
        end = start
        while end < len(lines) and (end == start or size + len(lines[end]) <= REQUEST_BYTES):
            size += len(lines[end])
            end += 1
        yield Chunk(header + b"".join(lines[start:end]), payload_format, start)
        start = end


def chunks(data: Any) -> Iterator[Chunk]:
    """The requests for ``data``: a DataFrame or pyarrow Table (sent as Arrow),
    or a path to a .csv, .json/.jsonl (JSON lines) or .parquet file."""
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return _text_chunks(path, pb.PAYLOAD_FORMAT_CSV)
        if suffix in (".json", ".jsonl", ".ndjson"):
            return _text_chunks(path, pb.PAYLOAD_FORMAT_JSON_LINES)
        if suffix == ".parquet":
            return _table_chunks(pq.read_table(path))
        raise ValueError(
            f"{path}: ingest reads .csv, .json/.jsonl (JSON lines) and .parquet files, "
            f"not '{suffix or 'no extension'}'"
        )
    return _table_chunks(to_table(data, "data"))
