"""Import exported Application Insights telemetry into a local store, so every page can read it.

    summary = import_exports([Path("PT1H.json"), Path("query_data.csv")], Path("data/imported.duckdb"))
    print("\\n".join(summary.lines()))

What it reads (told apart by content, not by file name; gzip or plain):

- Log Analytics data export and diagnostic-settings files of the workspace tables AppRequests,
  AppDependencies, AppExceptions and AppTraces: JSON lines (one record a line), or
  `{"records": [...]}` documents, one a line or one pretty-printed document a file
  (`json_files`);
- CSV from a Logs query ("Export to CSV - all columns") over the classic or the workspace tables
  (`csv_files`);
- legacy continuous export: JSON lines, one item each, `{"request": [...], "context": {...}}`
  (`json_files`, mapped by `continuous`).

Workspace columns map to the store's classic ones through `telemetry.schema.workspace_column`,
read backwards (`columns`); columns the store does not keep are left out.

How an import stays safe (`job`, `staging`):

- Atomic: rows go into a copy of the store that replaces it when everything is in
  (`telemetry.store.replacing`); an error or a killed process leaves the store as it was.
- Idempotent: a row whose item id is already in the store (or earlier in the same import) is not
  added again. The item id is `itemId` (classic), `_ItemId` (workspace) or `internal.data.id`
  (continuous export); a record without one (diagnostic settings carry none) gets the MD5 of its
  mapped values: the same record read twice is the same row.
- Streamed: files are read in chunks (`CHUNK_BYTES` of JSON lines; 20,000 CSV rows or
  `CHUNK_BYTES` of fields, whichever comes first); DuckDB parses and maps each chunk and adds its
  rows to the store's copy before the next is read, under `MEMORY_LIMIT` (a 1 GB export peaks near
  560 MB resident, see bench/import_bench.py). A pretty-printed JSON document is read whole, up to
  `MAX_RECORD_BYTES`.
- Bounded: a JSON line or CSV record longer than `MAX_RECORD_BYTES` (8 MiB; App Insights items are
  at most 64 KB) is never held whole: it is read through, skipped and named (`bounded`).
- A bad record is skipped and reported with its file, line and what was wrong; a file that cannot
  be read at all is reported and the other files still import.
"""

from __future__ import annotations

from telemetry.importer.cli import run_cli
from telemetry.importer.job import IMPORT_STORE, MEMORY_LIMIT, ImportFailed, import_exports, store_span
from telemetry.importer.json_files import CHUNK_BYTES
from telemetry.importer.summary import FileFailure, ImportSummary, Progress, SkipGroup

__all__ = [
    "CHUNK_BYTES",
    "IMPORT_STORE",
    "MEMORY_LIMIT",
    "FileFailure",
    "ImportFailed",
    "ImportSummary",
    "Progress",
    "SkipGroup",
    "import_exports",
    "run_cli",
    "store_span",
]
