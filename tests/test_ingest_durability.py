"""Nothing accepted is lost: the endpoint (`python -m telemetry ingest`, its own process) under a
flood keeps its memory bounded and tells senders to retry (429/503 with Retry-After), and killed
with SIGKILL in the middle of a write it leaves a readable store holding every item it answered as
accepted."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from telemetry.ingest.segments import segments_dir
from tests.real_clients import free_port, store_file_ids, stored_rows
from tests.track_envelopes import request

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Endpoint:
    proc: subprocess.Popen[bytes]
    port: int
    store: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def memory_mb(self, field: str = "VmHWM") -> float:
        """Peak (VmHWM) or current (VmRSS) resident memory of the endpoint's process."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith(field + ":"))
        return int(line.split()[1]) / 1024


@contextmanager
def running(store: Path, *options: str) -> Iterator[Endpoint]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "telemetry", "ingest", "--store", str(store), "--port", str(port), *options],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    endpoint = Endpoint(proc, port, store)
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(endpoint.url + "health", timeout=2):
                break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "the endpoint did not start"
            time.sleep(0.1)
    try:
        yield endpoint
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)


@dataclass
class Sender:
    """Posts bodies of unique request items; keeps which were answered as accepted."""

    url: str
    name: str
    items_per_body: int
    padding: int = 0
    accepted: set[str] = field(default_factory=set)
    sent: set[str] = field(default_factory=set)
    statuses: list[int] = field(default_factory=list)
    retry_after: list[str | None] = field(default_factory=list)
    offered_bytes: int = 0

    def run(self, stop: threading.Event) -> None:
        template = request("ID", properties={"Input": "x" * self.padding})
        text = json.dumps(template)
        n = 0
        while not stop.is_set():
            ids = [f"{self.name}-{n}-{i}" for i in range(self.items_per_body)]
            n += 1
            body = ("[" + ",".join(text.replace('"ID"', json.dumps(i), 1) for i in ids) + "]").encode()
            self.sent.update(ids)
            self.offered_bytes += len(body)
            req = urllib.request.Request(self.url + "v2.1/track", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=60) as answer:
                    status, reply, retry = answer.status, json.loads(answer.read()), answer.headers.get("Retry-After")
            except urllib.error.HTTPError as error:
                status, reply, retry = error.code, json.loads(error.read() or b"{}"), error.headers.get("Retry-After")
            except OSError:
                return  # the endpoint is gone (killed): what it answered before is what counts
            self.statuses.append(status)
            self.retry_after.append(retry)
            if status in (200, 206):
                refused = {e["index"] for e in reply["errors"]}
                self.accepted.update(i for k, i in enumerate(ids) if k not in refused)


def _stored_ids(store: Path) -> set[str]:
    return {r[0] for r in stored_rows(store, "SELECT id FROM requests")}


def _flood(senders: list[Sender], seconds: float) -> None:
    stop = threading.Event()
    threads = [threading.Thread(target=s.run, args=(stop,)) for s in senders]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(120)


def test_a_flood_is_told_to_retry_memory_stays_bounded_and_every_accepted_item_is_stored(tmp_path: Path) -> None:
    store = tmp_path / "live.duckdb"
    with running(store, "--max-pending-mb", "8") as endpoint:
        idle_mb = endpoint.memory_mb("VmRSS")
        senders = [Sender(endpoint.url, f"s{k}", items_per_body=600, padding=2_000) for k in range(16)]
        _flood(senders, seconds=8)
        grew_mb = endpoint.memory_mb("VmHWM") - idle_mb
    assert endpoint.proc.returncode == 0
    statuses = [s for sender in senders for s in sender.statuses]
    throttled = [(s, r) for sender in senders for s, r in zip(sender.statuses, sender.retry_after, strict=True)
                 if s in (429, 503)]
    assert throttled and all(retry == "1" for _, retry in throttled), statuses
    assert statuses.count(200) >= 5
    offered_mb = sum(s.offered_bytes for s in senders) / 2**20
    # bounded by the budget (8 MB of bodies, and Python's objects parsed from them), not by the flood
    assert grew_mb < 12 * 8 < offered_mb, (grew_mb, offered_mb)
    accepted = set().union(*(s.accepted for s in senders))
    assert store_file_ids(store) == accepted  # stopped: everything merged into the store file


def test_sigkill_mid_write_leaves_a_readable_store_with_every_accepted_item(tmp_path: Path) -> None:
    store = tmp_path / "live.duckdb"
    with running(store) as endpoint:
        senders = [Sender(endpoint.url, f"k{k}", items_per_body=200, padding=200) for k in range(4)]
        stop = threading.Event()
        threads = [threading.Thread(target=s.run, args=(stop,)) for s in senders]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while sum(len(s.accepted) for s in senders) < 1_000 and time.monotonic() < deadline:
            time.sleep(0.01)
        # then kill while a segment is being written (a .tmp file exists), or 3 s later at the latest
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not any(segments_dir(store).glob("*.tmp")):
            time.sleep(0.001)
        endpoint.proc.send_signal(signal.SIGKILL)
        endpoint.proc.wait()
        stop.set()
        for t in threads:
            t.join(60)
    accepted = set().union(*(s.accepted for s in senders))
    sent = set().union(*(s.sent for s in senders))
    assert accepted
    stored = _stored_ids(store)  # readable, without any repair step
    assert accepted <= stored <= sent
    # started again on the same store: it takes telemetry and merges everything into the file
    with running(store) as again:
        late = Sender(again.url, "late", items_per_body=10)
        _flood([late], seconds=0.5)
    assert not list(segments_dir(store).glob("*.tmp"))
    assert store_file_ids(store) == stored | late.accepted and late.accepted
