"""Durable segments beside a store: how ingested rows reach the disk, the dashboard and the store.

DuckDB lets one process write a database file, and none may read it meanwhile; the dashboard (a
Streamlit process) keeps the store open to read it. So the endpoint never writes the store while
it takes telemetry in. Each commit writes its rows as Parquet files, one a table, in the folder
`<store>.ingest/` (`000000000042.requests.parquet`), written to a temporary name, fsynced, renamed
and the folder fsynced: only then is the item answered as accepted. A killed process leaves at most
a `.tmp` file, which readers never list and the next start deletes.

Readers (`open_store`) see the store's tables with the segments not yet merged appended (views in
an in-memory DuckDB that attaches the store read-only), so a new row shows on the next query.
Now and then (`compact`) the segments are merged into the store the way an import adds rows: a
copy of the store takes them and replaces it at once (`telemetry.store.replacing`), holding the
importer's lock. The store records which segments it holds (`_ingested_segments`), so a reader
never counts a row twice, whichever store file and listing it saw; merged files are deleted a
grace period later, once no running query can still be reading them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from telemetry.importer.job import ImportFailed, _exclusive
from telemetry.importer.sqltext import ident, literal
from telemetry.schema import CLASSIC_TABLES
from telemetry.store import STORE_TABLES, connect, replacing

__all__ = [
    "MERGED_TABLE",
    "SegmentWriter",
    "arrow_schema",
    "compact",
    "ensure_store",
    "open_store",
    "pending_segments",
    "segment_names",
    "segments_dir",
]

MERGED_TABLE: Final = "_ingested_segments"
# Longer than any query may run (the local source stops queries at 30 s).
DELETE_AFTER: Final = timedelta(seconds=90)
_SUFFIX: Final = ".parquet"
_ARROW_TYPES: Final = {
    "datetime": pa.timestamp("us"), "string": pa.string(), "dynamic": pa.string(),
    "real": pa.float64(), "int": pa.int32(), "long": pa.int64(), "bool": pa.bool_(),
}


def segments_dir(store: Path) -> Path:
    return store.with_name(store.name + ".ingest")


def arrow_schema(table: str) -> pa.Schema:
    return pa.schema([(name, _ARROW_TYPES[kind]) for name, kind in CLASSIC_TABLES[table].items()])


def segment_names(store: Path) -> tuple[str, ...]:
    """The segment files beside `store`, oldest first (empty when it has none)."""
    try:
        with os.scandir(segments_dir(store)) as entries:
            return tuple(sorted(e.name for e in entries if e.name.endswith(_SUFFIX)))
    except FileNotFoundError:
        return ()


def _table_of(name: str) -> str:
    return name.split(".")[1]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SegmentWriter:
    """Writes commits of rows as segment files; one writer a store (the endpoint's)."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.folder = segments_dir(store)
        self.folder.mkdir(parents=True, exist_ok=True)
        for leftover in self.folder.glob("*.tmp"):  # what a killed writer was writing: never answered
            leftover.unlink(missing_ok=True)
        names = segment_names(store)
        self._seq = int(names[-1].split(".")[0]) if names else 0

    def write(self, rows: Mapping[str, Sequence[dict[str, Any]]]) -> list[Path]:
        """Make `rows` (table -> rows) durable as one commit; return the files written."""
        self._seq += 1
        written = []
        for table, table_rows in rows.items():
            if not table_rows:
                continue
            final = self.folder / f"{self._seq:012d}.{table}{_SUFFIX}"
            tmp = final.with_name(final.name + ".tmp")
            batch = pa.Table.from_pylist(list(table_rows), schema=arrow_schema(table))
            with open(tmp, "wb") as handle:
                pq.write_table(batch, handle, compression="zstd")
                handle.flush()
                os.fsync(handle.fileno())
            os.rename(tmp, final)
            written.append(final)
        if written:
            _fsync_dir(self.folder)  # the renames themselves must survive a crash
        return written


def _merged(con: duckdb.DuckDBPyConnection, schema: str) -> set[str]:
    """The segments the store in catalog `schema` holds already."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = ?", [schema, MERGED_TABLE]
    ).fetchone()
    if not exists or not exists[0]:
        return set()
    return {name for (name,) in con.execute(f"SELECT name FROM {ident(schema)}.{MERGED_TABLE}").fetchall()}


def pending_segments(store: Path, names: Iterable[str], merged: set[str]) -> dict[str, list[Path]]:
    """table -> the segment files of `names` not merged into the store yet."""
    folder = segments_dir(store)
    pending: dict[str, list[Path]] = {}
    for name in names:
        if name not in merged:
            pending.setdefault(_table_of(name), []).append(folder / name)
    return pending


def open_store(store: Path, names: tuple[str, ...], memory_limit: str) -> duckdb.DuckDBPyConnection:
    """A read-only view of the store with the segments `names` not merged into it yet."""
    if not names:
        con = connect(store, read_only=True)
        con.execute(f"SET memory_limit = '{memory_limit}'")
        return con
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"ATTACH {literal(str(store))} AS stored (READ_ONLY)")
    pending = pending_segments(store, names, _merged(con, "stored"))
    stored = [t for (t,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'stored' AND table_name <> ?", [MERGED_TABLE]
    ).fetchall()]
    for table in stored:  # every table the store has (the endpoints' logs too), under its own name
        sql = f"SELECT * FROM stored.{ident(table)}"
        if table in pending and table in STORE_TABLES:
            cols = ", ".join(ident(c) for c in CLASSIC_TABLES[table])
            files = ", ".join(literal(str(p)) for p in pending[table])
            sql = f"SELECT {cols} FROM stored.{table} UNION ALL SELECT {cols} FROM read_parquet([{files}])"
        con.execute(f"CREATE VIEW {ident(table)} AS {sql}")
    return con


def compact(store: Path) -> int:
    """Merge the segments into the store; the number merged (0 when there were none, or another
    writer holds the store: the next round merges them). Files merged over DELETE_AFTER ago are
    deleted."""
    names = segment_names(store)
    con = connect(store, read_only=True)
    try:
        merged = _merged(con, _catalog(con))
        old = _merged_before(con, datetime.now(UTC).replace(tzinfo=None) - DELETE_AFTER) if merged else []
    finally:
        con.close()
    pending = pending_segments(store, names, merged)
    if pending:
        try:
            with _exclusive(store), replacing(store, keep_rows=True) as con:
                con.execute(f"CREATE TABLE IF NOT EXISTS {MERGED_TABLE} (name VARCHAR, merged_at TIMESTAMP)")
                pending = pending_segments(store, names, _merged(con, _catalog(con)))  # as this copy has them
                for table, files in pending.items():
                    cols = ", ".join(ident(c) for c in CLASSIC_TABLES[table])
                    listed = ", ".join(literal(str(p)) for p in files)
                    con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM read_parquet([{listed}]) ORDER BY timestamp")
                now = datetime.now(UTC).replace(tzinfo=None)
                con.executemany(f"INSERT INTO {MERGED_TABLE} VALUES (?, ?)",
                                [[p.name, now] for files in pending.values() for p in files])
        except ImportFailed:
            return 0
    folder = segments_dir(store)
    for name in old:
        (folder / name).unlink(missing_ok=True)
    return sum(len(files) for files in pending.values())


def _catalog(con: duckdb.DuckDBPyConnection) -> str:
    row = con.execute("SELECT current_database()").fetchone()
    return str(row[0]) if row else "main"


def _merged_before(con: duckdb.DuckDBPyConnection, when: datetime) -> list[str]:
    return [n for (n,) in con.execute(f"SELECT name FROM {MERGED_TABLE} WHERE merged_at < ?", [when]).fetchall()]


def ensure_store(store: Path) -> None:
    """An empty store at `store` when there is none, so readers can open it before any merge."""
    if not store.exists():
        with replacing(store):
            pass
