"""What the server reports of itself: the plan of an apply, and where every
source and feature version stands."""

from __future__ import annotations

from dataclasses import dataclass

from freshet.v1 import feature_store_pb2 as pb

_ACTIONS = {
    pb.CHANGE_ACTION_CREATED: "created",
    pb.CHANGE_ACTION_NEW_VERSION: "new_version",
    pb.CHANGE_ACTION_UNCHANGED: "unchanged",
    pb.CHANGE_ACTION_METADATA_UPDATED: "metadata_updated",
}


@dataclass(frozen=True)
class Change:
    """One object of an apply: its kind and name, the version it has after
    the apply, what happens to it (``created``, ``new_version``,
    ``metadata_updated`` — description, owner or tags changed in place — or
    ``unchanged``), and for a new version the one it replaces."""

    kind: str
    name: str
    version: int
    action: str
    previous_version: int


@dataclass(frozen=True)
class Plan:
    """What an apply did, or with ``dry_run`` would do."""

    changes: list[Change]
    dry_run: bool

    @staticmethod
    def of(p: pb.ApplyResponse) -> Plan:
        """From its protobuf message."""
        return Plan(
            [
                Change(c.kind, c.name, c.version, _ACTIONS.get(c.action, "unspecified"),
                       c.previous_version)
                for c in p.changes
            ],
            p.dry_run,
        )


@dataclass(frozen=True)
class FeatureVersionStatus:
    """Where one feature version stands: BACKFILLING, READY, ACTIVE, FAILED
    (``cause`` says why) or RETIRED, with its replay progress."""

    name: str
    version: int
    state: str
    events_done: int
    events_total: int
    events_per_second: float
    eta_seconds: float
    cause: str
    frozen: bool
    rows_skipped_no_key: int
    rows_skipped_no_event_time: int

    @staticmethod
    def of(p: pb.FeatureVersionStatus) -> FeatureVersionStatus:
        """From its protobuf message."""
        return FeatureVersionStatus(
            p.name, p.version, p.state, p.events_done, p.events_total, p.events_per_second,
            p.eta_seconds, p.cause, p.frozen, p.rows_skipped_no_key,
            p.rows_skipped_no_event_time,
        )


@dataclass(frozen=True)
class SourceStatus:
    """A source's counters: events accepted, rejected, late, processed into
    feature state, and not yet processed (``lag``)."""

    name: str
    version: int
    kind: str
    events_accepted: int
    events_rejected: int
    events_late: int
    events_processed: int
    lag: int


@dataclass(frozen=True)
class Status:
    """Every source and every stored feature version."""

    sources: list[SourceStatus]
    features: list[FeatureVersionStatus]

    @staticmethod
    def of(p: pb.GetStatusResponse) -> Status:
        """From its protobuf message."""
        return Status(
            [
                SourceStatus(s.name, s.version, s.kind, s.events_accepted, s.events_rejected,
                             s.events_late, s.events_processed, s.lag)
                for s in p.sources
            ],
            [FeatureVersionStatus.of(f) for f in p.features],
        )
