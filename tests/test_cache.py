"""The shared cache never keeps errors, and falls back to the last good answer (marked stale)
while the source fails. (That a repeat makes no request is counted at the Logs API fake.)"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from telemetry.cache import CachedSource
from telemetry.errors import StoreMissingError
from telemetry.filters import Filters, TimeRange
from telemetry.model import RenderContext
from telemetry.queries import panel
from telemetry.results import QueryResult
from telemetry.sources.local import LocalSource


@pytest.fixture
def store_copy(demo_store: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "store.duckdb"
    shutil.copy(demo_store, copy)
    return copy


def _ctx(end: datetime) -> RenderContext:
    return RenderContext.of(Filters(TimeRange(None, end - timedelta(days=1), end)))


def test_errors_are_not_cached_so_the_panel_recovers_on_the_next_run(
    demo_store: Path, tmp_path: Path, demo_end: datetime
) -> None:
    path = tmp_path / "late.duckdb"
    cached = CachedSource(LocalSource(path), ttl_s=600)
    (missing,) = cached.run([panel("requests.totals")], _ctx(demo_end))
    assert isinstance(missing, StoreMissingError) and "python -m telemetry demo" in str(missing)
    shutil.copy(demo_store, path)
    (found,) = cached.run([panel("requests.totals")], _ctx(demo_end))
    assert isinstance(found, QueryResult) and not found.empty


def test_a_failing_source_shows_the_last_good_answer_marked_stale(store_copy: Path, demo_end: datetime) -> None:
    cached = CachedSource(LocalSource(store_copy), ttl_s=0.001)  # every run goes to the source
    ctx = _ctx(demo_end)
    (good,) = cached.run([panel("requests.rate")], ctx)
    assert isinstance(good, QueryResult) and good.stale_because is None
    away = store_copy.rename(store_copy.with_suffix(".away"))
    (stale,) = cached.run([panel("requests.rate")], ctx)
    assert isinstance(stale, QueryResult)
    assert isinstance(stale.stale_because, StoreMissingError)
    assert stale.frame.equals(good.frame) and stale.fetched_at == good.fetched_at
    away.rename(store_copy)
    (recovered,) = cached.run([panel("requests.rate")], ctx)
    assert isinstance(recovered, QueryResult) and recovered.stale_because is None
