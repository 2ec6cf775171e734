"""The feature registry as the client shows it: what features exist, what
they read and what reads them, and what values they serve."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from freshet._arrow import utc_micros
from freshet.v1 import feature_store_pb2 as pb

T = TypeVar("T")


@dataclass(frozen=True)
class FeatureSummary:
    """A feature at its newest version: name, version, every version stored,
    entity, the source or transformation it aggregates, the aggregate, the
    window (empty for the whole history), value type, description, state
    (ACTIVE, BACKFILLING, ...), owner (empty when none is named), tags, and
    the sources and transformations it reads, directly or through
    transformations (``upstream``)."""

    name: str
    version: int
    versions: list[int]
    entity: str
    source: str
    aggregate: str
    window: str
    type: str
    description: str
    state: str
    owner: str
    tags: list[str]
    upstream: list[str]

    @staticmethod
    def of(p: pb.FeatureSummary) -> FeatureSummary:
        """From its protobuf message."""
        return FeatureSummary(
            p.name, p.version, list(p.versions), p.entity, p.source, p.aggregate,
            p.window, p.type, p.description, p.state, p.owner, list(p.tags),
            list(p.upstream),
        )


@dataclass(frozen=True)
class LineageTable:
    """A source or transformation (``kind``) a feature version reads."""

    kind: str
    name: str
    version: int


@dataclass(frozen=True)
class FeatureVersion:
    """One version of a feature: its state, its definition as applied, the
    sources and transformations it reads, directly or through others, when
    and by whom it was applied (None when not recorded), and when and by whom
    its description, owner or tags last changed in place."""

    version: int
    state: str
    definition: dict[str, Any]
    upstream: list[LineageTable]
    applied_at: dt.datetime | None
    applied_by: str
    metadata_updated_at: dt.datetime | None
    metadata_updated_by: str


def _instant(micros: int) -> dt.datetime | None:
    return None if micros == 0 else utc_micros(micros)


@dataclass(frozen=True)
class FeatureDescription:
    """Every version of a feature, oldest first, and the training sets
    (``name@vN``) that read it."""

    name: str
    versions: list[FeatureVersion]
    training_sets: list[str]

    @staticmethod
    def of(p: pb.DescribeFeatureResponse) -> FeatureDescription:
        """From its protobuf message."""
        return FeatureDescription(
            p.name,
            [
                FeatureVersion(
                    v.version,
                    v.state,
                    json.loads(v.definition_json),
                    [LineageTable(t.kind, t.name, t.version) for t in v.upstream],
                    _instant(v.applied_at_micros),
                    v.applied_by,
                    _instant(v.metadata_updated_at_micros),
                    v.metadata_updated_by,
                )
                for v in p.versions
            ],
            list(p.training_sets),
        )


@dataclass(frozen=True)
class FeatureStats:
    """Statistics of the values a feature version serves now, over the keys
    its state holds (``truncated`` when there were more than were read):
    count, nulls, mean, stddev, min, max (None without numeric values),
    quantiles by q, a histogram of (low, high, count) bins, and, when asked
    for, the same at the end of each recent bucket (``buckets``, oldest
    first, each with ``evaluated_at`` its end)."""

    feature: str
    evaluated_at: dt.datetime
    truncated: bool
    count: int
    nulls: int
    mean: float | None
    stddev: float | None
    min: float | None
    max: float | None
    quantiles: dict[float, float]
    histogram: list[tuple[float, float, int]]
    buckets: list[FeatureStats]

    @staticmethod
    def of(p: pb.FeatureStatsResponse) -> FeatureStats:
        """From its protobuf message."""

        def optional(name: str) -> float | None:
            return getattr(p, name) if p.HasField(name) else None

        return FeatureStats(
            p.feature,
            utc_micros(p.evaluated_at_micros),
            p.truncated,
            p.count,
            p.nulls,
            optional("mean"),
            optional("stddev"),
            optional("min"),
            optional("max"),
            {q.q: q.value for q in p.quantiles},
            [(b.low, b.high, b.count) for b in p.histogram],
            [FeatureStats.of(b) for b in p.buckets],
        )


@dataclass(frozen=True)
class RegistryObject:
    """A source, entity or training set at its newest version, with every
    version stored, its description, owner and tags, and its definition as
    applied."""

    name: str
    version: int
    versions: list[int]
    description: str
    owner: str
    tags: list[str]
    definition: dict[str, Any]

    @staticmethod
    def of(p: pb.RegistryObject) -> RegistryObject:
        """From its protobuf message."""
        return RegistryObject(
            p.name, p.version, list(p.versions), p.description, p.owner, list(p.tags),
            json.loads(p.definition_json),
        )


class Features:
    """``client.features``: list, search, describe and the statistics of
    features. Every method raises :class:`freshet.FreshetError` on refusal.

    Example::

        >>> [f.name for f in client.features.search("spend")][:1]
        ['user_spend_7d']
    """

    def __init__(self, call: Callable[[str, Any], Any]) -> None:
        self._call = call

    def list(
        self,
        entity: str = "",
        source: str = "",
        state: str = "",
        owner: str = "",
        tags: Sequence[str] = (),
        upstream: str = "",
    ) -> list[FeatureSummary]:
        """Every feature at its newest version, by name, optionally only those
        of an entity, aggregating a source or transformation, in a state, of
        an owner, carrying every one of ``tags`` (owner and tags match in any
        case), or reading ``upstream`` directly or through transformations
        (everything a change of that source or transformation reaches); all
        pages are read."""
        def page(token: str) -> Any:
            request = pb.ListFeaturesRequest(
                entity=entity,
                source=source,
                state=state,
                owner=owner,
                tags=list(tags),
                upstream=upstream,
                page_size=1000,
                page_token=token,
            )
            return self._call("ListFeatures", request)

        return every_page(page, lambda found: [FeatureSummary.of(f) for f in found.features])

    def search(self, query: str, limit: int = 20) -> list[FeatureSummary]:
        """Features matching every word of ``query`` in their name, tags,
        description, owner, entity or source, best first (the exact name
        first)."""
        answer = self._call("SearchFeatures", pb.SearchFeaturesRequest(query=query, limit=limit))
        return [FeatureSummary.of(f) for f in answer.features]

    def describe(self, name: str) -> FeatureDescription:
        """Every version of feature ``name`` (a bare name), its lineage and the
        training sets reading it."""
        return FeatureDescription.of(
            self._call("DescribeFeature", pb.DescribeFeatureRequest(name=name))
        )

    def stats(self, reference: str, buckets: int = 0, bucket: str = "1d") -> FeatureStats:
        """Statistics of what ``reference`` (name or name@vN) serves now, and
        at the end of each of the last ``buckets`` buckets of width ``bucket``
        (``"1h"``, ``"1d"``; at most 30), the last ending now: each key's value
        at each end as a training set computes it, for drift over time."""
        request = pb.GetFeatureStatsRequest(reference=reference, buckets=buckets, bucket=bucket)
        return FeatureStats.of(self._call("GetFeatureStats", request))


def every_page(page: Callable[[str], Any], items: Callable[[Any], list[T]]) -> list[T]:
    """The ``items`` of every page a listing has: ``page(token)`` fetches the
    page after ``token`` ("" for the first), until one has no next token."""
    found: list[T] = []
    token = ""
    while True:
        answer = page(token)
        found.extend(items(answer))
        token = answer.next_page_token
        if not token:
            return found


def list_objects(call: Callable[[str, Any], Any], method: str) -> list[RegistryObject]:
    """Every object a ListSources/ListEntities/ListTrainingSets call pages over."""
    return every_page(
        lambda token: call(method, pb.ListObjectsRequest(page_size=1000, page_token=token)),
        lambda answer: [RegistryObject.of(o) for o in answer.objects],
    )
