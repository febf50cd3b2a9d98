"""The query layer stands on its own: no Streamlit in it, and its types check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_query_layer_imports_without_streamlit() -> None:
    code = (
        "import importlib, pkgutil, sys, telemetry\n"
        "for m in pkgutil.walk_packages(telemetry.__path__, 'telemetry.'):\n"
        "    if m.name != 'telemetry.__main__': importlib.import_module(m.name)\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] == 'streamlit'))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_the_query_layer_type_checks() -> None:
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "-p", "telemetry", "--ignore-missing-imports", "--no-error-summary"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert checked.returncode == 0, checked.stdout
