"""Installable as Python users expect: pyproject.toml declares the `endpoint-monitor` command,
whose `serve` starts the dashboard and whose other commands are `python -m telemetry`'s."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from scripts.run_app import free_port, wait_healthy
from telemetry.console import main

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_declares_the_endpoint_monitor_command_and_its_target_exists() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    target = project["project"]["scripts"]["endpoint-monitor"]
    module, function = target.split(":")
    assert getattr(importlib.import_module(module), function) is main
    assert project["tool"]["setuptools"]["dynamic"]["dependencies"]["file"] == ["requirements.txt"]


def test_the_command_runs_the_telemetry_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["panels"]) == 0
    assert "latency.totals" in capsys.readouterr().out.split()
    assert main(["kql", "requests.rate", "--schema", "workspace"]) == 0
    assert "AppRequests" in capsys.readouterr().out


def test_serve_starts_the_dashboard_on_the_store_named(demo_store: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", "import sys; from telemetry.console import main; sys.exit(main(sys.argv[1:]))",
         "serve", "--port", str(port), "--server.headless", "true"],
        cwd=ROOT, env={**os.environ, "ENDPOINT_MONITOR_STORE": str(demo_store)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server, timeout_s=120)
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_the_command_includes_the_ingestion_endpoint(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["ingest", "--help"])
    assert done.value.code == 0 and "--port" in capsys.readouterr().out
