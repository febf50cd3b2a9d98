"""`python -m telemetry import PATH… [--store FILE]`: progress on stderr, the summary on stdout."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from telemetry.importer.job import ImportFailed, import_exports
from telemetry.importer.summary import Progress

__all__ = ["run_cli"]


def run_cli(paths: Sequence[Path], store: Path) -> int:
    """Exit status 1 when a file could not be imported (the others still were), 0 otherwise."""
    shown = -5

    def progress(step: Progress) -> None:  # a line every 5 %: a log stays readable
        nonlocal shown
        percent = int(step.fraction * 100)
        if step.phase == "writing":
            print(f"{step.records:,} records read; writing the store …", file=sys.stderr, flush=True)
        elif percent >= shown + 5:
            shown = percent
            print(f"{percent:3d} %  {step.records:>12,} records  {step.file}", file=sys.stderr, flush=True)

    try:
        summary = import_exports(paths, store, progress=progress)
    except ImportFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("\n".join(summary.lines()))
    return 1 if summary.failed else 0
