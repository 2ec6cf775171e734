"""The :class:`Client`: one connection to a Freshet server, over gRPC for
everything but training sets, which stream over Arrow Flight on the same port."""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
from pathlib import Path
from typing import Any

import grpc
import pyarrow as pa
import pyarrow.flight as flight

from freshet import ingest as ingesting
from freshet import online, training
from freshet._arrow import from_server
from freshet.errors import (
    FreshetError,
    InvalidArgumentError,
    RowError,
    error_of_code,
    from_rpc_error,
)
from freshet.registry import Features, RegistryObject, list_objects
from freshet.status import FeatureVersionStatus, Plan, Status
from freshet.v1 import feature_store_pb2 as pb
from freshet.v1 import feature_store_pb2_grpc as rpc

#: The metadata key naming who calls (recorded with applied definitions).
USER_HEADER = "x-freshet-user"

#: The largest message either side sends (the server's limit too).
MAX_MESSAGE_BYTES = 64 << 20

# pyarrow adds to the server's message what gRPC said of the call.
_FLIGHT_NOISE = re.compile(
    r"^gRPC returned [a-z ]+ error, with message: |\. (?:gRPC client debug context|Client context|Detail): .*$",
    re.S,
)
_FLIGHT_CODES: list[tuple[type[BaseException], str]] = [
    (flight.FlightUnavailableError, "UNAVAILABLE"),
    (flight.FlightUnauthenticatedError, "UNAUTHENTICATED"),
    (flight.FlightUnauthorizedError, "PERMISSION_DENIED"),
    (flight.FlightTimedOutError, "DEADLINE_EXCEEDED"),
    (pa.ArrowInvalid, "INVALID_ARGUMENT"),
    (pa.ArrowKeyError, "NOT_FOUND"),
    (pa.ArrowNotImplementedError, "UNIMPLEMENTED"),
]


def _target(address: str) -> tuple[str, bool]:
    """``host:port`` and whether TLS is used, from ``host:port``,
    ``http://host:port`` or ``https://host:port``."""
    for scheme, tls in (("https://", True), ("http://", False), ("grpc://", False)):
        if address.startswith(scheme):
            return address[len(scheme):].rstrip("/"), tls
    return address, False


class Client:
    """A connection to a Freshet server.

    ``address`` is ``host:port`` (``https://host:port`` for TLS, with
    ``ca_file`` naming the certificate authority when it is not a system one);
    ``token``, when given, is sent as a bearer token on every call; ``timeout``
    (seconds) bounds every call but training sets and waits. ``user`` names
    who applies definitions in the registry (default: ``login@host``).

    Example::

        >>> import freshet
        >>> client = freshet.Client("127.0.0.1:50051")
        >>> client.get_online_features(["user_spend_7d"], {"user_id": [1, 2]}).to_pandas()
           user_id  user_spend_7d
        0        1           25.5
        1        2            7.0
    """

    def __init__(
        self,
        address: str = "127.0.0.1:50051",
        token: str | None = None,
        timeout: float | None = 60.0,
        ca_file: str | os.PathLike[str] | None = None,
        user: str | None = None,
    ) -> None:
        self.address = address
        self.user = user or f"{getpass.getuser()}@{socket.gethostname()}"
        self._timeout = timeout
        target, tls = _target(address)
        options = [
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ]
        root = Path(ca_file).read_bytes() if ca_file is not None else None
        if tls:
            credentials = grpc.ssl_channel_credentials(root_certificates=root)
            self._channel = grpc.secure_channel(target, credentials, options=options)
            self._flight = flight.FlightClient(
                f"grpc+tls://{target}", tls_root_certs=root or b""
            )
        else:
            self._channel = grpc.insecure_channel(target, options=options)
            self._flight = flight.FlightClient(f"grpc+tcp://{target}")
        self._stub = rpc.FeatureStoreStub(self._channel)
        self._metadata: list[tuple[str, str]] = []
        if token:
            self._metadata.append(("authorization", f"Bearer {token}"))
        self._flight_options = flight.FlightCallOptions(
            headers=[(k.encode(), v.encode()) for k, v in self._metadata]
        )
        self.features = Features(self._call)
        """List, search, describe and the statistics of features
        (:class:`freshet.registry.Features`)."""

    def close(self) -> None:
        """Closes the connections."""
        self._channel.close()
        self._flight.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(
        self,
        method: str,
        request: Any,
        timeout: float | None = None,
        row_offset: int = 0,
        metadata: list[tuple[str, str]] | None = None,
    ) -> Any:
        try:
            return getattr(self._stub, method)(
                request,
                timeout=self._timeout if timeout is None else timeout,
                metadata=self._metadata + (metadata or []),
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error, self.address, row_offset) from None

    def get_online_features(self, features: list[str], entities: Any) -> online.OnlineFeatures:
        """The current values of ``features`` (names for their active version,
        or ``name@vN``; all of one entity) for the keys in ``entities``: a dict
        of one list named by the entity's key column or its name
        (``{"user_id": [1, 2]}``), a DataFrame of one such column, or a named
        Series. One row per key, in order; more keys than one request carries
        are sent in several.

        Example::

            >>> online = client.get_online_features(
            ...     ["user_spend_7d", "user_last_category"], {"user_id": [1, 2]})
            >>> online["user_last_category"]
            ['books', 'games']
        """
        features = list(features)
        repeated = {f for f in features if features.count(f) > 1}
        if repeated:
            raise ValueError(f"features: {sorted(repeated)} requested more than once")
        entity, keys = online.entity_keys(entities)
        protos = [online.key_to_proto(key, i) for i, key in enumerate(keys)]
        responses = []
        for start in range(0, max(len(protos), 1), online.KEYS_PER_REQUEST):
            request = pb.GetOnlineFeaturesRequest(
                features=features,
                entity=entity,
                keys=protos[start : start + online.KEYS_PER_REQUEST],
            )
            responses.append(self._call("GetOnlineFeatures", request))
        return online.online_features(features, responses)

    def get_training_set(
        self,
        features: list[str] | None = None,
        labels: Any = None,
        training_set: str | None = None,
        label: str | None = None,
        timestamp_column: str | None = None,
        feature_offset: str | None = None,
        entities: dict[str, str] | None = None,
        progress: bool | None = None,
    ) -> pa.Table:
        """A point-in-time-correct training set: for every label row, each
        feature as of the row's timestamp (minus ``feature_offset``, e.g.
        ``"5m"``), streamed over Arrow Flight. The label columns come first,
        then one column per feature; timestamps are UTC. Call ``.to_pandas()``
        on the result for a DataFrame.

        Give a registry ``training_set`` (``name`` or ``name@vN``), or
        ``features`` with label rows: ``labels`` as a DataFrame or pyarrow
        Table (sent to the server), a path or an ``s3://`` URI (read by the
        server), or a registry ``label``. Without a registry label,
        ``timestamp_column`` names the rows' timestamps. ``entities`` maps an
        entity to the label column holding its keys when it is not named as
        the key column. ``progress`` shows a tqdm bar (default: in notebooks
        and terminals).

        Example::

            >>> labels = pd.DataFrame({"user_id": [1, 2], "ts": pd.to_datetime(
            ...     ["2026-12-01", "2026-12-02"], utc=True), "churned": [0, 1]})
            >>> table = client.get_training_set(
            ...     features=["user_spend_7d"], labels=labels, timestamp_column="ts")
            >>> table.column_names
            ['user_id', 'ts', 'churned', 'user_spend_7d']
        """
        fields, total = training.labels_fields(labels)
        ticket = training.ticket(
            training_set, label, features, fields, timestamp_column, feature_offset, entities
        )
        bar = training.progress_bar(progress, total)
        try:
            reader = self._flight.do_get(flight.Ticket(ticket), self._flight_options)
            table = training.read_all(reader, bar)
        except (flight.FlightError, pa.ArrowException) as error:
            raise self._flight_error(error) from None
        return from_server(table)

    def _flight_error(self, error: BaseException) -> FreshetError:
        message = _FLIGHT_NOISE.sub("", str(error))
        for cls, code in _FLIGHT_CODES:
            if isinstance(error, cls):
                if code == "UNAVAILABLE":
                    message = f"cannot reach the Freshet server at {self.address}: {message}"
                return error_of_code(code, message)
        return error_of_code("INTERNAL", message)

    def apply(self, definitions: str | os.PathLike[str] | dict[str, Any], dry_run: bool = False) -> Plan:
        """Applies definitions: a YAML or JSON file (relative ``file://`` URIs
        in it are resolved against its folder) or a dict of the same shape.
        Every new or changed object gets a new version, atomically; with
        ``dry_run`` only the plan is returned. Refused definitions raise
        :class:`freshet.InvalidArgumentError` with every problem located in
        ``problems``.

        Example::

            >>> plan = client.apply("examples/ecommerce/definitions.yaml", dry_run=True)
            >>> {c.action for c in plan.changes}
            {'unchanged'}
        """
        if isinstance(definitions, dict):
            text = json.dumps(definitions)
            file_name = "definitions.json"
            base_dir = str(Path.cwd())
        else:
            path = Path(definitions).resolve()
            text = path.read_text()
            file_name = str(path)
            base_dir = str(path.parent)
        request = pb.ApplyRequest(
            definitions=text, file_name=file_name, base_dir=base_dir, dry_run=dry_run
        )
        return Plan.of(self._call("Apply", request, metadata=[(USER_HEADER, self.user)]))

    def ingest(
        self,
        source: str,
        data: Any,
        wait: bool = False,
        skip_bad_rows: bool = False,
        validate_only: bool = False,
    ) -> ingesting.IngestResult:
        """Appends events to stream ``source``: a DataFrame, a pyarrow Table, or
        a .csv, .json/.jsonl or .parquet file. Timestamps with a time zone keep
        their instant; those without one are taken as UTC.

        Bad rows refuse the request (:class:`freshet.InvalidArgumentError`,
        ``rows`` naming each row, column and reason), unless ``skip_bad_rows``
        keeps the good ones and returns the bad ones in ``errors``. Large data
        is sent in several requests; a refusal names rows of the whole data,
        and ``accepted_before`` counts rows written by earlier requests. With
        ``wait``, returns once the events are reflected in online values.

        Example::

            >>> client.ingest("purchases", frame, wait=True).accepted
            3
        """
        result = ingesting.IngestResult()
        for chunk in ingesting.chunks(data):
            request = pb.IngestRequest(
                source=source,
                format=chunk.format,
                data=chunk.data,
                skip_bad_rows=skip_bad_rows,
                validate_only=validate_only,
                wait=wait,
            )
            try:
                answer = self._call("Ingest", request, row_offset=chunk.first_row)
            except InvalidArgumentError as error:
                error.accepted_before = result.accepted
                raise
            result.requests += 1
            result.accepted += answer.accepted
            result.rejected += answer.rejected
            result.late += answer.late
            result.errors.extend(
                RowError(e.row + chunk.first_row, e.column, e.reason)
                for e in answer.errors
            )
        return result

    def status(self) -> Status:
        """Every source's counters and every stored feature version's state."""
        return Status.of(self._call("GetStatus", pb.GetStatusRequest()))

    def wait_for(self, feature: str, timeout: float | None = None) -> FeatureVersionStatus:
        """Waits until ``feature`` (``name@vN``, or a bare name for its newest
        version) has caught up, READY or ACTIVE, and returns its status; raises
        :class:`freshet.FailedPreconditionError` when it failed or was retired,
        :class:`freshet.DeadlineExceededError` after ``timeout`` seconds
        (default: no limit)."""
        answer = self._call(
            "WaitForFeature",
            pb.WaitForFeatureRequest(reference=feature),
            timeout=timeout if timeout is not None else 365 * 24 * 3600.0,
        )
        return FeatureVersionStatus.of(answer)

    def list_sources(self) -> list[RegistryObject]:
        """Every source at its newest version."""
        return list_objects(self._call, "ListSources")

    def list_entities(self) -> list[RegistryObject]:
        """Every entity at its newest version."""
        return list_objects(self._call, "ListEntities")

    def list_training_sets(self) -> list[RegistryObject]:
        """Every registry training set at its newest version."""
        return list_objects(self._call, "ListTrainingSets")
