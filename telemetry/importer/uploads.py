"""Where uploaded exports wait while they import: a temporary folder that nothing outlives.

Each folder holds a lock for as long as its import runs. A server killed mid-import cannot clean
up, so every new folder first deletes the folders whose lock nobody holds: what killed imports
left. Files inside are named by their position, never by the upload's name (which may be longer
than a file name can be, or hold anything at all); messages use the upload's own name.
"""

from __future__ import annotations

import fcntl
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

__all__ = ["PREFIX", "sweep_uploads", "upload_folder"]

PREFIX: Final = "endpoint-monitor-upload-"
_LOCK: Final = ".in-use"


def sweep_uploads(parent: Path | None = None) -> list[Path]:
    """Delete the upload folders no running import holds; the ones deleted."""
    swept = []
    for folder in Path(parent or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            with open(folder / _LOCK, "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(folder, ignore_errors=True)
                swept.append(folder)
        except BlockingIOError:
            continue  # an import is reading from it
        except OSError:
            continue  # not ours to delete, or gone already
    return swept


@contextmanager
def upload_folder(parent: Path | None = None) -> Iterator[Path]:
    """A fresh folder for one import's uploads, locked while in use and deleted after."""
    sweep_uploads(parent)
    # Made under a name the sweep does not look at, locked, then renamed: no sweep can take it
    # between its making and its lock.
    making = Path(tempfile.mkdtemp(prefix=f".{PREFIX}", dir=parent))
    folder = making.with_name(making.name[1:])
    try:
        with open(making / _LOCK, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            making.rename(folder)
            yield folder
    finally:
        shutil.rmtree(making, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)
