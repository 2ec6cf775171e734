"""Online feature values: the keys a caller asks for, turned into a request,
and the answer as a dict of columns that also converts to pandas and Arrow."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd
import pyarrow as pa

from freshet._arrow import UTC_MICROS, utc_micros
from freshet.v1 import feature_store_pb2 as pb

#: The most keys one GetOnlineFeatures request carries; more are sent in
#: several requests and their rows put together in order.
KEYS_PER_REQUEST = 10_000

_ARROW_TYPES: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float32": pa.float32(),
    "float64": pa.float64(),
    "string": pa.string(),
    "timestamp": UTC_MICROS,
}


def entity_keys(entities: Any) -> tuple[str, list[Any]]:
    """The entity's name (or key column) and its keys, from a dict of one list
    (``{"user_id": [1, 2]}``), a DataFrame of one column, or a named Series."""
    if isinstance(entities, pd.Series):
        if entities.name is None:
            raise ValueError("entities: a Series must be named by the entity or its key column")
        return str(entities.name), entities.tolist()
    if isinstance(entities, pd.DataFrame):
        if len(entities.columns) != 1:
            raise ValueError(
                "entities: a DataFrame of one column, named by the entity or its key column, "
                f"is expected; got columns {list(entities.columns)}"
            )
        name = entities.columns[0]
        return str(name), entities[name].tolist()
    if isinstance(entities, Mapping):
        if len(entities) != 1:
            raise ValueError(
                "entities: one entry, {key_column: [keys]}, is expected; "
                f"got {list(entities)}"
            )
        ((name, keys),) = entities.items()
        if isinstance(keys, (str, bytes, int, bool)):
            keys = [keys]
        return str(name), list(keys)
    raise TypeError(
        "entities must be a dict {key_column: [keys]}, a DataFrame of one column "
        f"or a named Series, not {type(entities).__name__}"
    )


def key_to_proto(key: Any, position: int) -> pb.EntityKey:
    """One entity key as sent: an int, a string or a bool (NumPy scalars too);
    anything else, or a missing key, is refused naming its position."""
    if hasattr(key, "item") and not isinstance(key, (str, bytes)):
        key = key.item()
    if isinstance(key, bool):
        return pb.EntityKey(bool_value=key)
    if isinstance(key, int):
        return pb.EntityKey(int_value=key)
    if isinstance(key, str):
        return pb.EntityKey(string_value=key)
    if isinstance(key, float) and key.is_integer():
        return pb.EntityKey(int_value=int(key))
    if key is None or (isinstance(key, float) and math.isnan(key)):
        raise ValueError(f"entities: key #{position} is missing (None or NaN)")
    raise ValueError(
        f"entities: key #{position} ({key!r}) is a {type(key).__name__}; "
        "keys are ints, strings or bools"
    )


def _key_value(key: pb.EntityKey) -> Any:
    which = key.WhichOneof("key")
    return None if which is None else getattr(key, which)


def _value(value: pb.FeatureValue) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "timestamp_micros":
        return utc_micros(value.timestamp_micros)
    return getattr(value, which)


class OnlineFeatures(dict):
    """The answer of :meth:`freshet.Client.get_online_features`: a dict of
    columns, the key column first (named as the entity's key column, as in
    training sets), then one per requested feature in request order, each a
    list with one value per key (``None`` where a key has no value).

    ``feature_versions`` lists the versions read (``name@vN``), ``types`` their
    value types, and ``evaluated_at`` the instant the values hold at.

    Example::

        >>> online = client.get_online_features(["user_spend_7d"], {"user_id": [1, 2]})
        >>> online["user_spend_7d"]
        [25.5, 7.0]
        >>> online.to_pandas()
           user_id  user_spend_7d
        0        1           25.5
        1        2            7.0
    """

    def __init__(
        self,
        columns: dict[str, list[Any]],
        key_column: str,
        key_type: pa.DataType,
        feature_versions: list[str],
        types: list[str],
        evaluated_at: dt.datetime,
    ) -> None:
        super().__init__(columns)
        self.key_column = key_column
        self.feature_versions = feature_versions
        self.types = types
        self.evaluated_at = evaluated_at
        self._key_type = key_type

    def to_arrow(self) -> pa.Table:
        """The columns as a pyarrow Table, typed by the features' value types
        (timestamps as UTC microseconds)."""
        names = list(self.keys())
        arrays = [pa.array(self[self.key_column], type=self._key_type)]
        for name, type_name in zip(names[1:], self.types):
            arrays.append(pa.array(self[name], type=_ARROW_TYPES[type_name]))
        return pa.Table.from_arrays(arrays, names=names)

    def to_pandas(self) -> pd.DataFrame:
        """The columns as a pandas DataFrame (through :meth:`to_arrow`)."""
        return self.to_arrow().to_pandas()

    def to_dict(self) -> dict[str, list[Any]]:
        """The columns as a plain dict."""
        return dict(self)


def online_features(
    features: list[str], responses: list[pb.GetOnlineFeaturesResponse]
) -> OnlineFeatures:
    """The rows of one or more responses (keys split over requests), in order."""
    first = responses[0]
    key_column = first.key_column
    columns: dict[str, list[Any]] = {key_column: []}
    for name in features:
        columns[name] = []
    key_type = pa.int64()
    for response in responses:
        for row in response.rows:
            key = _key_value(row.key)
            if isinstance(key, bool):
                key_type = pa.bool_()
            elif isinstance(key, str):
                key_type = pa.string()
            columns[key_column].append(key)
            for name, value in zip(features, row.values):
                columns[name].append(_value(value))
    return OnlineFeatures(
        columns,
        key_column,
        key_type,
        list(first.features),
        list(first.types),
        utc_micros(first.evaluated_at_micros),
    )
