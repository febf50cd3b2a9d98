"""Reading one exported file: gzip or plain, told JSON or CSV by its first text, and the errors
that make a whole file unreadable turned into one message naming where it stopped."""

from __future__ import annotations

import csv
import gzip
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Final, cast

import duckdb

from telemetry.importer.dialects import Dialect, sources, table_hint
from telemetry.importer.staging import Staging
from telemetry.store import STORE_TABLES

__all__ = ["ExportFile", "FileProblem", "open_export", "peek"]

_PEEK_BYTES: Final = 64 << 10


class FileProblem(Exception):
    """One file cannot be read at all (not gzip, no time column, …): the message says why."""


@contextmanager
def open_export(path: Path) -> Iterator[tuple[IO[bytes], IO[bytes]]]:
    """(the file's bytes, gunzipped when it is gzip; the raw file, whose position is progress)."""
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        if gzipped:
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                yield cast(IO[bytes], stream), raw
        else:
            yield raw, raw


def peek(path: Path) -> str:
    """The file's first non-blank text, to tell JSON from CSV."""
    head = b""
    with open_export(path) as (stream, _raw):
        try:
            while len(head) < _PEEK_BYTES and (piece := stream.read(4096)):
                head += piece
        except EOFError:
            pass  # a truncated gzip: the full read names the line where it ends
    text = head.decode("utf-8-sig", errors="replace").lstrip()
    if not text:
        raise FileProblem("the file is empty")
    if text.startswith(("//", "/*")):
        raise FileProblem("JSON with comments (an annotated example?) is not an export; remove the comments")
    return text


class ExportFile:
    """One file of an import; `read` stages its records, line numbers kept for messages."""

    def __init__(self, staging: Staging, file_no: int, path: Path, name: str, moved: Callable[[int], None]) -> None:
        self.staging = staging
        self.con = staging.con
        self.file_no = file_no
        self.path = path
        self.moved = moved  # told the raw file's position, for progress
        self.hint = table_hint(name)  # the name as given: uploads sit in temporary folders
        self.line = 0  # the last line read
        self.dialect: Dialect | None = None

    def run(self, head: str) -> None:
        try:
            self.read(head)
        except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
            raise FileProblem(f"{_reading(error)}, after line {self.line:,}") from error
        except UnicodeDecodeError as error:
            raise FileProblem(f"not UTF-8 text after line {self.line:,}: {error.reason}") from error
        except csv.Error as error:
            raise FileProblem(f"line {self.line:,}: {error}") from error
        except duckdb.Error as error:
            raise FileProblem(f"after line {self.line:,}: {error}") from error

    def read(self, head: str) -> None:
        raise NotImplementedError

    def stage(self, relation: str, ref: Callable[[str], str | None]) -> None:
        dialect = self.dialect
        table_sources = {t: sources(dialect, t) for t in STORE_TABLES} if dialect else {}
        self.staging.stage(self.file_no, relation, table_sources, ref)


def _reading(error: BaseException) -> str:
    if isinstance(error, gzip.BadGzipFile):
        return f"not a readable gzip file ({error})"
    if isinstance(error, EOFError):
        return "the gzip data ends early (a truncated download?)"
    if isinstance(error, zlib.error):
        return f"the gzip data is corrupt ({error})"
    return f"cannot read the file: {error.strerror or error}" if isinstance(error, OSError) else str(error)
