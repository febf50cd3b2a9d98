"""Hostile exports cost bounded memory: a line or field past the byte cap is named and skipped,
never held whole, and the other records and files still import. Each hostile import runs in a
child process whose address space is capped (RLIMIT_AS) a few hundred MiB above what a small
import needed, so holding the hostile line whole would fail it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from telemetry.importer import import_exports
from telemetry.importer.bounded import MAX_RECORD_BYTES
from tests.memory_cap import run_capped
from tests.test_import import FIXTURES

HEADROOM = 384 << 20  # what the child may grow by, past its peak after a small import
HUGE = 640 << 20  # a hostile line or field: more than the headroom


def _import_capped(paths: list[Path], store: Path) -> dict:
    return run_capped(
        f"""
        from telemetry.importer import import_exports
        import_exports([{str(FIXTURES / "data_export_PT1H.json")!r}], {str(store) + ".warm.duckdb"!r})
        """,
        f"""
        summary = import_exports({list(map(str, paths))!r}, {str(store)!r})
        answer = {{"added": summary.added, "problems": summary.problems()}}
        """, headroom=HEADROOM)


def _record(i: int, message: str = "ok", **extra: object) -> dict:
    return {"TimeGenerated": f"2026-11-18T10:{i:02d}:00Z", "Type": "AppTraces", "AppRoleName": "svc",
            "OperationId": f"op{i}", "Message": message, "SeverityLevel": 1, "ItemCount": 1, "_ItemId": f"id{i}",
            **extra}


def _write_huge(out: gzip.GzipFile, size: int) -> None:
    piece = b"A" * (8 << 20)
    for _ in range(size // len(piece)):
        out.write(piece)


def test_a_gzip_that_inflates_to_one_huge_json_line_skips_that_line_and_imports_the_rest(tmp_path: Path) -> None:
    bomb = tmp_path / "PT1H.json.gz"
    with gzip.open(bomb, "wb", compresslevel=1) as out:
        out.write((json.dumps(_record(1)) + "\n").encode())
        out.write(b'{"TimeGenerated": "2026-11-18T10:02:00Z", "Type": "AppTraces", "Message": "')
        _write_huge(out, HUGE)
        out.write(b'"}\n')
        out.write((json.dumps(_record(3)) + "\n").encode())
    assert bomb.stat().st_size < 4 << 20
    answer = _import_capped([bomb, FIXTURES / "data_export_PT1H.json"], tmp_path / "store.duckdb")
    assert answer["added"]["traces"] >= 2, "the lines around it, and the other file, are imported"
    assert answer["added"]["requests"] > 0
    (skipped,) = [p for p in answer["problems"] if "longer than 8 MiB" in p]
    assert "PT1H.json.gz line 2" in skipped and f"{HUGE + 80:,}"[:3] in skipped


def _csv(rows: list[list[str]]) -> bytes:
    header = "TimeGenerated [UTC],Type,AppRoleName,OperationId,Message,SeverityLevel,ItemCount,_ItemId\r\n"
    return (header + "".join(",".join(r) + "\r\n" for r in rows)).encode()


def test_a_csv_field_past_the_cap_skips_its_record_and_imports_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "query_data.csv.gz"
    row = ["2026-11-18T10:0{i}:00Z", "AppTraces", "svc", "op{i}", "{m}", "1", "1", "id{i}"]
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(_csv([[c.format(i=1, m="fine") for c in row]]))
        out.write(",".join(c.format(i=2, m="") for c in row[:4]).encode() + b',"')
        _write_huge(out, HUGE)
        out.write(b'\r\nstill inside the quoted field",1,1,id2\r\n')
        out.write(_csv([[c.format(i=3, m='"said ""hi""\r\nover two lines"') for c in row]]).split(b"\r\n", 1)[1])
    answer = _import_capped([path], tmp_path / "store.duckdb")
    assert answer["added"]["traces"] == 2
    (skipped,) = [p for p in answer["problems"] if "longer than 8 MiB" in p]
    assert "query_data.csv.gz line 3" in skipped


def test_many_csv_rows_of_big_fields_are_staged_by_bytes_not_by_row_count(tmp_path: Path) -> None:
    """2,000 rows of 100 KB: staged 20,000 rows at a time they were one 200 MB chunk, and DuckDB ran
    out of its memory limit (the process grew by 880 MB); staged by bytes they all import."""
    path = tmp_path / "query_data.csv.gz"
    field = "B" * (100 << 10)
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(_csv([[f"2026-11-18T10:{i % 60:02d}:00Z", "AppTraces", "svc", f"op{i}", field, "1", "1", f"id{i}"]
                        for i in range(2_000)]))
    summary = import_exports([path], tmp_path / "store.duckdb")
    assert summary.failed == ()
    assert summary.added["traces"] == 2_000


def test_records_at_app_insights_own_limits_import_within_duckdbs_memory_limit(tmp_path: Path) -> None:
    """32 KB messages and 8 KB properties, the service's limits: 16 MiB staging chunks ran DuckDB
    out of its 256 MB on the first chunk."""
    path = tmp_path / "PT1H.json"
    text = "m" * 32_768
    props = {f"p{k}": str(k) * 8_192 for k in range(3)}
    with path.open("w") as out:
        for i in range(600):  # 35 MB: several chunks
            out.write(json.dumps(_record(i % 60, text, Properties=props) | {"_ItemId": f"id{i}"}) + "\n")
    summary = import_exports([path], tmp_path / "store.duckdb")
    assert summary.failed == ()
    assert summary.added["traces"] == 600


def test_a_pretty_printed_document_past_the_cap_is_named_and_the_other_files_import(tmp_path: Path) -> None:
    document = tmp_path / "records.json"
    document.write_text('{\n  "records": [\n' + json.dumps(_record(1, "x" * MAX_RECORD_BYTES)) + "\n]}\n")
    summary = import_exports([document, FIXTURES / "data_export_PT1H.json"], tmp_path / "store.duckdb")
    assert [f.file for f in summary.failed] == [str(document)]
    assert "over 8 MiB" in summary.failed[0].message
    assert summary.added["requests"] > 0


@pytest.fixture(autouse=True)
def _linux_only() -> None:
    if not Path("/proc/self/status").exists():
        pytest.skip("the memory cap reads /proc")
