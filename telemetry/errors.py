"""Errors a telemetry source raises, each carrying the query that failed.

    TelemetryError
    ├── AuthError            401/403, no credential: who to sign in as, which role to ask for
    ├── NotFoundError        404: the workspace or resource does not exist (or is not visible)
    ├── ThrottledError       429 after retries: `retry_after` seconds to wait
    ├── QueryTimeoutError    the service or the client gave up waiting
    ├── BadQueryError        400 (SemanticError, syntax): a bug in a query, not in the user
    ├── SourceUnavailableError  connection refused, 5xx, malformed answers
    ├── WorkspaceOnlyError   a table only a Log Analytics workspace has, asked of a classic resource
    └── StoreMissingError    no local store at the configured path

A page shows `str(error)` (what failed and what to do) in the failed panel's box and keeps the
other panels; `query` is there for the "query behind this panel" expander.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "BadQueryError",
    "NotFoundError",
    "QueryTimeoutError",
    "SourceUnavailableError",
    "StoreMissingError",
    "TelemetryError",
    "ThrottledError",
    "WorkspaceOnlyError",
]


class TelemetryError(Exception):
    """A query could not be answered. `str()` says what failed and what to do."""

    def __init__(self, message: str, *, query: str | None = None) -> None:
        super().__init__(message)
        self.query = query


class AuthError(TelemetryError):
    pass


class NotFoundError(TelemetryError):
    pass


class ThrottledError(TelemetryError):
    def __init__(self, message: str, *, retry_after: float | None = None, query: str | None = None) -> None:
        super().__init__(message, query=query)
        self.retry_after = retry_after


class QueryTimeoutError(TelemetryError):
    pass


class BadQueryError(TelemetryError):
    pass


class SourceUnavailableError(TelemetryError):
    pass


class StoreMissingError(TelemetryError):
    pass


class WorkspaceOnlyError(TelemetryError):
    pass
