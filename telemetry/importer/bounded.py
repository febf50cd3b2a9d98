"""Lines and records read with a byte cap, so one hostile line (a small .gz that inflates to a
line of gigabytes) costs at most the cap in memory: past it, the rest of the line is read through
in pieces and dropped, and the caller names it and skips it.

The cap is far above anything App Insights writes (an item is at most 64 KB) and at most one
staging chunk, which DuckDB parses within its memory limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Final, NamedTuple

__all__ = ["MAX_RECORD_BYTES", "Line", "Record", "csv_records", "lines", "too_long"]

MAX_RECORD_BYTES: Final = 8 << 20


class Line(NamedTuple):
    data: bytes | None  # None: longer than the cap, dropped
    size: int  # its bytes, newline included
    quotes: int  # its '"' characters (CSV: a record ends where they are even)


class Record(NamedTuple):
    first_line: int
    last_line: int
    data: bytes | None  # None: longer than the cap, dropped
    size: int


def lines(stream: IO[bytes], limit: int = MAX_RECORD_BYTES) -> Iterator[Line]:
    """The stream's lines; one longer than `limit` bytes comes as `data=None`, never held whole."""
    while line := stream.readline(limit + 1):
        if len(line) <= limit:
            yield Line(line, len(line), line.count(b'"'))
            continue
        size, quotes = len(line), line.count(b'"')
        while not line.endswith(b"\n") and (line := stream.readline(limit)):
            size += len(line)
            quotes += line.count(b'"')
        yield Line(None, size, quotes)


def csv_records(stream: IO[bytes], limit: int = MAX_RECORD_BYTES) -> Iterator[Record]:
    """CSV records (RFC 4180: a record ends at a line break outside quotes), each at most `limit`
    bytes; a longer one comes as `data=None` with the lines it spans."""
    number = 0
    parts: list[bytes] = []
    size = quotes = 0
    dropped = False
    first = 1
    for line in lines(stream, limit):
        number += 1
        size += line.size
        quotes += line.quotes
        if line.data is None or size > limit:
            dropped, parts = True, []
        elif not dropped:
            parts.append(line.data)
        if quotes % 2:
            continue  # a quoted field goes on in the next line
        yield Record(first, number, None if dropped else b"".join(parts), size)
        parts, size, quotes, dropped, first = [], 0, 0, False, number + 1
    if parts or dropped:  # the file ends inside quotes: the CSV reader says so
        yield Record(first, number, None if dropped else b"".join(parts), size)


def too_long(size: int, limit: int = MAX_RECORD_BYTES) -> tuple[str, str]:
    """(skip reason, detail) for a record past the cap."""
    return f"longer than {limit >> 20} MiB", f"{size:,} bytes"
