"""The errors the client raises: one :class:`FreshetError` subclass per gRPC
status code the server answers with, carrying the server's structured details.

Example::

    try:
        client.ingest("purchases", frame)
    except freshet.InvalidArgumentError as error:
        for row in error.rows:
            print(row.row, row.column, row.reason)
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from freshet.v1 import feature_store_pb2 as pb

_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class RowError:
    """A refused row of an ingest: its 0-based row in the data given (over
    every request the data was split into), the column at fault (empty when
    the row as a whole is bad) and why."""

    row: int
    column: str
    reason: str


@dataclass(frozen=True)
class DefinitionProblem:
    """One problem of refused definitions: the file, the object
    (``feature 'spend'``), its field, for SQL the line and column in the
    statement (0 when not known), and why."""

    file: str
    object: str
    field: str
    sql_line: int
    sql_column: int
    reason: str


class FreshetError(Exception):
    """Anything the server refused or could not do; ``code`` is the gRPC status
    code's name (``INVALID_ARGUMENT``) and ``message`` the server's words."""

    code: str = "UNKNOWN"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(f"{code or self.code}: {message}")
        self.message = message
        if code is not None:
            self.code = code


class InvalidArgumentError(FreshetError, ValueError):
    """The request was wrong: bad rows (``rows``, each with row, column and
    reason), bad definitions (``problems``), unknown entity keys and the like.
    For an ingest, ``accepted_before`` counts the rows of earlier requests of
    the same call that were written before the refusal."""

    code = "INVALID_ARGUMENT"

    def __init__(
        self,
        message: str,
        rows: list[RowError] | None = None,
        problems: list[DefinitionProblem] | None = None,
        accepted_before: int = 0,
    ) -> None:
        super().__init__(message)
        self.rows: list[RowError] = rows or []
        self.problems: list[DefinitionProblem] = problems or []
        self.accepted_before = accepted_before


class NotFoundError(FreshetError, LookupError):
    """A feature, version, source, label or training set that does not exist."""

    code = "NOT_FOUND"


class FailedPreconditionError(FreshetError):
    """The request does not fit the state things are in (waiting for a
    feature that failed, retiring the version the bare name reads)."""

    code = "FAILED_PRECONDITION"


class ResourceExhaustedError(FreshetError):
    """A limit of the server was reached."""

    code = "RESOURCE_EXHAUSTED"


class PermissionDeniedError(FreshetError, PermissionError):
    """The caller may not do this."""

    code = "PERMISSION_DENIED"


class UnauthenticatedError(FreshetError, PermissionError):
    """The caller's token is missing or not accepted."""

    code = "UNAUTHENTICATED"


class UnavailableError(FreshetError, ConnectionError):
    """The server cannot be reached (not running, wrong address) or is not
    ready."""

    code = "UNAVAILABLE"


class DeadlineExceededError(FreshetError, TimeoutError):
    """The call took longer than the timeout given."""

    code = "DEADLINE_EXCEEDED"


class InternalError(FreshetError):
    """The server failed; its message says how."""

    code = "INTERNAL"


_BY_CODE: dict[str, type[FreshetError]] = {
    cls.code: cls
    for cls in (
        InvalidArgumentError,
        NotFoundError,
        FailedPreconditionError,
        ResourceExhaustedError,
        PermissionDeniedError,
        UnauthenticatedError,
        UnavailableError,
        DeadlineExceededError,
        InternalError,
    )
}


def error_of_code(code: str, message: str) -> FreshetError:
    """The error for a status code's name and message."""
    cls = _BY_CODE.get(code)
    if cls is None:
        return FreshetError(message, code)
    return cls(message)


def _details(error: grpc.RpcError) -> bytes | None:
    for key, value in error.trailing_metadata() or ():
        if key == _DETAILS_KEY:
            return value
    return None


def from_rpc_error(error: grpc.RpcError, address: str, row_offset: int = 0) -> FreshetError:
    """The :class:`FreshetError` for a failed gRPC call: the status code's
    class, with the rows or definition problems the server put in the status
    details (rows shifted by ``row_offset``, where the call's data starts in
    what the caller gave)."""
    code = error.code()
    message = error.details() or ""
    if code == grpc.StatusCode.UNAVAILABLE:
        return UnavailableError(f"cannot reach the Freshet server at {address}: {message}")
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        details = _details(error)
        rows: list[RowError] = []
        problems: list[DefinitionProblem] = []
        # Ingest puts an IngestResponse in the details, Apply a
        # DefinitionsRefused; each parses the other's fields as unknown ones.
        if details:
            ingest = pb.IngestResponse.FromString(details)
            rows = [RowError(e.row + row_offset, e.column, e.reason) for e in ingest.errors]
            if not rows:
                refused = pb.DefinitionsRefused.FromString(details)
                problems = [
                    DefinitionProblem(
                        p.file, p.object, p.field, p.sql_line, p.sql_column, p.reason
                    )
                    for p in refused.problems
                ]
        return InvalidArgumentError(message, rows=rows, problems=problems)
    return error_of_code(code.name, message)

