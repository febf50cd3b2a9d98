"""The local store as a telemetry source: DuckDB SQL over the classic tables."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import duckdb
import pandas as pd
import pyarrow as pa

from telemetry.errors import BadQueryError, QueryTimeoutError, StoreMissingError, TelemetryError
from telemetry.model import Query, RenderContext
from telemetry.results import Outcome, QueryResult, typed_frame
from telemetry.schema import Schema
from telemetry.sql import SqlQuery, render_sql
from telemetry.ingest.segments import open_store, segment_names

__all__ = ["LocalSource"]

MAX_ROWS: Final = 50_000
TIMEOUT_S: Final = 30.0
# DuckDB keeps the blocks it read cached up to 80 % of RAM by default: ~0.9 GB after every page
# over 7 days of 10M requests. With this limit the server stays under 1 GB at no measured cost
# to page times (the OS page cache still holds the file); bigger work spills to <store>.tmp.
MEMORY_LIMIT: Final = "512MB"


class LocalSource:
    """Reads a DuckDB store; reopens it when the file is replaced (a rebuild or an import) or when
    the ingestion endpoint adds a segment beside it (`telemetry.ingest.segments`)."""

    def __init__(self, path: Path | str, *, label: str | None = None, timeout_s: float = TIMEOUT_S) -> None:
        self.path = Path(path)
        self._label = label or f"local store {self.path.name}"
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._retired: duckdb.DuckDBPyConnection | None = None
        self._identity: tuple[int, int, tuple[str, ...]] | None = None

    @property
    def label(self) -> str:
        return self._label

    @property
    def kql_schema(self) -> Schema:
        return "classic"  # the store keeps the classic schema

    @property
    def cache_key(self) -> str:
        identity = self._file_identity()
        if identity is None:
            return f"local:{self.path.resolve()}:None"
        inode, mtime, segments = identity
        return f"local:{self.path.resolve()}:{inode}:{mtime}:{len(segments)}:{segments[-1] if segments else ''}"

    def _file_identity(self) -> tuple[int, int, tuple[str, ...]] | None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return None
        # The segments' names change with every commit of ingested rows: the cache key too.
        return (stat.st_ino, stat.st_mtime_ns, segment_names(self.path))

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            identity = self._file_identity()
            if identity is None:
                raise StoreMissingError(
                    f"No local store at {self.path}. Build one with `python -m telemetry demo --store {self.path}`."
                )
            if self._con is None or identity != self._identity:
                # A cursor handed out just before cannot run once its connection is closed; with
                # live ingestion reopening on every new segment, close the one before instead.
                if self._retired is not None:
                    self._retired.close()
                self._retired = self._con
                self._con = open_store(self.path, identity[2], MEMORY_LIMIT)
                self._identity = identity
            # A cursor is a connection of its own to the same database: safe for one thread.
            return self._con.cursor()

    def run(self, queries: Sequence[Query], ctx: RenderContext) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for query in queries:
            try:
                outcomes.append(self.run_one(query, ctx))
            except TelemetryError as error:
                outcomes.append(error)
        return outcomes

    def run_one(self, query: Query, ctx: RenderContext) -> QueryResult:
        sql = render_sql(query, ctx)
        started = time.perf_counter()
        raw = self._execute(sql)
        warnings: tuple[str, ...] = ()
        if len(raw) > MAX_ROWS:
            raw = raw.iloc[:MAX_ROWS]
            warnings = (f"Showing the first {MAX_ROWS:,} rows; narrow the filters to see the rest.",)
        return QueryResult(
            name=query.name,
            frame=typed_frame(raw, query),
            query_text=sql.text,
            warnings=warnings,
            elapsed_s=time.perf_counter() - started,
            source=self.label,
        )

    def _execute(self, sql: SqlQuery) -> pd.DataFrame:
        cursor = self._cursor()
        timer = threading.Timer(self.timeout_s, cursor.interrupt)
        timer.start()
        try:
            reader = cursor.sql(sql.text, params=sql.params).to_arrow_reader(10_000)
            batches, rows = [], 0
            for batch in reader:  # stop reading past the cap instead of materialising it all
                batches.append(batch)
                rows += batch.num_rows
                if rows > MAX_ROWS:
                    break
            return pa.Table.from_batches(batches, schema=reader.schema).to_pandas()
        except duckdb.InterruptException as error:
            raise QueryTimeoutError(
                f"The local query took longer than {self.timeout_s:.0f} s and was stopped; "
                "pick a shorter time range or fewer services.",
                query=sql.text,
            ) from error
        except duckdb.Error as error:
            raise BadQueryError(f"The local store rejected the query: {error}", query=sql.text) from error
        finally:
            timer.cancel()
            cursor.close()
