"""JSON exports: data export and diagnostic-settings files, and legacy continuous export.

A file is JSON lines (one record a line, or one `{"records": [...]}` document a line, as Azure
appends them to `PT1H.json`), or one pretty-printed document. Lines are read in chunks of about
`CHUNK_BYTES` and handed to DuckDB, which parses the JSON and picks the fields; a pretty-printed
document is read whole (there is no line to stop at).
"""

from __future__ import annotations

from typing import IO, Final

import pyarrow as pa

from telemetry.importer.bounded import MAX_RECORD_BYTES, lines, too_long
from telemetry.importer.dialects import Dialect, dialect_of, sources, table_sql
from telemetry.importer.files import ExportFile, FileProblem, open_export
from telemetry.importer.sqltext import literal
from telemetry.importer.staging import first_row, registered
from telemetry.importer.summary import SkipRow
from telemetry.payloads import parse_json
from telemetry.store import STORE_TABLES

__all__ = ["CHUNK_BYTES", "JsonExport"]

# Lines are staged about this many bytes at a time. DuckDB parses a chunk's JSON within the
# staging's memory limit (256 MB): 16 MiB of records at App Insights' own limits (32 KB messages,
# 8 KB properties) ran out of it, 8 MiB does not.
CHUNK_BYTES: Final = 8 << 20
_EXAMPLES: Final = 3  # JSON error details worked out per file (json.loads again: slow)

# SQL for a record's own table name, per dialect
_TABLE_NAME: Final[dict[Dialect, str]] = {
    "workspace": "json_extract_string(doc, '$.Type')",
    "classic": "json_extract_string(doc, '$.itemType')",
    "continuous": "list_filter(json_keys(doc), lambda k: k NOT IN ('context', 'internal'))[1]",
}

# The records of each line: `{...}`, `{"records": [...]}` or `[...]` (string tests first: each
# JSON function parses the whole line again).
_RECORDS_SQL: Final = """
    WITH src AS (
        SELECT __line, text, starts_with(ltrim(text), '[')
               OR (contains(text, '"records"') AND coalesce(json_type(text, '$.records') = 'ARRAY', false)) AS many
        FROM chunk WHERE json_valid(text)),
    one AS (
        SELECT __line, NULL::INTEGER AS __rec, text AS doc FROM src WHERE NOT many
        UNION ALL
        SELECT __line, generate_subscripts(r, 1) AS __rec, CAST(unnest(r) AS VARCHAR) AS doc FROM (
            SELECT __line, CASE WHEN json_type(text) = 'ARRAY' THEN json_extract(text, '$[*]')
                                ELSE json_extract(text, '$.records[*]') END AS r
            FROM src WHERE many))
"""

# (the first 100 valid lines only: casting a whole chunk of big records to JSON ran out of memory)
_FIRST_RECORD_KEYS: Final = """
    SELECT json_keys(first) FROM (
        SELECT CASE WHEN json_type(text) = 'ARRAY' THEN json_extract(text, '$[0]')
                    WHEN json_type(text, '$.records') = 'ARRAY' THEN json_extract(text, '$.records[0]')
                    ELSE text::JSON END AS first
        FROM (SELECT text FROM chunk WHERE json_valid(text) LIMIT 100)) WHERE json_type(first) = 'OBJECT' LIMIT 1
"""


class JsonExport(ExportFile):
    json_errors = 0

    def read(self, head: str) -> None:
        first = head.splitlines()[0].strip()
        document = first in ("{", "[") or (first[-1] in "{[," and not parse_json(first, max_chars=len(first)).ok)
        with open_export(self.path) as (stream, raw):
            if document:
                text = stream.read(MAX_RECORD_BYTES + 1)
                if len(text) > MAX_RECORD_BYTES:
                    raise FileProblem(f"one JSON document over {MAX_RECORD_BYTES >> 20} MiB: export it as JSON lines")
                self._chunk([None], [text.decode("utf-8-sig")])
                self.moved(raw.tell())
                return
            batch: list[tuple[int, bytes]] = []
            size = 0
            for line in lines(stream):  # line by line, so a truncated file names the last good line
                self.line += 1
                if line.data is None:  # never held whole: named and skipped
                    self.staging.skip(self.file_no, [(self.line, None, *too_long(line.size))])
                    continue
                batch.append((self.line, line.data))
                size += line.size
                if size >= CHUNK_BYTES:
                    self._lines(batch, raw)
                    batch, size = [], 0
            self._lines(batch, raw)

    def _lines(self, lines: list[tuple[int, bytes]], raw: IO[bytes]) -> None:
        numbers: list[int | None] = []
        texts: list[str] = []
        bad: list[SkipRow] = []
        for number, raw_line in lines:
            try:
                text = raw_line.decode("utf-8")
            except UnicodeDecodeError as error:
                bad.append((number, None, "not UTF-8 text", error.reason))
                continue
            if number == 1:
                text = text.removeprefix("\ufeff")
            if text.strip():
                numbers.append(number)
                texts.append(text)
        self.staging.skip(self.file_no, bad)
        self._chunk(numbers, texts)
        self.moved(raw.tell())

    def _chunk(self, numbers: list[int | None], texts: list[str]) -> None:
        if not texts:
            return
        with registered(self.con, "chunk", pa.table({"__line": pa.array(numbers, pa.int64()), "text": pa.array(texts)})):
            self._skip_invalid(document=numbers == [None])
            self.dialect = self.dialect or self._detect()
            self._stage_chunk()

    def _stage_chunk(self) -> None:
        paths = self._paths()
        if self.dialect is None:  # no record yet: every line is reported as not a JSON object
            table, why = "NULL", "NULL"
        else:
            table, why = table_sql(self.dialect, _TABLE_NAME[self.dialect], self.hint)
        with self.staging.materialized("docs", f"""{_RECORDS_SQL},
            typed AS (SELECT *, {table} AS __tbl, starts_with(ltrim(doc), '{{') AS __object FROM one)
            SELECT __line, __rec, __tbl, json_extract_string(doc, [{', '.join(map(literal, paths))}]) AS v,
                   CASE WHEN NOT __object THEN 'not a JSON object' WHEN __tbl IS NULL THEN {why} END AS __why
            FROM typed
        """):
            self.stage("docs", lambda name: f"v[{paths.index(_path(name)) + 1}]")

    def _skip_invalid(self, *, document: bool) -> None:
        bad = self.con.execute("SELECT __line, text FROM chunk WHERE NOT json_valid(text)").fetchall()
        if document and bad:
            raise FileProblem(f"not valid JSON: {_json_error(bad[0][1])}")
        rows: list[SkipRow] = []
        for line, text in bad:
            detail = _json_error(text) if self.json_errors < _EXAMPLES else None
            self.json_errors += 1
            rows.append((line, None, "not valid JSON", detail))
        self.staging.skip(self.file_no, rows)

    def _detect(self) -> Dialect | None:
        row = first_row(self.con, _FIRST_RECORD_KEYS)
        if row is None:
            return None  # no record in this chunk yet
        dialect = dialect_of(row[0])
        if dialect is None:
            raise FileProblem(
                "the records are not App Insights exports: no TimeGenerated or time (workspace), timestamp "
                f"(classic) or context (continuous export); the first has {', '.join(sorted(row[0])[:8])}"
            )
        return dialect

    def _paths(self) -> list[str]:
        """Every JSON path the dialect's columns read, in one list for one json_extract_string."""
        if self.dialect is None:
            return ["$"]
        names = {n for t in STORE_TABLES for s in sources(self.dialect, t).values() for n in s.names}
        return sorted(_path(n) for n in names)


def _path(name: str) -> str:
    """A JSON path for a source name: continuous-export sources are paths already."""
    return name if name.startswith("$") else f'$."{name}"'


def _json_error(text: str) -> str:
    """Why a line is not JSON, for people (the same words the trace explorer uses)."""
    parsed = parse_json(text, max_chars=len(text))
    return parsed.detail or "rejected by DuckDB's JSON parser"
