"""Session fixtures: one small demo store, built once, and its rows as pandas frames.

`DEMO_END` is fixed so every number the tests compute is reproducible; tests ask for absolute
time ranges ending there.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


from telemetry.store import STORE_TABLES  # noqa: E402

DEMO_END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DEMO_REQUESTS_PER_DAY = 3_000
DEMO_DAYS = 7


@pytest.fixture(scope="session")
def demo_end() -> datetime:
    return DEMO_END


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from telemetry.demo import build_demo_store

    path = tmp_path_factory.mktemp("store") / "demo.duckdb"
    return build_demo_store(path, requests_per_day=DEMO_REQUESTS_PER_DAY, days=DEMO_DAYS, end=DEMO_END, seed=42)


@pytest.fixture(scope="session")
def demo_frames(demo_raw_frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every row of every table, with the inference server's own values where its rows carry them
    (tests/server_values.py, pandas on its own): what every page must show."""
    from tests.server_values import as_served

    return as_served(demo_raw_frames)


@pytest.fixture(scope="session")
def demo_raw_frames(demo_store: Path) -> dict[str, pd.DataFrame]:
    """Every row of every table, read straight from the store for independent computations."""
    con = duckdb.connect(str(demo_store), read_only=True)
    try:
        frames = {table: con.execute(f"SELECT * FROM {table}").df() for table in STORE_TABLES}
    finally:
        con.close()
    for frame in frames.values():
        frame["timestamp"] = pd.to_datetime(frame["timestamp"]).dt.tz_localize("UTC")
    return frames


@pytest.fixture
def app_env(demo_store: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the app at the demo store (AppTest runs app.py in this process)."""
    monkeypatch.setenv("ENDPOINT_MONITOR_STORE", str(demo_store))
    monkeypatch.chdir(ROOT)
    yield demo_store
