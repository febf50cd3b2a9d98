"""Exported App Insights telemetry imports into a local store that every page reads.

Each fixture under tests/fixtures/exports/ (written by make_exports.py there) is read here a
second time, independently, with json/pandas; the store's panels must agree with that reading.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from telemetry.__main__ import main
from telemetry.filters import Filters, TimeRange
from telemetry.importer import CHUNK_BYTES, ImportFailed, ImportSummary, Progress, import_exports
from telemetry.model import RenderContext
from telemetry.queries import panel
from telemetry.queries.requests import totals
from telemetry.results import QueryResult
from telemetry.schema import CLASSIC_TABLES, WORKSPACE_TABLES, workspace_column, workspace_schema
from telemetry.sources.local import LocalSource
from telemetry.store import STORE_TABLES, connect
from tests.test_request_rate import _expected_rate

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "exports"
START = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)  # the fixtures cover two hours from here
WINDOW = Filters(TimeRange(None, START, START + timedelta(hours=2)))
BY_WORKSPACE_NAME = {name: table for table, name in WORKSPACE_TABLES.items()}
CONTINUOUS_KINDS = {"request": "requests", "remoteDependency": "dependencies", "basicException": "exceptions",
                    "message": "traces"}


# ---- the fixtures read independently: one row per record, table + the request-rate columns ----


def _json_records(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        text = handle.read()
    documents = [json.loads(text)] if text.startswith("{\n") else [json.loads(line) for line in text.splitlines()]
    return [record for document in documents for record in document.get("records", [document])]


def _workspace_json(path: Path) -> pd.DataFrame:
    frame = pd.DataFrame(_json_records(path))
    return pd.DataFrame({
        "table": frame["Type"].map(BY_WORKSPACE_NAME),
        "timestamp": pd.to_datetime(frame["TimeGenerated" if "TimeGenerated" in frame else "time"], utc=True),
        "cloud_RoleName": frame["AppRoleName"],
        "success": frame["Success"].map({True: "True", False: "False"}),
        "itemCount": frame["ItemCount"],
    })


def _classic_csv(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, encoding="utf-8-sig")
    return pd.DataFrame({
        "table": frame["itemType"].map({"request": "requests", "dependency": "dependencies"}),
        "timestamp": pd.to_datetime(frame["timestamp [UTC]"], format="%m/%d/%Y, %I:%M:%S.%f %p", utc=True),
        "cloud_RoleName": frame["cloud_RoleName"],
        "success": frame["success"].astype(str),
        "itemCount": frame["itemCount"],
    })


def _workspace_csv(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    return pd.DataFrame({
        "table": frame["Type"].map(BY_WORKSPACE_NAME),
        "timestamp": pd.to_datetime(frame["TimeGenerated [UTC]"], utc=True),
        "cloud_RoleName": frame["AppRoleName"],
        "success": frame["Success"].astype(str),
        "itemCount": frame["ItemCount"],
    })


def _continuous(path: Path) -> pd.DataFrame:
    rows = []
    for record in _json_records(path):
        kind = next(key for key in record if key not in ("context", "internal"))
        item = record[kind][0]
        rows.append({
            "table": CONTINUOUS_KINDS.get(kind),
            "timestamp": record["context"]["data"]["eventTime"],
            "cloud_RoleName": record["context"].get("device", {}).get("roleName"),
            "success": str(item["success"]) if "success" in item else None,
            "itemCount": item.get("count", 1),
        })
    frame = pd.DataFrame(rows)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


FORMATS: dict[str, Callable[[Path], pd.DataFrame]] = {
    "data_export_PT1H.json": _workspace_json,  # Log Analytics data export, JSON lines
    "diagnostic_settings_PT1H.json.gz": _workspace_json,  # {"records": [...]} lines, gzip
    "diagnostic_settings_records.json": _workspace_json,  # one pretty-printed document
    "logs_query_classic.csv": _classic_csv,
    "logs_query_workspace.csv": _workspace_csv,
    "continuous_export.json": _continuous,
}


def _store_counts(store: Path) -> dict[str, int]:
    con = connect(store)
    try:
        return {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]) for t in STORE_TABLES}
    finally:
        con.close()


def _expected_counts(source: pd.DataFrame) -> dict[str, int]:
    sizes = source.dropna(subset=["table"]).groupby("table").size()
    return {t: int(sizes.get(t, 0)) for t in STORE_TABLES}


def _answer(store: Path, name: str, filters: Filters) -> pd.DataFrame:
    outcome = LocalSource(store).run([panel(name)], RenderContext.of(filters))[0]
    assert isinstance(outcome, QueryResult), outcome
    return outcome.frame


def _group(summary: ImportSummary, reason: str) -> tuple[str, ...]:
    found = [g for g in summary.skipped if g.reason == reason]
    assert found, f"no skip group {reason!r} in {[g.reason for g in summary.skipped]}"
    return found[0].examples


# ---- every format --------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", list(FORMATS))
def test_each_format_adds_one_row_per_record_of_the_tables_the_store_keeps(fixture: str, tmp_path: Path) -> None:
    store = tmp_path / "imported.duckdb"
    summary = import_exports([FIXTURES / fixture], store)
    expected = _expected_counts(FORMATS[fixture](FIXTURES / fixture))
    assert not summary.failed
    assert summary.added == expected and sum(expected.values()) > 0
    assert _store_counts(store) == expected


@pytest.mark.parametrize("fixture", list(FORMATS))
def test_request_rate_and_failures_equal_pandas_sums_over_the_source_records(fixture: str, tmp_path: Path) -> None:
    store = tmp_path / "imported.duckdb"
    import_exports([FIXTURES / fixture], store)
    source = FORMATS[fixture](FIXTURES / fixture)
    requests = source[source["table"] == "requests"]

    got = _answer(store, "requests.rate", WINDOW).sort_values(["bucket", "series"]).reset_index(drop=True)
    want = _expected_rate(requests, WINDOW, "cloud_RoleName").sort_values(["bucket", "series"])
    assert len(got) == len(want) > 0
    assert list(got["bucket"]) == list(want["bucket"])
    assert list(got["series"]) == list(want["series"])
    assert list(got["requests"]) == list(want["requests"])
    assert list(got["failed"]) == list(want["failed"])

    current = totals(_answer(store, "requests.totals", WINDOW), WINDOW.window())["current"]
    assert current.requests == requests["itemCount"].sum() > len(requests)  # sampled rows count 5 each
    assert current.failed == requests.loc[requests["success"] == "False", "itemCount"].sum() > 0


@pytest.mark.parametrize("fixture", list(FORMATS))
def test_importing_the_same_file_again_adds_nothing_and_leaves_the_store_file_alone(fixture: str, tmp_path: Path) -> None:
    store = tmp_path / "imported.duckdb"
    first = import_exports([FIXTURES / fixture], store)
    before = (_store_counts(store), os.stat(store).st_mtime_ns)
    again = import_exports([FIXTURES / fixture], store)
    assert again.rows_added == 0
    assert again.already_present == first.added
    assert (_store_counts(store), os.stat(store).st_mtime_ns) == before


def test_an_export_overlapping_the_store_adds_only_the_records_it_lacks(tmp_path: Path) -> None:
    lines = (FIXTURES / "diagnostic_settings_records.json").read_text()
    records = json.loads(lines)["records"]
    first_half = tmp_path / "first.json"
    first_half.write_text(json.dumps({"records": records[: len(records) // 2]}))
    store = tmp_path / "imported.duckdb"
    import_exports([first_half], store)
    summary = import_exports([FIXTURES / "diagnostic_settings_records.json"], store)
    assert summary.rows_added == len(records) - len(records) // 2
    assert sum(summary.already_present.values()) == len(records) // 2
    assert sum(_store_counts(store).values()) == len(records)


@pytest.mark.parametrize("table", STORE_TABLES)
def test_every_workspace_column_lands_in_the_classic_column_it_was_renamed_from_and_others_are_dropped(table: str, tmp_path: Path) -> None:
    workspace = WORKSPACE_TABLES[table]
    kinds = workspace_schema()[workspace]
    samples = {"datetime": "2026-11-18T10:00:00.0000000Z", "real": 12.5, "int": 7, "long": 7, "bool": False,
               "dynamic": {"k": "v"}}
    record = {name: samples.get(kind, f"value of {name}") for name, kind in kinds.items()}
    record["Type"] = workspace
    record["ColumnAddedNextYear"] = {"kept": False}  # a column the store has no place for
    path = tmp_path / "one.json"
    path.write_text(json.dumps(record) + "\n")
    store = tmp_path / "imported.duckdb"
    assert import_exports([path], store).added[table] == 1
    con = connect(store)
    row = con.execute(f"SELECT * FROM {table}").df().iloc[0]
    con.close()
    for column in CLASSIC_TABLES[table]:
        try:
            name = workspace_column(table, column)
        except KeyError:
            continue
        kind = kinds[name]
        want = {"datetime": pd.Timestamp("2026-11-18 10:00:00"), "bool": "False", "dynamic": '{"k":"v"}'}.get(
            kind, record[name]
        )
        if column == "itemType":  # Type names the workspace table; itemType the classic item
            want = {"requests": "request", "dependencies": "dependency", "exceptions": "exception"}.get(table, "trace")
        assert row[column] == want, f"{name} -> {column}"


# ---- bad input ---------------------------------------------------------------------------------


def test_bad_records_are_skipped_and_named_by_file_and_line_and_the_rest_imports(tmp_path: Path) -> None:
    path = FIXTURES / "broken_lines.json"
    summary = import_exports([path], tmp_path / "imported.duckdb")
    name = str(path)
    assert _group(summary, "not valid JSON")[0].startswith(f"{name} line 2 (")
    assert _group(summary, "DurationMs is not a number") == (f"{name} line 4 (fast)",)
    assert _group(summary, "no TimeGenerated") == (f"{name} line 5",)
    assert _group(summary, "AppMetrics records are not imported") == (f"{name} line 6",)
    good_lines = len((path.read_text()).splitlines()) - 4
    assert sum(summary.added.values()) == good_lines and not summary.failed


def test_a_file_that_cannot_be_read_is_named_with_why_and_the_other_files_still_import(tmp_path: Path) -> None:
    store = tmp_path / "imported.duckdb"
    annotated = tmp_path / "example.jsonc"
    annotated.write_text('// a documented record\n{"request": [{"id": "1"}]}\n')
    files = [FIXTURES / "truncated_PT1H.json.gz", FIXTURES / "no_time_column.csv", annotated,
             FIXTURES / "data_export_PT1H.json"]
    summary = import_exports(files, store)
    failed = {f.file: f.message for f in summary.failed}
    assert set(failed) == {str(files[0]), str(files[1]), str(files[2])}
    assert "ends early" in failed[str(files[0])] and "after line " in failed[str(files[0])]
    assert "no time column" in failed[str(files[1])]
    assert "JSON with comments" in failed[str(files[2])]
    assert _store_counts(store) == _expected_counts(_workspace_json(files[3]))
    assert any(str(files[0]) in line for line in summary.lines())


def test_a_second_import_into_the_same_store_is_refused_while_one_runs(tmp_path: Path) -> None:
    store = tmp_path / "imported.duckdb"
    refusals: list[str] = []

    def meanwhile(_step: Progress) -> None:
        if not refusals:
            with pytest.raises(ImportFailed) as refused:
                import_exports([FIXTURES / "data_export_PT1H.json"], store)
            refusals.append(str(refused.value))

    import_exports([FIXTURES / "continuous_export.json"], store, progress=meanwhile)
    assert refusals and "Another import" in refusals[0]


# ---- atomic --------------------------------------------------------------------------------------


def test_an_error_midway_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    store = tmp_path / "imported.duckdb"
    import_exports([FIXTURES / "data_export_PT1H.json"], store)
    before = (_store_counts(store), os.stat(store).st_mtime_ns)

    def fail_on_the_second_file(step: Progress) -> None:
        if step.file.endswith("continuous_export.json"):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        import_exports([FIXTURES / "logs_query_classic.csv", FIXTURES / "continuous_export.json"], store,
                       progress=fail_on_the_second_file)
    assert (_store_counts(store), os.stat(store).st_mtime_ns) == before
    assert _leftovers(tmp_path) == []


def _big_export(path: Path, megabytes: int) -> None:
    """Data-export lines of the fixture's records, repeated under new item ids."""
    templates = [json.loads(line) for line in (FIXTURES / "data_export_PT1H.json").read_text().splitlines()]
    with path.open("w") as out:
        written, n = 0, 0
        while written < megabytes << 20:
            record = templates[n % len(templates)] | {"_ItemId": f"big-{n}"}
            line = json.dumps(record) + "\n"
            out.write(line)
            written, n = written + len(line), n + 1


def test_a_file_that_fails_after_its_first_chunk_takes_its_rows_out_again(tmp_path: Path) -> None:
    plain = tmp_path / "big.json"
    _big_export(plain, megabytes=CHUNK_BYTES // 2**20 + 4)  # one chunk staged before the break
    whole = gzip.compress(plain.read_bytes(), compresslevel=1)
    cut = tmp_path / "cut_PT1H.json.gz"
    cut.write_bytes(whole[: len(whole) * 9 // 10])
    store = tmp_path / "imported.duckdb"
    staged: list[int] = []

    def count_staged(step: Progress) -> None:
        if step.file == str(cut):
            staged.append(step.records)

    summary = import_exports([FIXTURES / "data_export_PT1H.json", cut], store, progress=count_staged)
    assert max(staged) > 0  # rows of the cut file were in the store before it broke
    assert [f.file for f in summary.failed] == [str(cut)] and "ends early" in summary.failed[0].message
    assert _store_counts(store) == _expected_counts(_workspace_json(FIXTURES / "data_export_PT1H.json"))
    assert summary.added == _store_counts(store)


def test_an_import_killed_midway_leaves_the_store_with_its_old_rows(tmp_path: Path) -> None:
    store = tmp_path / "imported.duckdb"
    import_exports([FIXTURES / "data_export_PT1H.json"], store)
    before = _store_counts(store)
    big = tmp_path / "big.json"
    _big_export(big, megabytes=48)
    job = subprocess.Popen(
        [sys.executable, "-m", "telemetry", "import", str(big), "--store", str(store)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    assert job.stderr is not None
    first_progress = job.stderr.readline()  # printed once the first 16 MB are staged: midway
    os.kill(job.pid, signal.SIGKILL)
    job.wait()
    assert "%" in first_progress and job.returncode == -signal.SIGKILL
    assert _store_counts(store) == before
    current = totals(_answer(store, "requests.totals", WINDOW), WINDOW.window())["current"]
    requests = _workspace_json(FIXTURES / "data_export_PT1H.json").query("table == 'requests'")
    assert current.requests == requests["itemCount"].sum()

    assert _leftovers(tmp_path)  # the half-built copy: the next import into the store deletes it
    import_exports([FIXTURES / "logs_query_workspace.csv"], store)
    assert _leftovers(tmp_path) == []


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if ".building" in p.name]


# ---- progress and the command line --------------------------------------------------------------


def test_progress_rises_to_the_whole_and_ends_with_writing(tmp_path: Path) -> None:
    steps: list[Progress] = []
    files = [FIXTURES / name for name in FORMATS]
    import_exports(files, tmp_path / "imported.duckdb", progress=steps.append)
    fractions = [s.fraction for s in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert steps[-1].phase == "writing" and steps[-1].records == sum(len(FORMATS[f.name](f)) for f in files)
    assert {s.file for s in steps[:-1]} == {str(f) for f in files}


def test_the_command_prints_progress_and_a_summary_and_fails_when_a_file_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "imported.duckdb"
    good = FIXTURES / "logs_query_workspace.csv"
    assert main(["import", str(good), "--store", str(store)]) == 0
    out, err = capsys.readouterr()
    requests = int((_workspace_csv(good)["table"] == "requests").sum())
    assert f"requests: {requests:,} rows added" in out and "time span: 2026-11-18" in out
    assert "100 %" in err
    bad = FIXTURES / "no_time_column.csv"
    assert main(["import", str(bad), str(good), "--store", str(store)]) == 1
    out, _err = capsys.readouterr()
    assert f"Could not import {bad}: no time column" in out and f"({requests:,} already in the store)" in out


# ---- the store -------------------------------------------------------------------------------


def test_a_store_that_is_not_a_duckdb_file_is_refused_with_a_message(tmp_path: Path) -> None:
    store = tmp_path / "imported.duckdb"
    store.write_text("not a database")
    with pytest.raises(ImportFailed, match=str(store)):
        import_exports([FIXTURES / "data_export_PT1H.json"], store)
    assert store.read_text() == "not a database"
    with pytest.raises(duckdb.Error):
        connect(store)
