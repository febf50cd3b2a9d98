"""A query's answer straight from a local store, for comparing with pandas on the same rows."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from telemetry.filters import Filters, TimeRange
from telemetry.model import Query, RenderContext
from telemetry.results import QueryResult
from telemetry.sources.local import LocalSource

__all__ = ["local_answer", "window_filters"]


def window_filters(start: datetime, end: datetime, **kwargs: object) -> Filters:
    """Filters over the absolute window [start, end)."""
    return Filters(TimeRange(None, start, end), **kwargs)  # type: ignore[arg-type]


def local_answer(store: Path, query: Query, filters: Filters) -> pd.DataFrame:
    (outcome,) = LocalSource(store).run([query], RenderContext.of(filters))
    assert isinstance(outcome, QueryResult), outcome
    return outcome.frame
