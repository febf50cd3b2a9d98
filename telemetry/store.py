"""The local telemetry store: one DuckDB file holding the classic App Insights tables.

Writes are atomic: a store is built in a temporary file beside the target and moved into place
with `os.replace`, so a reader (or a crash midway) sees the old store or the new one, never half.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import duckdb
import pyarrow as pa

from telemetry.schema import CLASSIC_TABLES, ENDPOINT_TABLES, workspace_schema

__all__ = [
    "DEFAULT_STORE", "ENDPOINT_STORE_TABLES", "STORE_TABLES", "build_store", "connect", "create_tables", "duckdb_type", "replacing",
]

DEFAULT_STORE: Final = Path(os.environ.get("ENDPOINT_MONITOR_STORE", "data/demo.duckdb"))
STORE_TABLES: Final = ("requests", "dependencies", "exceptions", "traces")
# Azure ML online endpoints' logs, under their own (workspace) table and column names, standard
# Log Analytics columns included: they have no classic schema to keep.
ENDPOINT_STORE_TABLES: Final = tuple(ENDPOINT_TABLES)
BUILD_MEMORY_LIMIT: Final = "1GB"

# dynamic stays text: App Insights may cut a payload mid-JSON, and the store must keep it as sent.
_DUCKDB_TYPES: Final[dict[str, str]] = {
    "datetime": "TIMESTAMP",  # UTC, without zone: time_bucket on TIMESTAMP is the fast path
    "string": "VARCHAR",
    "dynamic": "VARCHAR",
    "real": "DOUBLE",
    "int": "INTEGER",
    "long": "BIGINT",
    "bool": "BOOLEAN",
}


def duckdb_type(kusto_type: str) -> str:
    return _DUCKDB_TYPES[kusto_type]


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table in STORE_TABLES:
        cols = ", ".join(f'"{name}" {duckdb_type(kind)}' for name, kind in CLASSIC_TABLES[table].items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({cols})")
    for table in ENDPOINT_STORE_TABLES:
        cols = ", ".join(f'"{name}" {duckdb_type(kind)}' for name, kind in workspace_schema()[table].items())
        con.execute(f'CREATE TABLE IF NOT EXISTS "{table}" ({cols})')


def connect(path: Path | str, *, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("SET TimeZone = 'UTC'")
    return con


def build_store(path: Path | str, batches: Iterable[tuple[str, pa.Table]]) -> Path:
    """Write (table, rows) batches into a new store at `path`, replacing any store there at once."""
    with replacing(path) as con:
        _fill(con, batches)
    return Path(path)


@contextmanager
def replacing(path: Path | str, *, keep_rows: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writable connection to a new store that replaces the one at `path` when the block ends.

    The new store starts empty, or as a copy of the current one with `keep_rows` (an import adds
    to it). It is built in a temporary file beside the target and moved into place with
    `os.replace` only when the block ends without an error: an exception, or a killed process,
    leaves the store at `path` as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".building", dir=target.parent)
    os.close(fd)
    os.unlink(tmp_name)  # DuckDB wants to create the file itself
    try:
        if keep_rows and target.exists():
            shutil.copyfile(target, tmp_name)  # stores are checkpointed: the file holds every row
        con = duckdb.connect(tmp_name)
        try:
            con.execute("SET TimeZone = 'UTC'")
            # DuckDB keeps every block it wrote cached (up to 80 % of RAM): 6.0 GB peak building
            # the 10M-request demo, 1.7 GB with this cap (a one-day build took as long either way).
            con.execute(f"SET memory_limit = '{BUILD_MEMORY_LIMIT}'")
            create_tables(con)
            yield con
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp_name, target)
    finally:
        for leftover in (tmp_name, tmp_name + ".wal"):
            if os.path.exists(leftover):
                os.unlink(leftover)


def _fill(con: duckdb.DuckDBPyConnection, batches: Iterable[tuple[str, pa.Table]]) -> None:
    """Insert each batch sorted by time. Batches come in time order (the demo writes a day at a
    time), so the tables end up near-sorted and range scans skip most row groups, without the
    memory of re-sorting a whole table (13.8 GB at 10M requests)."""
    for table, rows in batches:
        if table not in STORE_TABLES + ENDPOINT_STORE_TABLES:
            raise ValueError(f"unknown table {table!r}")
        names = ", ".join(f'"{name}"' for name in rows.column_names)
        con.register("batch_rows", rows.sort_by("TimeGenerated" if table in ENDPOINT_STORE_TABLES else "timestamp"))
        con.execute(f'INSERT INTO "{table}" ({names}) SELECT {names} FROM batch_rows')
        con.unregister("batch_rows")
