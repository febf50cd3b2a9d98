"""Start the dashboard: `streamlit run app.py` without one Streamlit quirk.

With a `pages/` folder beside app.py, a fresh Streamlit server runs its first session in the
legacy multipage mode (pages named after files) until `st.navigation` has run once, so the first
visitor who opens any page but "/" gets a "Page not found" dialog over the right page
(streamlit/streamlit#9992). app.py always routes with `st.navigation`; say so before the first
session. Arguments go to `streamlit run`; `--dev` turns on the source-file watcher and run-on-save,
which .streamlit/config.toml leaves off for the served app.

`served(store)` starts it on a free loopback port for the browser tests and benchmarks.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
DEV_FLAGS = ["--server.fileWatcherType", "auto", "--server.runOnSave", "true"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(base: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as answer:
                if answer.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError("streamlit did not become healthy")


@contextmanager
def served(
    store: Path, *, log: IO[bytes] | int = subprocess.DEVNULL, env: dict[str, str] | None = None,
    timeout_s: float = 60, start: tuple[str, ...] = (), args: Sequence[str] = (), root: Path = ROOT,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The app on `store`, headless on 127.0.0.1: its base URL and process, stopped on exit.
    `start` replaces this script (e.g. plain `streamlit run app.py`); `args`: more `streamlit run`
    flags (e.g. "--server.fileWatcherType", "auto"); `root`: another copy of the app to serve (a
    benchmark's baseline)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, *(start or (str(root / "scripts" / "run_app.py"),)), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), *args],
        cwd=root, env={**os.environ, **(env or {}), "ENDPOINT_MONITOR_STORE": str(Path(store).resolve())},
        stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process, timeout_s)
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def main(args: list[str]) -> None:
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli

    PagesManager.uses_pages_directory = False
    if "--dev" in args:
        args = [a for a in args if a != "--dev"] + DEV_FLAGS
    cli.main(["run", str(ROOT / "app.py"), *args], prog_name="streamlit")


if __name__ == "__main__":
    main(sys.argv[1:])
