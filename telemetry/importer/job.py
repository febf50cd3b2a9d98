"""One import: every file staged, then merged into a copy of the store that replaces it."""

from __future__ import annotations

import fcntl
import glob
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Final

import duckdb

from telemetry.importer.csv_files import CsvExport
from telemetry.importer.endpoint_files import EndpointExport, endpoint_table_of
from telemetry.importer.files import ExportFile, FileProblem, peek
from telemetry.importer.json_files import JsonExport
from telemetry.importer.staging import Staging, first_row
from telemetry.importer.summary import FileFailure, ImportSummary, Progress, ProgressCallback, utc
from telemetry.store import DEFAULT_STORE, ENDPOINT_STORE_TABLES, STORE_TABLES, connect, replacing

__all__ = ["IMPORT_STORE", "ImportFailed", "import_exports", "store_span"]

# Imports go beside the demo store, never into it: rebuilding the demo would drop them.
IMPORT_STORE: Final = DEFAULT_STORE.with_name("imported.duckdb")
# DuckDB's share: staged rows past it spill to disk beside the store
MEMORY_LIMIT: Final = "256MB"


class ImportFailed(Exception):
    """The import as a whole could not run (store busy or unreadable); nothing was changed."""


def import_exports(
    paths: Sequence[Path | str],
    store: Path | str,
    *,
    progress: ProgressCallback | None = None,
    names: Sequence[str] | None = None,
) -> ImportSummary:
    """Add the rows of exported files to the store at `store` (created when missing).

    `names` are what messages call the files (default: the paths as given); an upload saved
    under a temporary name keeps its own. With no row added the store file is left untouched,
    so the app's caches of it stay valid.
    """
    started = time.perf_counter()
    files = [Path(p) for p in paths]
    job = _Job(files, list(names) if names is not None else [str(p) for p in paths], progress or (lambda _p: None))
    target = Path(store)
    with _exclusive(target):
        try:
            with replacing(target, keep_rows=True) as con:
                summary = job.run(con, target, started)
                if summary.rows_added == 0:
                    raise _Unchanged(summary)
        except _Unchanged as unchanged:
            return unchanged.summary
        except duckdb.Error as error:
            raise ImportFailed(f"Could not import into {target}: {error}") from error
    return summary


def store_span(path: Path | str) -> tuple[datetime, datetime] | None:
    """The first and last time of any row in a store (UTC), or None when it has none."""
    union = " UNION ALL ".join([*(f"SELECT min(timestamp) lo, max(timestamp) hi FROM {t}" for t in STORE_TABLES),
                                *(f'SELECT min(TimeGenerated), max(TimeGenerated) FROM "{t}"' for t in ENDPOINT_STORE_TABLES)])
    con = connect(path)
    try:
        row = first_row(con, f"SELECT min(lo), max(hi) FROM ({union})")
    finally:
        con.close()
    return None if row is None or row[0] is None else (utc(row[0]), utc(row[1]))


class _Unchanged(Exception):
    def __init__(self, summary: ImportSummary) -> None:
        self.summary = summary


@contextmanager
def _exclusive(store: Path) -> Iterator[None]:
    """One import into a store at a time: two would each copy the store and one would be lost."""
    store.parent.mkdir(parents=True, exist_ok=True)
    with open(store.with_name(f".{store.name}.lock"), "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ImportFailed(f"Another import into {store} is running; try again when it ends.") from None
        _sweep(store)
        yield


def _sweep(store: Path) -> None:
    """Delete what a killed import left: its half-built copy, with DuckDB's WAL and spill folder.
    Holding the lock, no other import is writing them."""
    for leftover in store.parent.glob(f".{glob.escape(store.name)}.*.building*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


class _Job:
    def __init__(self, files: list[Path], names: list[str], report: ProgressCallback) -> None:
        self.files = files
        self.names = names
        self.report = report
        self.sizes = [_size(f) for f in files]
        self.total = sum(self.sizes)

    def run(self, con: duckdb.DuckDBPyConnection, store: Path, started: float) -> ImportSummary:
        staging = Staging(con, MEMORY_LIMIT)
        failures = [failure for n in range(len(self.files)) if (failure := self._read(staging, n))]
        self.report(Progress("", self.total, self.total, staging.records, "writing"))
        return ImportSummary(
            store=store, files=len(self.files), added=staging.totals.added, already_present=staging.totals.present,
            skipped=staging.skip_groups(self.names), failed=tuple(failures), span=staging.span,
            elapsed_s=time.perf_counter() - started,
        )

    def _read(self, staging: Staging, file_no: int) -> FileFailure | None:
        """Add one file's rows; a file that cannot be read leaves none and says why."""
        path, name = self.files[file_no], self.names[file_no]

        def moved(position: int) -> None:
            done = sum(self.sizes[:file_no]) + min(position, self.sizes[file_no])
            self.report(Progress(name, done, self.total, staging.records))

        missing = _missing(path, name)
        if missing is not None:
            return missing
        try:
            with staging.file(file_no):
                head = peek(path)
                reader: type[ExportFile] = JsonExport if head[0] in "{[" else CsvExport
                if head[0] in "{[" and endpoint_table_of(head):  # an online endpoint's own logs
                    reader = EndpointExport
                reader(staging, file_no, path, name, moved).run(head)
        except FileProblem as problem:
            return FileFailure(name, str(problem))
        except OSError as error:  # unreadable (permissions, a vanished file): named, the others go on
            return FileFailure(name, f"could not be read ({error.strerror or error})")
        return None


def _missing(path: Path, name: str) -> FileFailure | None:
    """A path that names no file: missing, a pattern the shell left unexpanded, or a directory."""
    if path.is_dir():
        return FileFailure(name, "is a directory; name the files in it (e.g. its *.json.gz)")
    if not path.exists():
        pattern = any(c in name for c in "*?[")
        return FileFailure(name, "matched no file" if pattern else "no such file")
    return None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
