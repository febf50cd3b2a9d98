"""What an import tells its caller: progress while it reads, a summary when it ends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from telemetry.store import ENDPOINT_STORE_TABLES, STORE_TABLES

__all__ = ["FileFailure", "ImportSummary", "Progress", "ProgressCallback", "SkipGroup", "SkipRow", "utc"]

# A record found bad while reading: (line, record within the line, reason, detail)
SkipRow = tuple[int | None, int | None, str, str | None]


@dataclass(frozen=True)
class Progress:
    file: str
    done_bytes: int
    total_bytes: int
    records: int  # read so far, over every file
    phase: Literal["reading", "writing"] = "reading"

    @property
    def fraction(self) -> float:
        return min(1.0, self.done_bytes / self.total_bytes) if self.total_bytes else 1.0


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class SkipGroup:
    reason: str
    count: int
    examples: tuple[str, ...]  # "PT1H.json line 4 (fast)"


@dataclass(frozen=True)
class FileFailure:
    file: str
    message: str


@dataclass(frozen=True)
class ImportSummary:
    store: Path
    files: int
    added: dict[str, int]
    already_present: dict[str, int]  # read fine, but their item id was in the store (or read before)
    skipped: tuple[SkipGroup, ...]
    failed: tuple[FileFailure, ...]
    span: tuple[datetime, datetime] | None  # first and last time among the rows read (UTC)
    elapsed_s: float

    @property
    def rows_added(self) -> int:
        return sum(self.added.values())

    def headline(self) -> str:
        read = self.files - len(self.failed)
        return f"Read {read} of {self.files} file(s) into {self.store} in {self.elapsed_s:.1f} s."

    def details(self) -> list[str]:
        """Rows per table and the time span."""
        out = []
        for table in STORE_TABLES + ENDPOINT_STORE_TABLES:
            added, present = self.added.get(table, 0), self.already_present.get(table, 0)
            if added or present:
                again = f" ({present:,} already in the store)" if present else ""
                out.append(f"{table}: {added:,} rows added{again}")
        if self.span:
            out.append(f"time span: {_moment(self.span[0])} to {_moment(self.span[1])} UTC")
        return out

    def problems(self) -> list[str]:
        """Skipped rows by reason, then files that could not be read."""
        skipped = [f"Skipped {g.count:,}: {g.reason}, e.g. " + "; ".join(g.examples) for g in self.skipped]
        return skipped + [f"Could not import {f.file}: {f.message}" for f in self.failed]

    def lines(self) -> list[str]:
        """The whole summary as text, for the command line."""
        return [self.headline(), *(f"  {line}" for line in self.details()), *self.problems()]


def utc(value: datetime) -> datetime:
    """A store's naive timestamp (UTC by the store's convention) as an aware one."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _moment(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")
