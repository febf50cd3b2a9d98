"""The `endpoint-monitor` command (pyproject's console script): `serve` starts the dashboard as
scripts/serve.sh does; every other command is `python -m telemetry`'s (import, query, kql, demo,
panels, and ingest where the ingestion endpoint is installed).

    endpoint-monitor serve [--port 8501] [streamlit options…]
    endpoint-monitor import exports/*.json.gz
    endpoint-monitor query requests.rate --range 7d

`serve` needs the source tree beside the package (app.py, pages/): install with `pip install -e .`.
It imports no Streamlit itself; the dashboard runs in the process it becomes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from telemetry.__main__ import run
from telemetry.store import DEFAULT_STORE

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["serve"]:
        return _serve(args[1:])
    return run(args)


def _serve(args: list[str]) -> int:
    runner = ROOT / "scripts" / "run_app.py"
    if not (ROOT / "app.py").exists() or not runner.exists():
        print(f"error: serve needs the source tree (app.py, pages/) at {ROOT}; install with `pip install -e .` "
              "from a clone", file=sys.stderr)
        return 2
    port = "8501"
    if args[:1] == ["--port"] and len(args) > 1:
        port, args = args[1], args[2:]
    store = os.environ.get("ENDPOINT_MONITOR_STORE")
    if store is None:  # the demo store, built when missing or hours old (a store you name is yours)
        store = str(ROOT / DEFAULT_STORE)
        status = run(["demo", "--store", store, "--if-stale"])
        if status:
            return status
    os.environ["ENDPOINT_MONITOR_STORE"] = store
    os.chdir(ROOT)
    command = [sys.executable, str(runner), "--server.address", "127.0.0.1", "--server.port", port, *args]
    os.execv(sys.executable, command)
    return 0  # not reached: the dashboard replaced this process
