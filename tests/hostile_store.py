"""A small store of rows no healthy service logs: cut, invalid, huge, deep and mis-encoded text.

DuckDB (like the Logs API's JSON) only carries valid UTF-8, so bytes that were not UTF-8 arrive
as what they become on the way: U+FFFD replacement characters, Latin-1 mojibake, or lone
surrogate escapes ("\\udcff") inside JSON, which decode to text no UTF-8 writer accepts.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

import pyarrow as pa

from telemetry.store import build_store

SERVICE: Final = "hostile-svc"
OP: Final = "op\"bad' | take 1 // \\ \n next line"  # quotes, KQL, a backslash and a line break
MEGABYTE: Final = 1_000_000
DEEP: Final = "[" * 10_000 + "]" * 10_000

# problemId -> details text: one exception group per way details can be unreadable.
BAD_DETAILS: Final = {
    'Cut"Problem | take 1': '[{"type": "ValueError", "message": "m", "parsedStack": [{"level": 0, "method": "run"',
    "Deep at score.run": DEEP,
    "Huge at score.run": "x" * MEGABYTE,
    "Surrogate at score.run": json.dumps([{"type": "E\udcff", "message": "bad \udcfe bytes", "parsedStack": []}]),
    "Mojibake at score.run": json.dumps([{"type": "UnicodeError", "message": "cafÃ© \ufffd", "parsedStack": []}]),
}


def _dims(**props: str) -> str:
    return json.dumps(props)


def trace_rows() -> list[dict[str, object]]:
    """(message, customDimensions) pairs: every row a payload row (STDOUT with "input", or data collection)."""
    rows = [
        ("STDOUT", _dims(Contents='{"input": {"data": [[1, 2')),  # cut mid-JSON
        ("STDOUT", 'not json at all {"input"'),  # customDimensions itself invalid
        ("STDOUT", _dims(Contents='{"input": "\udcff\udcfe", "output": ["caf\u00c3\u00a9 \ufffd"]}')),  # \udcff in the bag
        ("STDOUT", _dims(Contents=json.dumps({"input": "\udcff lone", "output": 1}))),  # escapes at both levels
        ("A" * MEGABYTE, _dims(Contents='{"input": 1, "output": 2}')),  # a megabyte message
        ("STDOUT", _dims(Contents='{"input": ' + DEEP + "}")),  # 10,000 levels
        ("STDOUT", _dims(Contents='{"input": "' + "B" * MEGABYTE + '"}')),  # a megabyte payload
        ("model_data_collection", _dims(Content='{"image": "iVBOR', **{"Prediction/Input": "input"})),
        ("STDOUT", _dims(Contents='the "input" was {not JSON')),
        ("STDOUT", DEEP),  # customDimensions nested 10,000 levels
    ]
    return [{"message": m, "customDimensions": d} for m, d in rows]


def build_hostile_store(path: Path, end: datetime) -> Path:
    start = end - timedelta(minutes=30)
    traces = trace_rows()
    n = len(traces)
    trace_table = pa.table({
        "timestamp": [start + timedelta(seconds=10 * i) for i in range(n)],
        "message": [r["message"] for r in traces],
        "severityLevel": pa.array([1] * n, pa.int32()),
        "customDimensions": [r["customDimensions"] for r in traces],
        # data collection in an operation of its own: it would join the operation's print otherwise
        "operation_Id": [OP + " collected" if r["message"] == "model_data_collection" else OP for r in traces],
        "operation_Name": ["POST /score"] * n,
        "cloud_RoleName": [SERVICE] * n,
        "itemCount": pa.array([1] * n, pa.int32()),
    })
    problems = list(BAD_DETAILS)
    m = len(problems)
    exception_table = pa.table({
        "timestamp": [start + timedelta(seconds=5 + 10 * i) for i in range(m)],
        "problemId": problems,
        "type": [p.split(" ")[0] for p in problems],
        "outerMessage": ["C" * MEGABYTE if i == 0 else f"outer \ufffd {i}" for i in range(m)],
        "innermostMessage": ["inner"] * m,
        "details": list(BAD_DETAILS.values()),
        "severityLevel": pa.array([3] * m, pa.int32()),
        "operation_Id": [OP] * m,
        "operation_Name": ["POST /score"] * m,
        "cloud_RoleName": [SERVICE] * m,
        "itemCount": pa.array([1] * m, pa.int32()),
    })
    call = {"timestamp": [start], "id": ["r1"], "name": ["POST /score"], "success": ["False"], "resultCode": ["500"],
            "duration": [812.5], "operation_Id": [OP], "operation_Name": ["POST /score"], "cloud_RoleName": [SERVICE],
            "itemCount": pa.array([1], pa.int32())}
    dependency = {**call, "id": ["d1"], "name": ["GET /features"], "type": ["HTTP"], "target": ["f.internal"],
                  "duration": [2000.0], "resultCode": ["504"]}
    return build_store(path, [("traces", trace_table), ("exceptions", exception_table),
                              ("requests", pa.table(call)), ("dependencies", pa.table(dependency))])
