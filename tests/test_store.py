"""Building the local store is atomic: a crash midway leaves the previous store usable, and
readers during a build see the old data or the new, never a half-written store."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from telemetry.store import connect

ROOT = Path(__file__).resolve().parents[1]


def _request_rows(path: Path) -> int:
    con = connect(path)
    try:
        (rows,) = con.execute("SELECT count(*) FROM requests").fetchone() or (0,)
    finally:
        con.close()
    return int(rows)


def _start_build(path: Path, requests_per_day: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "telemetry", "demo", "--store", str(path),
         "--requests-per-day", str(requests_per_day), "--days", "7", "--seed", "3"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _wait_for_building_file(folder: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if any(p.name.endswith(".building") for p in folder.iterdir()):
            time.sleep(1.0)  # well into the write
            return
        time.sleep(0.05)
    raise AssertionError("the build never started writing")


def test_a_build_killed_midway_leaves_the_previous_store_usable(demo_store: Path, tmp_path: Path) -> None:
    store = tmp_path / "store.duckdb"
    shutil.copy(demo_store, store)
    before = _request_rows(store)
    build = _start_build(store, requests_per_day=400_000)
    _wait_for_building_file(tmp_path, build)
    os.kill(build.pid, signal.SIGKILL)
    build.wait()
    assert _request_rows(store) == before


def test_readers_during_a_build_see_the_old_or_the_new_store(demo_store: Path, tmp_path: Path) -> None:
    store = tmp_path / "store.duckdb"
    shutil.copy(demo_store, store)
    old = _request_rows(store)
    build = _start_build(store, requests_per_day=30_000)
    seen: set[int] = set()
    while build.poll() is None:
        try:
            seen.add(_request_rows(store))
        except duckdb.Error as error:  # pragma: no cover - would mean a torn store
            raise AssertionError(f"a reader saw a broken store: {error}") from error
        time.sleep(0.05)
    assert build.returncode == 0
    new = _request_rows(store)
    assert seen <= {old, new} and new != old
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".building")], "no leftovers"
