"""Point-in-time-correct training sets over Arrow Flight: the request as a
Flight ticket, the label rows it carries, and the progress bar."""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa

from freshet._arrow import for_server, ipc_stream, to_table


def labels_fields(labels: Any) -> tuple[dict[str, Any], int | None]:
    """The ticket fields for ``labels`` and the number of label rows when known:
    a DataFrame or Table goes inline (``labels_arrow_ipc``, base64); a path or
    URI (``s3://``, ``file://``) is read by the server, so a local path must
    be one the server can open."""
    if labels is None:
        return {}, None
    if isinstance(labels, (str, os.PathLike)):
        text = os.fspath(labels)
        if "://" not in text:
            text = str(Path(text).resolve())
        return {"labels_uri": text}, None
    table = for_server(to_table(labels, "labels"))
    encoded = base64.b64encode(ipc_stream(table)).decode("ascii")
    return {"labels_arrow_ipc": encoded}, table.num_rows


def ticket(
    training_set: str | None,
    label: str | None,
    features: list[str] | None,
    labels: dict[str, Any],
    timestamp_column: str | None,
    feature_offset: str | None,
    entities: dict[str, str] | None,
) -> bytes:
    """The Flight ticket: a GenerateTrainingSetRequest as JSON."""
    request: dict[str, Any] = dict(labels)
    if training_set:
        request["training_set"] = training_set
    if label:
        request["label"] = label
    if features:
        request["features"] = list(features)
    if timestamp_column:
        request["timestamp_column"] = timestamp_column
    if feature_offset:
        request["feature_offset"] = feature_offset
    if entities:
        request["entities"] = dict(entities)
    return json.dumps(request).encode()


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ipython = shell.get_ipython()  # type: ignore[attr-defined]
    return ipython is not None and "IPKernelApp" in getattr(ipython, "config", {})


def progress_bar(show: bool | None, total: int | None) -> Any:
    """A tqdm bar counting rows (a widget in notebooks), or None: shown when
    ``show`` is True, or when it is None and the output is a notebook or a
    terminal."""
    if show is None:
        show = _in_notebook() or sys.stderr.isatty()
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="rows", desc="training set")


def read_all(reader: Any, bar: Any) -> pa.Table:
    """Every batch of a Flight stream, counted on ``bar`` as it arrives."""
    batches = []
    try:
        while True:
            try:
                chunk = reader.read_chunk()
            except StopIteration:
                break
            batches.append(chunk.data)
            if bar is not None:
                bar.update(chunk.data.num_rows)
    finally:
        if bar is not None:
            bar.close()
    return pa.Table.from_batches(batches, schema=reader.schema)
