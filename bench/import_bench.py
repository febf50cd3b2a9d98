"""Import a generated Log Analytics data export of about 1 GB and measure it: rows/s, peak RSS.

    .venv/bin/python bench/import_bench.py [--size-mb 1024] [--gzip] [--dir /tmp] [--keep]

The export is JSON lines of AppRequests and AppTraces records (3 traces to 4 requests) with
every column the workspace tables have and realistic sizes: a request about 1.5 KB, a trace
carrying a model's input and output as a JSON payload 1-4 KB. The import runs as
`python -m telemetry import` in a child process, so its peak resident memory
(`ru_maxrss` of the children) is the import's alone. The export and the store are deleted
afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, cast

import duckdb

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 10, 1, tzinfo=UTC)
SERVICES = ("churn-regressor", "image-classifier", "fraud-scorer")
RESOURCE = "/SUBSCRIPTIONS/0000/RESOURCEGROUPS/ML/PROVIDERS/MICROSOFT.INSIGHTS/COMPONENTS/ENDPOINTS"


def _common(rng: random.Random, at: datetime, service: str, kind: str) -> dict[str, object]:
    """The columns every workspace table has, as a data export writes them."""
    return {
        "TenantId": "11111111-2222-3333-4444-555555555555", "TimeGenerated": at.strftime("%Y-%m-%dT%H:%M:%S.%f0Z"),
        "OperationName": "POST /score", "OperationId": f"{rng.getrandbits(128):032x}",
        "ParentId": f"{rng.getrandbits(64):016x}", "SyntheticSource": "", "SessionId": "", "UserId": "",
        "UserAuthenticatedId": "", "UserAccountId": "", "AppVersion": "3.2.1", "ClientType": "PC",
        "ClientModel": "Other", "ClientOS": "Linux 5.15.0-1057-azure", "ClientIP": "0.0.0.0",
        "ClientCity": "Amsterdam", "ClientStateOrProvince": "North Holland", "ClientCountryOrRegion": "Netherlands",
        "ClientBrowser": "", "AppRoleName": service, "AppRoleInstance": f"{service}-7d9f8b6c5-{rng.randrange(4)}",
        "ResourceGUID": "2f1e6a3b-0000-4c3d-9e8f-1234567890ab", "IKey": "0a1b2c3d-0000-4e5f-8a9b-0c1d2e3f4a5b",
        "SDKVersion": "py3.11:otel1.25.0:ext1.0.0b25", "Type": kind, "ItemCount": 1,
        "SourceSystem": "Azure", "_ResourceId": RESOURCE, "_SubscriptionId": "00000000-0000-0000-0000-000000000000",
        "_IsBillable": "true", "ReferencedItemId": "", "ReferencedType": "",
        "_ItemId": str(uuid.UUID(int=rng.getrandbits(128))),
    }


def _request(rng: random.Random, at: datetime, service: str) -> dict[str, object]:
    failed = rng.random() < 0.03
    duration = rng.lognormvariate(3.8, 0.7)
    return _common(rng, at, service, "AppRequests") | {
        "Id": f"{rng.getrandbits(64):016x}", "Source": "", "Name": "POST /score",
        "Url": f"https://{service}.westeurope.inference.ml.azure.com/score", "Success": not failed,
        "ResultCode": "500" if failed else "200", "DurationMs": round(duration, 4),
        "PerformanceBucket": "<250ms" if duration < 250 else "250ms-500ms",
        "Properties": {"azureml-model-deployment": "blue", "model_version": "3", "_MS.ProcessedByMetricExtractors": "True"},
        "Measurements": {}, "_BilledSize": 1420.0,
    }


def _trace(rng: random.Random, at: datetime, service: str) -> dict[str, object]:
    features = {f"f{i}": round(rng.gauss(0, 1), 6) for i in range(rng.randrange(40, 200))}
    payload = json.dumps({"input": features, "output": {"prediction": round(rng.random(), 6)}})
    return _common(rng, at, service, "AppTraces") | {
        "Message": "model input and output", "SeverityLevel": 1,
        "Properties": {"Contents": payload, "model_version": "3"}, "Measurements": {}, "_BilledSize": 2600.0,
    }


def records(seed: int = 7) -> Iterator[dict[str, object]]:
    """An endless stream of records, about 40 a second of telemetry, in time order."""
    rng = random.Random(seed)
    at = START
    while True:
        at += timedelta(microseconds=rng.randrange(1, 50_000))
        service = rng.choice(SERVICES)
        yield (_trace if rng.random() < 3 / 7 else _request)(rng, at, service)


def write_export(path: Path, size_bytes: int, *, zipped: bool) -> int:
    """Write records as JSON lines until `size_bytes` of JSON; the number of records written."""
    handle = cast(IO[bytes], gzip.open(path, "wb", compresslevel=1)) if zipped else path.open("wb")
    written = count = 0
    with handle:
        for record in records():
            line = (json.dumps(record) + "\n").encode()
            handle.write(line)
            written, count = written + len(line), count + 1
            if written >= size_bytes:
                return count
    return count


def run_import(export: Path, store: Path) -> tuple[float, int]:
    """Import `export` in a child process: (seconds, its peak RSS in bytes)."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "telemetry", "import", str(export), "--store", str(store)],
        cwd=ROOT, check=True, stderr=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - started
    return elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux


def _rows(store: Path) -> dict[str, int]:
    con = duckdb.connect(str(store), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in ("requests", "traces")}
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024, help="JSON bytes to write (before gzip)")
    parser.add_argument("--gzip", action="store_true", help="write PT1H.json.gz instead of PT1H.json")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--keep", action="store_true", help="keep the export and the store")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="import-bench-", dir=args.dir))
    export = folder / ("PT1H.json.gz" if args.gzip else "PT1H.json")
    store = folder / "imported.duckdb"
    try:
        started = time.perf_counter()
        written = write_export(export, args.size_mb << 20, zipped=args.gzip)
        print(f"wrote {written:,} records, {export.stat().st_size / 2**20:,.0f} MB on disk, "
              f"in {time.perf_counter() - started:.0f} s: {export}")
        seconds, peak = run_import(export, store)
        rows = _rows(store)
        print(f"imported {sum(rows.values()):,} rows {rows} in {seconds:.0f} s: "
              f"{sum(rows.values()) / seconds:,.0f} rows/s, {args.size_mb / seconds:.1f} MB/s of JSON; "
              f"peak RSS {peak / 2**20:,.0f} MB; store {store.stat().st_size / 2**20:,.0f} MB")
    finally:
        if not args.keep:
            for leftover in folder.iterdir():
                leftover.unlink()
            folder.rmdir()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
