"""The HTTP endpoint: `POST /v2.1/track` and `POST /v2/track`, answered as Application Insights does.

    server = IngestServer(Path("data/live.duckdb"), port=8502)
    server.serve_forever()        # or start() / stop() around a test

A request is answered only once its accepted rows are durable (`segments`): the handler hands its
rows to the one writer thread and waits; the writer takes every commit waiting at that moment
(group commit: one set of fsynced files for many requests) so throughput grows with load.

Memory stays bounded under a flood. Each body is admitted against a byte budget before it is read
(its Content-Length, then its inflated size, two bodies inflating at a time); past the budget the
answer is 503 with Retry-After and the body is dropped unread into memory, and past `MAX_CONNECTIONS` open connections a new one gets 429 with
Retry-After at once. The exporters retry both, as they do against Azure. So a flood costs at most
the budget (and Python's overhead on it), whatever its size.

The answer body is the service's: {"itemsReceived", "itemsAccepted", "errors": [{"index",
"statusCode", "message"}]}; 200 when every item was accepted, 206 when some were refused (each
named; the exporters resend only those with a retryable code), 400 when none was or the body is
not telemetry at all.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

from telemetry.ingest.envelopes import (
    MAX_BODY_BYTES, BodyError, ItemError, Row, Skipped, inflate, map_item, parse_body,
)
from telemetry.ingest.segments import SegmentWriter, compact, ensure_store

__all__ = ["IngestServer", "IngestStats", "TRACK_PATHS"]

TRACK_PATHS: Final = ("/v2.1/track", "/v2/track")
BUDGET_BYTES: Final = 32 << 20  # bodies in flight, inflated
MAX_CONNECTIONS: Final = 64
RETRY_AFTER_S: Final = 1
COMPACT_EVERY_S: Final = 30.0  # at least; longer when a merge took long (at most 5 % of the time)
COMPACT_AT: Final = 200  # segments waiting: merge sooner
IDLE_TIMEOUT_S: Final = 30.0  # a keep-alive connection with nothing to say is closed

log = logging.getLogger("telemetry.ingest")


class _Budget:
    """Bytes admitted and not yet answered; `take` never waits: it says no instead."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.peak = 0
        self._lock = threading.Lock()

    def take(self, amount: int) -> bool:
        with self._lock:
            if self.used and self.used + amount > self.limit:
                return False  # an empty budget admits one body of any allowed size
            self.used += amount
            self.peak = max(self.peak, self.used)
            return True

    def give(self, amount: int) -> None:
        with self._lock:
            self.used -= amount


@dataclass
class IngestStats:
    received: int = 0
    accepted: int = 0
    refused: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    stored: Counter[str] = field(default_factory=Counter)
    throttled: int = 0  # requests answered 429/503

    def as_dict(self) -> dict[str, Any]:
        return {"received": self.received, "accepted": self.accepted, "refused": self.refused,
                "stored": dict(self.stored), "skipped": dict(self.skipped), "throttled": self.throttled}


class _Commit:
    def __init__(self, rows: dict[str, list[Row]]) -> None:
        self.rows = rows
        self.done = threading.Event()
        self.error: BaseException | None = None


class _Writer(threading.Thread):
    """The one thread that writes segments: group commit of whatever is waiting."""

    def __init__(self, store: Path) -> None:
        super().__init__(name="ingest-writer", daemon=True)
        self.segments = SegmentWriter(store)
        self.waiting: queue.Queue[_Commit | None] = queue.Queue()  # bounded by the byte budget

    def commit(self, rows: dict[str, list[Row]]) -> None:
        """Block until `rows` are durable; raise what the write raised."""
        job = _Commit(rows)
        self.waiting.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error

    def run(self) -> None:
        while True:
            first = self.waiting.get()
            if first is None:
                return
            jobs = [first]
            while True:
                try:
                    more = self.waiting.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self.waiting.put(None)  # stop after this round
                    break
                jobs.append(more)
            merged: dict[str, list[Row]] = {}
            for job in jobs:
                for table, rows in job.rows.items():
                    merged.setdefault(table, []).extend(rows)
            try:
                self.segments.write(merged)
            except BaseException as error:  # answered as a retryable failure, never as accepted
                log.exception("could not write a segment")
                for job in jobs:
                    job.error = error
            for job in jobs:
                job.done.set()

    def stop(self) -> None:
        self.waiting.put(None)
        self.join()


class _Compactor(threading.Thread):
    def __init__(self, store: Path) -> None:
        super().__init__(name="ingest-compactor", daemon=True)
        self.store = store
        self.stopping = threading.Event()
        self.last_took = 0.0
        self.last_at = time.monotonic()

    def due(self, waiting: int) -> bool:
        since = time.monotonic() - self.last_at
        return since >= max(COMPACT_EVERY_S, 20 * self.last_took) or (waiting >= COMPACT_AT and since >= 20 * self.last_took)

    def run(self) -> None:
        from telemetry.ingest.segments import segment_names

        while not self.stopping.wait(1.0):
            if self.due(len(segment_names(self.store))):
                self.compact_now()

    def compact_now(self) -> int:
        started = time.monotonic()
        try:
            merged = compact(self.store)
        except Exception:
            log.exception("could not merge the segments into %s; will try again", self.store)
            merged = 0
        self.last_took = time.monotonic() - started
        self.last_at = time.monotonic()
        if merged:
            log.info("merged %d segments into %s in %.2f s", merged, self.store, self.last_took)
        return merged


class IngestServer(ThreadingHTTPServer):
    """The endpoint on 127.0.0.1:`port` (0: any free port, see `.port`)."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, store: Path, *, port: int = 0, host: str = "127.0.0.1",
                 allowed_ikeys: frozenset[str] | None = None, capture_dir: Path | None = None,
                 budget_bytes: int = BUDGET_BYTES, compact_in_background: bool = True) -> None:
        self.store = Path(store)
        ensure_store(self.store)
        self.allowed_ikeys = frozenset(k.lower() for k in allowed_ikeys) if allowed_ikeys else None
        self.capture_dir = capture_dir
        if capture_dir is not None:
            capture_dir.mkdir(parents=True, exist_ok=True)
        self.budget = _Budget(budget_bytes)
        self.stats = IngestStats()
        self._stats_lock = threading.Lock()
        self._captures = itertools.count(1)
        self._connections = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.inflating = threading.BoundedSemaphore(2)
        self.writer = _Writer(self.store)
        self.writer.start()
        self.compactor = _Compactor(self.store)
        if compact_in_background:
            self.compactor.start()
        super().__init__((host, port), _Handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    # -- connections: a cap on how many are open, answered 429 past it
    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._connections.acquire(blocking=False):
            self._count(throttled=1)
            try:
                request.sendall(_raw_answer(429, {"itemsReceived": 0, "itemsAccepted": 0, "errors": []}))
            finally:
                self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()

    # -- life cycle
    def start(self) -> IngestServer:
        self._thread = threading.Thread(target=self.serve_forever, name="ingest-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop taking requests, write what was accepted, merge the segments into the store."""
        if self._thread is not None:
            self.shutdown()  # waits for serve_forever, which only a started server runs
        self.server_close()
        self.writer.stop()
        self.compactor.stopping.set()
        if self.compactor.is_alive():
            self.compactor.join()
        self.compactor.compact_now()

    # -- one body
    def _count(self, **amounts: int) -> None:
        with self._stats_lock:
            for name, amount in amounts.items():
                setattr(self.stats, name, getattr(self.stats, name) + amount)

    def track(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """The status and answer for one body; the accepted rows are durable when it returns."""
        try:
            items = parse_body(body)
        except BodyError as error:
            return error.status, _body_error(error)
        rows: dict[str, list[Row]] = {}
        errors: list[dict[str, Any]] = []
        skipped: Counter[str] = Counter()
        for index, item in enumerate(items):
            mapped = map_item(item, allowed_ikeys=self.allowed_ikeys)
            if isinstance(mapped, ItemError):
                errors.append({"index": index, "statusCode": mapped.status, "message": mapped.message})
            elif isinstance(mapped, Skipped):
                skipped[mapped.base_type] += 1
            else:
                rows.setdefault(mapped[0], []).append(mapped[1])
        if rows:
            try:
                self.writer.commit(rows)
            except BaseException:
                # nothing of this body is stored: every good item is named retryable (500)
                refused = {e["index"] for e in errors}
                errors += [{"index": i, "statusCode": 500, "message": "The store could not be written; send again."}
                           for i in range(len(items)) if i not in refused]
                errors.sort(key=lambda e: e["index"])
                rows = {}
        accepted = len(items) - len(errors)
        if accepted and self.capture_dir is not None:
            (self.capture_dir / f"{next(self._captures):08d}.body").write_bytes(body)
        with self._stats_lock:
            self.stats.received += len(items)
            self.stats.accepted += accepted
            self.stats.refused += len(errors)
            self.stats.skipped.update(skipped)
            self.stats.stored.update({table: len(r) for table, r in rows.items()})
        status = 200 if not errors else 206 if accepted else (500 if all(e["statusCode"] == 500 for e in errors) else 400)
        return status, {"itemsReceived": len(items), "itemsAccepted": accepted, "errors": errors}


def _body_error(error: BodyError) -> dict[str, Any]:
    return {"itemsReceived": 0, "itemsAccepted": 0,
            "errors": [{"index": 0, "statusCode": error.status, "message": str(error)}]}


def _raw_answer(status: int, answer: dict[str, Any]) -> bytes:
    body = json.dumps(answer).encode()
    reason = {429: "Too Many Requests", 503: "Service Unavailable"}.get(status, "")
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nRetry-After: {RETRY_AFTER_S}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the exporters reuse their connection
    server: IngestServer
    timeout = IDLE_TIMEOUT_S

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path.split("?")[0] in ("/", "/health"):
            with self.server._stats_lock:
                self._answer(200, {"store": str(self.server.store), **self.server.stats.as_dict()})
        else:
            self._answer(404, {"message": "POST telemetry to /v2.1/track or /v2/track."})

    def do_POST(self) -> None:  # noqa: N802
        if self.path.split("?")[0].rstrip("/") not in TRACK_PATHS:
            self._answer(404, {"message": "POST telemetry to /v2.1/track or /v2/track."}, close=True)
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._answer(411, {"message": "A Content-Length is required."}, close=True)
            return
        if length > MAX_BODY_BYTES:
            self._answer(413, {"itemsReceived": 0, "itemsAccepted": 0, "errors": [
                {"index": 0, "statusCode": 413, "message": f"The body is over {MAX_BODY_BYTES >> 20} MB."}]}, close=True)
            return
        server = self.server
        if not server.budget.take(length):
            self._refuse(length)
            return
        held = length
        try:
            body = self.rfile.read(length)
            if body[:2] == b"\x1f\x8b":
                with server.inflating:  # inflated bodies not yet charged: two at a time
                    try:
                        body = inflate(body)
                    except BodyError as error:
                        self._answer(error.status, _body_error(error))
                        return
                    if not server.budget.take(len(body)):
                        self._refuse(0)
                        return
                    held += len(body)
            status, answer = server.track(body)
            del body
            self._answer(status, answer, retry=status in (429, 500, 503))
        finally:
            server.budget.give(held)

    def _refuse(self, unread: int) -> None:
        """503 with Retry-After, the body read and dropped (closing on unread bytes would reset
        the connection before the client reads the answer)."""
        self.server._count(throttled=1)
        while unread > 0:
            chunk = self.rfile.read(min(unread, 1 << 16))
            if not chunk:
                break
            unread -= len(chunk)
        self._answer(503, {"itemsReceived": 0, "itemsAccepted": 0, "errors": []}, retry=True)

    def _answer(self, status: int, answer: dict[str, Any], *, retry: bool = False, close: bool = False) -> None:
        body = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if retry:
            self.send_header("Retry-After", str(RETRY_AFTER_S))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s " + format, self.address_string(), *args)
