"""Where telemetry comes from: the local DuckDB store or the Azure Monitor Logs API.

A source answers a page's queries as one batch and returns one outcome per query, in order:
a `QueryResult`, or the `TelemetryError` that query met. One failed panel never hides another.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from telemetry.model import Query, RenderContext
from telemetry.results import Outcome
from telemetry.schema import Schema

__all__ = ["TelemetrySource"]


class TelemetrySource(Protocol):
    @property
    def label(self) -> str:
        """What the user is looking at, e.g. "local demo data" or "workspace 1a2b…"."""
        ...

    @property
    def kql_schema(self) -> Schema:
        """The KQL dialect the source speaks (or, for the local store, the one it mirrors)."""
        ...

    @property
    def cache_key(self) -> str:
        """Identifies the data behind the source; changes when the data is replaced."""
        ...

    def run(self, queries: Sequence[Query], ctx: RenderContext) -> list[Outcome]: ...
