"""The command line as a terminal user meets it: paths that name no file are named and the rest
imports, output piped into `head` ends quietly, a bad option that stops the command is "invalid",
and no Markdown reaches the terminal."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from telemetry.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
GOOD = ROOT / "tests" / "fixtures" / "exports" / "data_export_PT1H.json"


def test_a_missing_file_a_directory_and_an_unmatched_pattern_are_named_and_the_rest_imports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    paths = [tmp_path / "missing.json", folder, tmp_path / "*.json.gz", GOOD]
    assert main(["import", *map(str, paths), "--store", str(tmp_path / "s.duckdb")]) == 1
    out = capsys.readouterr().out
    assert "Read 1 of 4 file(s)" in out and "requests: 60 rows added" in out
    assert f"Could not import {tmp_path / 'missing.json'}: no such file" in out
    assert f"Could not import {folder}: is a directory" in out
    assert f"Could not import {tmp_path / '*.json.gz'}: matched no file" in out


def _piped_into_head(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "telemetry", *args]
    writer = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    first = writer.stdout.readline()
    writer.stdout.close()  # what `head -1` does once it has its line
    _, err = writer.communicate(timeout=120)
    return subprocess.CompletedProcess(command, writer.returncode, first, err)


def test_output_piped_into_head_ends_quietly(demo_store: Path, demo_end: datetime) -> None:
    start = demo_end - timedelta(days=7)
    done = _piped_into_head("query", "requests.rate", "--from", start.isoformat(), "--to", demo_end.isoformat(),
                            "--grain", "1h", "--split", "operation", "--store", str(demo_store))
    assert done.stdout.startswith("bucket,series,requests,failed")
    assert done.stderr == "" and done.returncode == 0


def test_a_bad_option_that_stops_the_command_says_invalid_without_markdown(
    demo_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["query", "requests.rate", "--grain", "7x", "--store", str(demo_store)])
    message = str(stopped.value.code)
    assert message.startswith("error: Invalid grain") and "7x: use one of" in message
    assert "Ignored" not in message and "`" not in message
