"""CSV from a Logs query ("Export to CSV - all columns") over classic or workspace tables.

The header names the columns, a time column may carry its unit ("timestamp [UTC]"), values may
span lines inside quotes. Rows go to DuckDB `_CSV_ROWS` at a time, as text columns.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from typing import Final

import pyarrow as pa

from telemetry.importer.bounded import MAX_RECORD_BYTES, Record, csv_records, too_long
from telemetry.importer.dialects import Dialect, table_sql
from telemetry.importer.files import ExportFile, FileProblem, open_export
from telemetry.importer.json_files import CHUNK_BYTES
from telemetry.importer.sqltext import ident
from telemetry.importer.staging import registered
from telemetry.importer.summary import SkipRow
from telemetry.store import STORE_TABLES

__all__ = ["CsvExport"]

_CSV_ROWS: Final = 20_000  # rows a chunk at most; CHUNK_BYTES of fields at most too
csv.field_size_limit(MAX_RECORD_BYTES)  # a field fits in a record: the cap is the record's
_UNIT = re.compile(r"^(?P<name>.*?)\s*\[(?P<unit>[^\]]*)\]$")
_TIME_COLUMNS: Final[dict[str, Dialect]] = {"TimeGenerated": "workspace", "timestamp": "classic"}


class CsvExport(ExportFile):
    def read(self, head: str) -> None:
        del head
        with open_export(self.path) as (stream, raw):
            records = csv_records(stream)  # each at most MAX_RECORD_BYTES: fields are never held whole past it
            header = self._header(next(self._rows(records, []), (0, None))[1])
            rows: list[list[str]] = []
            numbers: list[int] = []
            bad: list[SkipRow] = []
            size = 0
            for start, row in self._rows(records, bad):
                if len(row) != len(header):
                    bad.append((start, None, "wrong number of fields", f"{len(row)} fields, the header has {len(header)}"))
                    continue
                rows.append(row)
                numbers.append(start)
                size += sum(map(len, row))
                if len(rows) >= _CSV_ROWS or size >= CHUNK_BYTES:  # rows of big fields: bytes decide
                    self._chunk(header, numbers, rows, bad)
                    self.moved(raw.tell())
                    rows, numbers, bad, size = [], [], [], 0
            self._chunk(header, numbers, rows, bad)
            self.moved(raw.tell())

    def _rows(self, records: Iterator[Record], bad: list[SkipRow]) -> Iterator[tuple[int, list[str]]]:
        """(first line, fields) of each record with fields; one past the byte cap or not UTF-8 is
        put in `bad` instead."""
        for record in records:
            self.line = record.last_line
            if record.data is None:
                bad.append((record.first_line, None, *too_long(record.size)))
                continue
            try:
                text = record.data.decode("utf-8-sig" if record.first_line == 1 else "utf-8")
            except UnicodeDecodeError as error:
                bad.append((record.first_line, None, "not UTF-8 text", error.reason))
                continue
            for row in csv.reader((text,)):  # one row, or several split at bare \r line breaks
                if row:
                    yield record.first_line, row

    def _header(self, header: list[str] | None) -> list[str]:
        if not header:
            raise FileProblem("the file is empty")
        names = []
        for raw_name in header:
            match = _UNIT.match(raw_name.strip())
            name = match["name"] if match else raw_name.strip()
            if name in _TIME_COLUMNS and match and match["unit"].upper() != "UTC":
                raise FileProblem(f'column "{raw_name}" is not in UTC; export again with times in UTC')
            names.append(name)
        self.dialect = next((d for c, d in _TIME_COLUMNS.items() if c in names), None)
        if self.dialect is None:
            raise FileProblem("no time column in the header (TimeGenerated or timestamp); is this an export of a Logs query?")
        if "Type" not in names and "itemType" not in names and self.hint is None:
            raise FileProblem(
                "cannot tell which table the rows are from: no Type or itemType column, and the file name "
                f"names none of {', '.join(STORE_TABLES)}"
            )
        return names

    def _chunk(self, header: list[str], numbers: list[int], rows: list[list[str]], bad: list[SkipRow]) -> None:
        self.staging.skip(self.file_no, bad)
        if not rows or self.dialect is None:
            return
        columns: dict[str, pa.Array] = {"__line": pa.array(numbers, pa.int64())}
        for name, values in zip(header, zip(*rows, strict=True), strict=True):
            if name not in columns and not name.startswith("__"):  # a repeated name keeps its first column
                columns[name] = pa.array(values, pa.string())
        kind = next((c for c in ("Type", "itemType") if c in columns), None)
        table, why = table_sql(self.dialect, f"nullif({ident(kind)}, '')" if kind else "NULL::VARCHAR", self.hint)
        with registered(self.con, "chunk", pa.table(columns)), self.staging.materialized("docs", f"""
            SELECT *, NULL::INTEGER AS __rec, CASE WHEN __tbl IS NULL THEN {why} END AS __why
            FROM (SELECT *, {table} AS __tbl FROM chunk)
        """):
            self.stage("docs", lambda name: ident(name) if name in columns else None)
