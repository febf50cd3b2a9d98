"""Exports of Azure ML online endpoints' own logs (AmlOnlineEndpointTrafficLog, …ConsoleLog,
…EventLog), kept in the store under their own table and column names.

Two shapes, told apart per record:

- Log Analytics data export: the table's columns flat, `TimeGenerated` and `Type` (the table);
- diagnostic settings to a storage account (Azure's common resource-log schema, one container
  per category, `insights-logs-amlonlineendpointtrafficlog/…/PT1H.json`): `time`, `resourceId`,
  `category` (the table), `operationName`, and the table's columns in `properties` (read flat
  too, when a record has them at the top).

JSON lines or `{"records": [...]}`, gzip or plain, read as for the App Insights tables (each line
capped at 8 MiB). A record has
no item id: it is known by its values (the MD5 of its typed columns), so importing a file again
adds nothing. A record without a time, or with a number that is not one, is skipped and named.
"""

from __future__ import annotations

import re
from typing import Final

import pyarrow as pa

from telemetry.importer.json_files import _RECORDS_SQL, JsonExport
from telemetry.importer.sqltext import ident, literal
from telemetry.importer.staging import first_row, registered, row_key_sql
from telemetry.schema import ENDPOINT_TABLES, workspace_schema
from telemetry.store import duckdb_type

__all__ = ["EndpointExport", "endpoint_table_of"]

_TABLE_FIELD: Final = re.compile(r'"(?:Type|category)"\s*:\s*"(AmlOnlineEndpoint(?:Traffic|Console|Event)Log)"',
                                 re.IGNORECASE)
_CANONICAL: Final = {name.lower(): name for name in ENDPOINT_TABLES}
# Where a column may be found besides its own name at the top of the record.
_ALIASES: Final = {"TimeGenerated": ("time",), "_ResourceId": ("resourceId",), "OperationName": ("operationName",)}


def _paths(column: str) -> list[str]:
    return [f'$."{column}"', f'$.properties."{column}"', *(f'$."{a}"' for a in _ALIASES.get(column, ()))]


_PATHS: Final = sorted({p for t in ENDPOINT_TABLES for c in workspace_schema()[t] for p in _paths(c)})


def endpoint_table_of(head: str) -> str | None:
    """The endpoint log table the file's first record names (`Type` or `category`), if any."""
    found = _TABLE_FIELD.search(head[:4096])
    return _CANONICAL[found.group(1).lower()] if found else None


class EndpointExport(JsonExport):
    """One JSON file of endpoint log records: read as any JSON export (lines or one document,
    each line capped), staged into the endpoint tables instead of the App Insights ones."""

    def _chunk(self, numbers: list[int | None], texts: list[str]) -> None:
        if not texts:
            return
        chunk = pa.table({"__line": pa.array(numbers, pa.int64()), "text": pa.array(texts, pa.string())})
        with registered(self.con, "chunk", chunk):
            self._skip_invalid(document=numbers == [None])
            table_name = "coalesce(json_extract_string(doc, '$.Type'), json_extract_string(doc, '$.category'))"
            # One parse a record: every path any table reads, in one list (as JsonExport does).
            with self.staging.materialized("endpoint_docs", f"""{_RECORDS_SQL}
                SELECT __line, __rec, {table_name} AS __tbl,
                       json_extract_string(doc, [{', '.join(map(literal, _PATHS))}]) AS v FROM one"""):
                self.con.execute(
                    f"INSERT INTO skipped SELECT {self.file_no}, __line, __rec, "
                    "coalesce(left(__tbl, 40) || ' records are not imported', 'no table name (Type or category) "
                    "in the record') , NULL FROM endpoint_docs WHERE __tbl IS NULL OR lower(__tbl) NOT IN ("
                    + ", ".join(literal(t.lower()) for t in ENDPOINT_TABLES) + ")")
                for table in ENDPOINT_TABLES:
                    self._stage(table)
                (count,) = first_row(self.con, "SELECT count(*) FROM endpoint_docs") or (0,)
                self.staging.records += int(count)

    def _stage(self, table: str) -> None:
        columns = workspace_schema()[table]
        values, problems = [], []
        for column, kind in columns.items():
            text = f"coalesce({', '.join(f'v[{_PATHS.index(p) + 1}]' for p in _paths(column))})"
            present = f"nullif({text}, '')"
            if column == "Type":
                value = literal(table)
            elif kind == "datetime":
                value = f"CAST(TRY_CAST({present} AS TIMESTAMPTZ) AS TIMESTAMP)"
                problems.append(f"CASE WHEN {present} IS NULL THEN 'no {column} (or time)' "
                                f"WHEN {value} IS NULL THEN '{column} is not a date and time' END")
            elif kind in ("string", "dynamic"):
                value = text
            else:
                value = f"TRY_CAST({present} AS {duckdb_type(kind)})"
                problems.append(f"CASE WHEN {present} IS NOT NULL AND {value} IS NULL THEN '{column} is not a number' END")
            values.append(f"{value} AS {ident(column)}")
        names = ", ".join(ident(c) for c in columns)
        with self.staging.materialized("endpoint_typed", (
            f"SELECT {', '.join(values)}, __line AS _line, __rec AS _rec, coalesce({', '.join(problems)}) AS _problem "
            f"FROM endpoint_docs WHERE lower(__tbl) = {literal(table.lower())}"
        )):
            self.con.execute(f"INSERT INTO skipped SELECT {self.file_no}, _line, _rec, _problem, NULL "
                             "FROM endpoint_typed WHERE _problem IS NOT NULL")
            good, lo, hi = first_row(self.con, "SELECT count(*), min(TimeGenerated), max(TimeGenerated) "
                                               "FROM endpoint_typed WHERE _problem IS NULL") or (0, None, None)
            if not good:
                return
            key = row_key_sql(table)
            with self.staging.materialized("endpoint_fresh", (
                f"SELECT {names}, {key} AS _key FROM endpoint_typed WHERE _problem IS NULL "
                f"AND {key} NOT IN (SELECT {key} FROM {ident(table)} WHERE TimeGenerated BETWEEN ? AND ?) "
                f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _line, _rec) = 1"
            ), [lo, hi]):
                self.con.execute(f"INSERT INTO {ident(table)} ({names}) SELECT {names} FROM endpoint_fresh "
                                 "ORDER BY TimeGenerated")
                self.con.execute(f"INSERT INTO file_items SELECT {literal(table)}, _key FROM endpoint_fresh")
                (added,) = first_row(self.con, "SELECT count(*) FROM endpoint_fresh") or (0,)
        self.staging.count_file(table, int(added), int(good) - int(added), lo, hi)
