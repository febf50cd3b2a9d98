"""A result cache shared by every session of the app, in front of any telemetry source.

Only answers are cached, never errors, so a panel recovers on the next run once the fault
clears; the misses of a page still go to the source together, as one batch. When a query
fails, the last good answer to the same question (same panel, same filters) is handed back
marked stale, with the error, so an incident does not blank the dashboard.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Hashable, Sequence
from typing import Final

from cachetools import LRUCache, TTLCache

from telemetry.errors import TelemetryError
from telemetry.model import Query, RenderContext
from telemetry.results import Outcome, QueryResult
from telemetry.schema import Schema
from telemetry.sources import TelemetrySource

__all__ = ["CachedSource"]

DEFAULT_TTL_S: Final = 60.0


class CachedSource:
    def __init__(self, source: TelemetrySource, *, ttl_s: float = DEFAULT_TTL_S, maxsize: int = 512) -> None:
        self.source = source
        self._fresh: TTLCache[Hashable, QueryResult] = TTLCache(maxsize=maxsize, ttl=ttl_s)
        # Keyed by filters, not the resolved window: a relative range moves every minute.
        self._last_good: LRUCache[Hashable, QueryResult] = LRUCache(maxsize=maxsize)
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return self.source.label

    @property
    def kql_schema(self) -> Schema:
        return self.source.kql_schema

    @property
    def cache_key(self) -> str:
        return self.source.cache_key

    def run(self, queries: Sequence[Query], ctx: RenderContext) -> list[Outcome]:
        data_key = self.source.cache_key
        keys = [(data_key, query, ctx) for query in queries]
        with self._lock:
            found: dict[int, Outcome] = {i: self._fresh[k] for i, k in enumerate(keys) if k in self._fresh}
        missing = [i for i in range(len(queries)) if i not in found]
        if missing:
            answers = self.source.run([queries[i] for i in missing], ctx)
            with self._lock:
                for i, answer in zip(missing, answers, strict=True):
                    found[i] = self._remember(keys[i], (queries[i], ctx.filters), answer)
        return [found[i] for i in range(len(queries))]

    def _remember(self, key: Hashable, question: Hashable, answer: Outcome) -> Outcome:
        if isinstance(answer, QueryResult):
            self._fresh[key] = answer
            self._last_good[question] = answer
            return answer
        last = self._last_good.get(question)
        if last is None or not isinstance(answer, TelemetryError):
            return answer
        return dataclasses.replace(last, stale_because=answer)

    def clear(self) -> None:
        with self._lock:
            self._fresh.clear()
            self._last_good.clear()
