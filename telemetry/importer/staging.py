"""Staging tables: records become typed rows there, each with the first problem it has; at the
end the good rows move into the store once per item id, and the others are counted as skipped.

Everything runs in DuckDB over registered Arrow chunks (no row goes through Python), with the
whole import in temporary tables that spill to disk past the connection's memory limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Final

import duckdb
import pyarrow as pa

from telemetry.importer.columns import ITEM_TYPES, Source
from telemetry.importer.sqltext import ident
from telemetry.importer.summary import SkipGroup, SkipRow, utc
from telemetry.schema import CLASSIC_TABLES
from telemetry.store import STORE_TABLES, duckdb_type

__all__ = ["Staging", "first_row", "span_sql"]

_EXAMPLES: Final = 3  # example locations kept per skip reason
_META: Final = "_file INTEGER, _line BIGINT, _rec INTEGER, _problem VARCHAR, _detail VARCHAR"


def first_row(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...] | None:
    """The first row of an answer, read to the end (DuckDB keeps an unread result open)."""
    rows = con.execute(sql).fetchall()
    return rows[0] if rows else None


def span_sql(tables: Iterable[str], where: str = "") -> str:
    """SQL for the first and last timestamp over `tables`."""
    union = " UNION ALL ".join(f"SELECT min(timestamp) lo, max(timestamp) hi FROM {t} {where}" for t in tables)
    return f"SELECT min(lo), max(hi) FROM ({union})"


class Staging:
    """The staged rows of one import, on the connection to the store being written."""

    def __init__(self, con: duckdb.DuckDBPyConnection, memory_limit: str) -> None:
        self.con = con
        self.records = 0  # read so far, for progress
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute("SET preserve_insertion_order = false")  # lets big inserts stream
        for table in STORE_TABLES:
            con.execute(f"CREATE TEMP TABLE stage_{table} AS SELECT * FROM {table} LIMIT 0")
            for column in _META.split(", "):
                con.execute(f"ALTER TABLE stage_{table} ADD COLUMN {column}")
        con.execute("CREATE TEMP TABLE skipped (_file INTEGER, _line BIGINT, _rec INTEGER, reason VARCHAR, detail VARCHAR)")

    def skip(self, file_no: int, rows: list[SkipRow]) -> None:
        """Record rows found bad before SQL saw them (not UTF-8, not JSON, wrong field count)."""
        if not rows:
            return
        lines, recs, reasons, details = zip(*rows, strict=True)
        self.con.register("skip_rows", pa.table({
            "_file": pa.array([file_no] * len(rows), pa.int32()), "_line": pa.array(lines, pa.int64()),
            "_rec": pa.array(recs, pa.int32()), "reason": pa.array(reasons, pa.string()),
            "detail": pa.array(details, pa.string()),
        }))
        try:
            self.con.execute("INSERT INTO skipped SELECT * FROM skip_rows")
        finally:
            self.con.unregister("skip_rows")

    def stage(self, file_no: int, relation: str, table_sources: dict[str, dict[str, Source]],
              ref: Callable[[str], str | None]) -> None:
        """Stage the records of `relation` (columns __line, __rec, __tbl, __why and the fields).

        `ref(name)` is the SQL for one source field in the relation, None when the file lacks it.
        """
        self.con.execute(
            f"INSERT INTO skipped SELECT {file_no}, __line, __rec, __why, NULL FROM {relation} WHERE __why IS NOT NULL"
        )
        for table, table_source in table_sources.items():
            self.con.execute(_stage_sql(table, file_no, relation, table_source, ref))
        (count,) = first_row(self.con, f"SELECT count(*) FROM {relation}") or (0,)
        self.records += int(count)

    def forget(self, file_no: int) -> None:
        """A file that failed midway leaves none of its rows behind."""
        for table in (*(f"stage_{t}" for t in STORE_TABLES), "skipped"):
            self.con.execute(f"DELETE FROM {table} WHERE _file = ?", [file_no])

    def span(self) -> tuple[datetime, datetime] | None:
        """First and last time among the good rows read."""
        row = first_row(self.con, span_sql((f"stage_{t}" for t in STORE_TABLES), "WHERE _problem IS NULL"))
        return None if row is None or row[0] is None else (utc(row[0]), utc(row[1]))

    def merge(self, table: str) -> tuple[int, int]:
        """Move the good rows into the table, once per item id, in time order: (added, already there)."""
        stage = f"stage_{table}"
        self.con.execute(
            f"INSERT INTO skipped SELECT _file, _line, _rec, _problem, _detail FROM {stage} WHERE _problem IS NOT NULL"
        )
        (good,) = first_row(self.con, f"SELECT count(*) FROM {stage} WHERE _problem IS NULL") or (0,)
        names = ", ".join(ident(c) for c in CLASSIC_TABLES[table])
        (added,) = first_row(
            self.con,
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} s WHERE _problem IS NULL "
            f"AND rowid IN (SELECT min(rowid) FROM {stage} WHERE _problem IS NULL GROUP BY itemId) "
            f"AND NOT EXISTS (SELECT 1 FROM {table} kept WHERE kept.itemId = s.itemId) ORDER BY timestamp",
        ) or (0,)
        self.con.execute(f"DROP TABLE {stage}")
        return int(added), int(good) - int(added)

    def skip_groups(self, names: list[str]) -> tuple[SkipGroup, ...]:
        """Skipped rows by reason, most first, with the first few places each (`names`: the files')."""
        counts = self.con.execute(
            "SELECT reason, count(*) FROM skipped GROUP BY reason ORDER BY count(*) DESC, reason"
        ).fetchall()
        examples: dict[str, list[str]] = {}
        for reason, file_no, line, rec, detail in self.con.execute(
            "SELECT reason, _file, _line, _rec, detail FROM skipped "
            f"QUALIFY row_number() OVER (PARTITION BY reason ORDER BY _file, _line, _rec) <= {_EXAMPLES} "
            "ORDER BY _file, _line, _rec"
        ).fetchall():
            where = _where(names[file_no], line, rec)
            examples.setdefault(reason, []).append(f"{where} ({detail})" if detail else where)
        return tuple(SkipGroup(reason, int(n), tuple(examples.get(reason, ()))) for reason, n in counts)


def _where(name: str, line: int | None, rec: int | None) -> str:
    if line is None:
        return name if rec is None else f"{name} record {rec}"
    return f"{name} line {line}" + (f", record {rec}" if rec is not None else "")


# ---- SQL: text -> typed columns, with the first problem of each row ------------------------------


def _typed(column: str, kind: str, text: str, label: str) -> tuple[str, str | None]:
    """(value, problem) SQL for one classic column from its source text."""
    present = f"nullif({text}, '')"
    if column == "success":
        value = f"CASE lower({text}) WHEN 'true' THEN 'True' WHEN 'false' THEN 'False' END"
        return value, f"CASE WHEN {present} IS NOT NULL AND {value} IS NULL THEN '{label} is not true or false' END"
    if kind in ("string", "dynamic"):
        return text, None
    if kind == "datetime":  # ISO 8601 as exported, or the portal's "11/18/2026, 10:05:45.733 AM"
        value = (f"coalesce(CAST(TRY_CAST({present} AS TIMESTAMPTZ) AS TIMESTAMP), "
                 f"try_strptime({present}, ['%m/%d/%Y, %I:%M:%S.%g %p', '%m/%d/%Y, %I:%M:%S %p']))")
        return value, f"CASE WHEN {present} IS NULL THEN 'no {label}' WHEN {value} IS NULL THEN '{label} is not a date and time' END"
    number = f"TRY_CAST({present} AS {duckdb_type(kind)})"
    value = f"coalesce({number}, 1)" if column == "itemCount" else number  # no count: one event
    return value, f"CASE WHEN {present} IS NOT NULL AND {number} IS NULL THEN '{label} is not a number' END"


def _texts(table_sources: dict[str, Source], ref: Callable[[str], str | None]) -> tuple[dict[str, str], dict[str, str]]:
    """(classic column -> SQL of its source text, column -> the name messages give it)."""
    texts: dict[str, str] = {}
    labels: dict[str, str] = {}
    for column, source in table_sources.items():
        refs = [r for r in map(ref, source.names) if r is not None]
        if refs:
            texts[column] = source.convert.format(refs[0] if len(refs) == 1 else f"coalesce({', '.join(refs)})")
            labels[column] = source.names[0].removeprefix("$.").replace("'", "")
    return texts, labels


def _stage_sql(table: str, file_no: int, relation: str, table_sources: dict[str, Source],
               ref: Callable[[str], str | None]) -> str:
    """INSERT the rows of `relation` that belong to `table` into its staging table."""
    texts, labels = _texts(table_sources, ref)
    values, problems = [], []
    for column, kind in CLASSIC_TABLES[table].items():
        text = ident("t." + column) if column in texts else "NULL::VARCHAR"
        if column == "itemType":
            values.append(f"'{ITEM_TYPES[table]}' AS itemType")
        elif column == "itemId":  # records without one (diagnostic settings) are known by their values
            every = ", ".join(ident("t." + c) for c in texts) or "''"
            values.append(f"coalesce(nullif({text}, ''), md5(to_json([{every}]::VARCHAR[]))) AS itemId")
        else:
            value, problem = _typed(column, kind, text, labels.get(column, column))
            values.append(f"{value} AS {ident(column)}")
            if problem is not None and (column in texts or kind == "datetime"):
                problems.append((problem, text))
    inner = ", ".join(f"{expr} AS {ident('t.' + c)}" for c, expr in texts.items())
    problem_sql = ", ".join(p for p, _ in problems)
    detail_sql = ", ".join(f"CASE WHEN {p} IS NOT NULL THEN left({t}, 80) END" for p, t in problems)
    return (
        f"INSERT INTO stage_{table} BY NAME SELECT {', '.join(values)}, "
        f"{file_no} AS _file, __line AS _line, __rec AS _rec, "
        f"coalesce({problem_sql}) AS _problem, coalesce({detail_sql}) AS _detail "
        f"FROM (SELECT __line, __rec, {inner} FROM {relation} WHERE __tbl = '{table}')"
    )
