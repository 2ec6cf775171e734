"""Arrow conversions shared by the client: timestamps go to the server as UTC
microseconds without a zone (Freshet's timestamp type) and come back marked
UTC; pandas frames become tables without their index."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pandas as pd
import pyarrow as pa

UTC_MICROS = pa.timestamp("us", tz="UTC")

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def utc_micros(micros: int) -> dt.datetime:
    """An instant in microseconds since the Unix epoch as a UTC datetime."""
    return _EPOCH + dt.timedelta(microseconds=micros)


def to_table(data: Any, what: str) -> pa.Table:
    """``data`` (a pandas DataFrame, a pyarrow Table or RecordBatch) as a table;
    ``what`` names it in the error for anything else."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pd.DataFrame):
        try:
            return pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # A column of mixed values (numbers and text) goes as text, so the
            # server checks it row by row and names each bad row.
            mixed = {
                name: data[name].map(lambda v: None if pd.isna(v) else str(v))
                for name in data.columns
                if data[name].dtype == object
            }
            return pa.Table.from_pandas(data.assign(**mixed), preserve_index=False)
    raise TypeError(
        f"{what} must be a pandas DataFrame, a pyarrow Table or a file path, "
        f"not {type(data).__name__}"
    )


def for_server(table: pa.Table) -> pa.Table:
    """``table`` with every timestamp column as UTC microseconds without a zone:
    a zoned timestamp keeps its instant, a zoneless one is taken as UTC, and
    precision below a microsecond is cut (Freshet keeps microseconds)."""
    columns = []
    fields = []
    for field, column in zip(table.schema, table.columns):
        if pa.types.is_timestamp(field.type) or pa.types.is_date(field.type):
            target = pa.timestamp("us")
            if pa.types.is_timestamp(field.type) and field.type.tz is not None:
                # The stored values are UTC instants; dropping the zone keeps them.
                column = column.cast(pa.timestamp(field.type.unit))
            column = column.cast(target, safe=False)
            field = pa.field(field.name, target, field.nullable)
        columns.append(column)
        fields.append(field)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def from_server(table: pa.Table) -> pa.Table:
    """``table`` with its zoneless timestamp columns marked UTC, as the server
    means them."""
    fields = []
    for field in table.schema:
        if pa.types.is_timestamp(field.type) and field.type.tz is None:
            field = pa.field(field.name, pa.timestamp(field.type.unit, tz="UTC"), field.nullable)
        fields.append(field)
    return table.cast(pa.schema(fields))


def ipc_stream(table: pa.Table) -> bytes:
    """``table`` as the bytes of an Arrow IPC stream."""
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()
