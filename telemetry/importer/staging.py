"""Staging: each chunk of records becomes typed rows, each with the first problem it has; the
good ones go into the store's tables at once, once per item id, and the others are counted as
skipped. Only a chunk is ever staged, so memory stays bounded however big the files are.

Everything runs in DuckDB over registered Arrow chunks (no row goes through Python); a chunk's
intermediate relations are Arrow tables, dropped with the chunk. A file that fails midway takes
its rows out again by their item ids (kept aside while it is read): not a transaction per file,
because DuckDB holds a transaction's appends in memory, and a file's memory would grow with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Final

import duckdb
import pyarrow as pa

from telemetry.importer.columns import ITEM_TYPES, Source
from telemetry.importer.sqltext import ident
from telemetry.importer.summary import SkipGroup, SkipRow, utc
from telemetry.schema import CLASSIC_TABLES, workspace_schema
from telemetry.store import ENDPOINT_STORE_TABLES, STORE_TABLES, duckdb_type

__all__ = ["Staging", "first_row", "registered", "row_key_sql"]

_EXAMPLES: Final = 3  # example locations kept per skip reason
# A record keeps its time wherever it is exported, but the portal's CSV keeps only milliseconds:
# a row already in the store has its chunk's time, give or take this.
_SAME_TIME: Final = timedelta(seconds=1)


def first_row(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...] | None:
    """The first row of an answer, read to the end (DuckDB keeps an unread result open)."""
    rows = con.execute(sql).fetchall()
    return rows[0] if rows else None


def row_key_sql(table: str) -> str:
    """An endpoint log row's identity (those tables have no item id): the MD5 of its typed values,
    the same for a stored row and one just read."""
    cols = ", ".join(f"{ident(c)}::VARCHAR" for c in workspace_schema()[table])
    return f"md5(to_json([{cols}]))"


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, rows: pa.Table) -> Iterator[None]:
    """`rows` readable as the relation `name` for the block."""
    con.register(name, rows)
    try:
        yield
    finally:
        con.unregister(name)


class _Counts:
    """Rows added and already present per table, and the time span of the good rows."""

    def __init__(self) -> None:
        self.added = dict.fromkeys(STORE_TABLES, 0)  # endpoint log tables join once they have rows
        self.present = dict.fromkeys(STORE_TABLES, 0)
        self.span: tuple[datetime, datetime] | None = None

    def count(self, table: str, added: int, present: int, lo: datetime, hi: datetime) -> None:
        self.added[table] = self.added.get(table, 0) + added
        self.present[table] = self.present.get(table, 0) + present
        self.span = (min(self.span[0], lo), max(self.span[1], hi)) if self.span else (lo, hi)

    def fold(self, other: _Counts) -> None:
        if other.span is None:
            return  # no good row
        for table in other.added:
            self.count(table, other.added[table], other.present[table], *other.span)


class Staging:
    """One import's way into the store being written: files, chunks, skipped rows, counts."""

    def __init__(self, con: duckdb.DuckDBPyConnection, memory_limit: str) -> None:
        self.con = con
        self.records = 0  # read so far, for progress
        self.totals = _Counts()
        self._file = _Counts()
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute("CREATE TEMP TABLE skipped (_file INTEGER, _line BIGINT, _rec INTEGER, reason VARCHAR, detail VARCHAR)")
        con.execute("CREATE TEMP TABLE file_items (tbl VARCHAR, itemId VARCHAR)")  # added by the file being read

    @contextmanager
    def file(self, file_no: int) -> Iterator[None]:
        """One file's rows, all or none: an error takes out what it added and what it skipped."""
        self._file = _Counts()
        self.con.execute("DELETE FROM file_items")
        try:
            yield
        except Exception:
            for table in STORE_TABLES:
                self.con.execute(
                    f"DELETE FROM {table} WHERE itemId IN (SELECT itemId FROM file_items WHERE tbl = ?)", [table]
                )
            for table in ENDPOINT_STORE_TABLES:  # endpoint log rows are known by their values' key
                self.con.execute(f"DELETE FROM {ident(table)} WHERE {row_key_sql(table)} IN "
                                 "(SELECT itemId FROM file_items WHERE tbl = ?)", [table])
            self.con.execute("DELETE FROM skipped WHERE _file = ?", [file_no])
            raise
        self.totals.fold(self._file)

    def count_file(self, table: str, added: int, present: int, lo: datetime, hi: datetime) -> None:
        """Count rows another reader (the endpoint logs') merged for the file being read."""
        self._file.count(table, added, present, lo, hi)

    @property
    def span(self) -> tuple[datetime, datetime] | None:
        """First and last time among the good rows read (UTC)."""
        return (utc(self.totals.span[0]), utc(self.totals.span[1])) if self.totals.span else None

    def skip(self, file_no: int, rows: list[SkipRow]) -> None:
        """Record rows found bad before SQL saw them (not UTF-8, not JSON, wrong field count)."""
        if not rows:
            return
        lines, recs, reasons, details = zip(*rows, strict=True)
        with registered(self.con, "skip_rows", pa.table({
            "_file": pa.array([file_no] * len(rows), pa.int32()), "_line": pa.array(lines, pa.int64()),
            "_rec": pa.array(recs, pa.int32()), "reason": pa.array(reasons, pa.string()),
            "detail": pa.array(details, pa.string()),
        })):
            self.con.execute("INSERT INTO skipped SELECT * FROM skip_rows")

    @contextmanager
    def materialized(self, name: str, sql: str, params: list[Any] | None = None) -> Iterator[None]:
        """The answer to `sql` as the relation `name` for the block, computed once."""
        with registered(self.con, name, self.con.sql(sql, params=params).to_arrow_table()):
            yield

    def stage(self, file_no: int, relation: str, table_sources: dict[str, dict[str, Source]],
              ref: Callable[[str], str | None]) -> None:
        """Add the records of `relation` (columns __line, __rec, __tbl, __why and the fields).

        `ref(name)` is the SQL for one source field in the relation, None when the file lacks it.
        """
        self.con.execute(
            f"INSERT INTO skipped SELECT {file_no}, __line, __rec, __why, NULL FROM {relation} WHERE __why IS NOT NULL"
        )
        for table, table_source in table_sources.items():
            with self.materialized("typed", _typed_sql(table, relation, table_source, ref)):
                self.con.execute(
                    f"INSERT INTO skipped SELECT {file_no}, _line, _rec, _problem, _detail FROM typed WHERE _problem IS NOT NULL"
                )
                self._merge(table)
        (count,) = first_row(self.con, f"SELECT count(*) FROM {relation}") or (0,)
        self.records += int(count)

    def _merge(self, table: str) -> None:
        """Move the chunk's good rows into the table, once per item id, in time order."""
        good, lo, hi = first_row(
            self.con, "SELECT count(*), min(timestamp), max(timestamp) FROM typed WHERE _problem IS NULL"
        ) or (0, None, None)
        if not good:
            return
        names = ", ".join(ident(c) for c in CLASSIC_TABLES[table])
        # Only rows near the chunk's times can hold its items: zone maps skip the rest of the table.
        with self.materialized("fresh", (
            f"SELECT {names} FROM typed WHERE _problem IS NULL "
            f"AND itemId NOT IN (SELECT itemId FROM {table} WHERE timestamp BETWEEN ? AND ? "
            "AND itemId IN (SELECT itemId FROM typed)) "
            "QUALIFY row_number() OVER (PARTITION BY itemId ORDER BY _line, _rec) = 1"
        ), [lo - _SAME_TIME, hi + _SAME_TIME]):
            self.con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM fresh ORDER BY timestamp")
            self.con.execute(f"INSERT INTO file_items SELECT '{table}', itemId FROM fresh")
            (added,) = first_row(self.con, "SELECT count(*) FROM fresh") or (0,)
        self._file.count(table, int(added), int(good) - int(added), lo, hi)

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


def _typed_sql(table: str, relation: str, table_sources: dict[str, Source], ref: Callable[[str], str | None]) -> str:
    """SELECT the rows of `relation` that belong to `table` as the table's typed columns, with the
    record's place (_line, _rec) and its first problem (_problem, _detail)."""
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
        f"SELECT {', '.join(values)}, __line AS _line, __rec AS _rec, "
        f"coalesce({problem_sql}) AS _problem, coalesce({detail_sql}) AS _detail "
        f"FROM (SELECT __line, __rec, {inner} FROM {relation} WHERE __tbl = '{table}')"
    )
