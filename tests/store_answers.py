"""A query's answer straight from a local store, for comparing with pandas on the same rows."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from telemetry.filters import Filters, TimeRange
from telemetry.model import Query, RenderContext
from telemetry.results import QueryResult
from telemetry.sources.local import LocalSource

__all__ = ["endpoint_frames", "local_answer", "window_filters"]


def window_filters(start: datetime, end: datetime, **kwargs: object) -> Filters:
    """Filters over the absolute window [start, end)."""
    return Filters(TimeRange(None, start, end), **kwargs)  # type: ignore[arg-type]


def local_answer(store: Path, query: Query, filters: Filters) -> pd.DataFrame:
    (outcome,) = LocalSource(store).run([query], RenderContext.of(filters))
    assert isinstance(outcome, QueryResult), outcome
    return outcome.frame


def endpoint_frames(store: Path) -> dict[str, pd.DataFrame]:
    """Every row of the online endpoint log tables, straight from a store, times in UTC."""
    import duckdb

    from telemetry.endpoint_logs import ENDPOINT_LOG_TABLES

    with duckdb.connect(str(store), read_only=True) as con:
        frames = {t: con.execute(f'SELECT * FROM "{t}"').df() for t in ENDPOINT_LOG_TABLES}
    for frame in frames.values():
        frame["TimeGenerated"] = pd.to_datetime(frame["TimeGenerated"]).dt.tz_localize("UTC")
    return frames
