"""Importing exports of Azure ML online endpoints' own logs (data export and diagnostic settings
files, made by tests/fixtures/exports/make_endpoint_exports.py) into a local store the
Deployments page then shows."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from telemetry.endpoint_logs import CONSOLE_LOG, ENDPOINT_LOG_TABLES, EVENT_LOG, TRAFFIC_LOG
from telemetry.importer import CHUNK_BYTES, import_exports, store_span
from tests.apptest import run_page, texts, window_params
from tests.fixtures.exports.make_endpoint_exports import CONSOLE, EVENTS, TRAFFIC

FILES = (TRAFFIC, CONSOLE, EVENTS)


def _records(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as lines:
        found = [json.loads(line) for line in lines if line.strip()]
    return [r for doc in found for r in (doc["records"] if "records" in doc else [doc])]


def _rows(store: Path, table: str) -> pd.DataFrame:
    with duckdb.connect(str(store), read_only=True) as con:
        return con.execute(f'SELECT * FROM "{table}" ORDER BY TimeGenerated').df()


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    store = tmp_path / "imported.duckdb"
    import_exports(FILES, store)
    return store


def test_data_export_and_diagnostic_settings_records_land_in_their_own_tables(imported: Path) -> None:
    traffic = [r for r in _records(TRAFFIC) if "TimeGenerated" in r and isinstance(r["TotalDurationMs"], int)]
    rows = _rows(imported, TRAFFIC_LOG)
    assert len(rows) == len(traffic) == 58
    assert rows["TotalDurationMs"].sum() == sum(r["TotalDurationMs"] for r in traffic)
    assert sorted(rows["XRequestId"]) == sorted(r["XRequestId"] for r in traffic)
    assert set(rows["Type"]) == {TRAFFIC_LOG} and set(rows["DeploymentName"]) == {"blue", "green"}

    console = _rows(imported, CONSOLE_LOG)  # the resource-log shape: columns in `properties`
    expected = _records(CONSOLE)
    assert list(console["Message"]) == [r["properties"]["Message"] for r in expected]
    assert list(console["InstanceId"]) == [r["properties"]["InstanceId"] for r in expected]
    assert set(console["_ResourceId"]) == {expected[0]["resourceId"]}, "resourceId is the row's _ResourceId"
    first = datetime.fromisoformat(expected[0]["time"].replace("0Z", "+00:00"))
    assert console["TimeGenerated"].iloc[0] == pd.Timestamp(first).tz_localize(None)

    events = _rows(imported, EVENT_LOG)
    assert list(events["Name"]) == ["LivenessProbeFailed", "Killing", "BackOff", "Started"]


def test_the_summary_counts_rows_per_table_and_names_every_skipped_record(tmp_path: Path) -> None:
    summary = import_exports(FILES, tmp_path / "store.duckdb")
    assert {t: summary.added[t] for t in ENDPOINT_LOG_TABLES} == {TRAFFIC_LOG: 58, CONSOLE_LOG: 25, EVENT_LOG: 4}
    assert f"{TRAFFIC_LOG}: 58 rows added" in summary.details()
    reasons = {g.reason: g for g in summary.skipped}
    assert reasons["no TimeGenerated (or time)"].examples == (f"{TRAFFIC} line 8",)
    assert reasons["TotalDurationMs is not a number"].examples == (f"{TRAFFIC} line 12",)
    assert reasons["AmlComputeClusterEvent records are not imported"].count == 1
    assert summary.span == (datetime(2026, 11, 18, 10, 0, tzinfo=UTC), summary.span[1])


def test_importing_the_same_files_again_adds_nothing(imported: Path, tmp_path: Path) -> None:
    again = import_exports([*FILES, TRAFFIC], imported)
    assert again.rows_added == 0 and again.already_present[TRAFFIC_LOG] == 2 * 58
    assert len(_rows(imported, TRAFFIC_LOG)) == 58
    assert store_span(imported) is not None


def test_a_file_that_breaks_midway_leaves_none_of_its_endpoint_rows(tmp_path: Path) -> None:
    broken = tmp_path / "insights-logs-amlonlineendpointconsolelog_broken.json.gz"
    record = _records(CONSOLE)[0]
    lines = (json.dumps({**record, "properties": {**record["properties"], "Message": f"line {i} " + "x" * 300}})
             for i in range(CHUNK_BYTES // 300 + 20_000))  # past one chunk: rows are staged before the break
    with gzip.open(broken, "wt") as out:
        out.writelines(line + "\n" for line in lines)
    broken.write_bytes(broken.read_bytes()[:-30])  # a truncated download
    summary = import_exports([broken, TRAFFIC], tmp_path / "store.duckdb")
    assert [f.file for f in summary.failed] == [str(broken)] and "ends early" in summary.failed[0].message
    assert summary.added.get(CONSOLE_LOG, 0) == 0 and summary.added[TRAFFIC_LOG] == 58
    assert len(_rows(tmp_path / "store.duckdb", CONSOLE_LOG)) == 0


def test_the_deployments_page_shows_the_imported_endpoint(imported: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "page.duckdb"
    shutil.copyfile(imported, store)
    monkeypatch.setenv("ENDPOINT_MONITOR_STORE", str(store))
    at = run_page("pages/deployments.py", **window_params(datetime(2026, 11, 18, 9, tzinfo=UTC),
                                                          datetime(2026, 11, 18, 12, tzinfo=UTC)))
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error
    assert any(t in ("**green against blue**", "**blue against green**") for t in texts(at, "markdown"))
    codes = next(d.value for d in at.dataframe if "explanation" in d.value.columns)
    traffic = [r for r in _records(TRAFFIC) if "TimeGenerated" in r and isinstance(r["TotalDurationMs"], int)]
    assert int(codes.loc[codes["code"] == 424, "requests"].sum()) == sum(r["ResponseCode"] == 424 for r in traffic)
