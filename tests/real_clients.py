"""Real telemetry clients from PyPI, each in the virtual environment it needs, sending to 127.0.0.1.

Their pins conflict (azureml-inference-server-http 1.5.1 pins opentelemetry-sdk 1.33.0, the distro
wants 1.45; 1.4.1 brings OpenCensus), so each client has its own venv, pinned by a file
`tests/clients/<name>.txt` and cached under `~/.cache/endpoint-monitor/venvs/<name>-<hash>` (the
hash covers the pins and the Python version: changing a pin builds a new venv). The first test that
needs a client builds its venv (about a minute each, `client_venvs` builds several at once);
later runs reuse it.

    venv = client_venv("inference-server-1.5")
    with ingest_endpoint(tmp_path) as endpoint:
        with start_inference_server(venv, tmp_path / "work", ingestion=endpoint.url, ikey=new_ikey()) as server:
            outcomes = [server.score({"data": [[1, 2, 3]]}) for _ in range(5)]
            wait_for_envelopes(tmp_path / "capture", lambda found: count(found, "RequestData") >= 5)
        envelopes = captured_envelopes(tmp_path / "capture")   # the client stopped: all it sent

Clients (`CLIENTS`):
- `distro`: a Flask app (`tests/clients/distro_app.py`) instrumented with azure-monitor-opentelemetry;
- `inference-server-1.5`: Azure ML's inference server 1.5.x (OpenTelemetry exporters);
- `inference-server-1.4`: the same server, 1.4.x (OpenCensus);
both servers serve `tests/clients/score.py`, a seed-style scoring script.

Each client process gets a temp dir of its own (`TMPDIR`): the exporters keep items they could not
send there and resend them later, which must never leak from one test into another.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

__all__ = [
    "CLIENTS",
    "CLIENTS_DIR",
    "ClientProcess",
    "Outcome",
    "base_types",
    "captured_envelopes",
    "client_venv",
    "client_venvs",
    "connection_string",
    "count",
    "free_port",
    "ingest_endpoint",
    "new_ikey",
    "start_distro_app",
    "start_inference_server",
    "stored_rows",
    "store_file_ids",
    "wait_for_envelopes",
]

CLIENTS_DIR: Final = Path(__file__).resolve().parent / "clients"
CLIENTS: Final = ("distro", "inference-server-1.5", "inference-server-1.4")
CACHE_ROOT: Final = Path(os.environ.get("ENDPOINT_MONITOR_VENV_CACHE", Path.home() / ".cache/endpoint-monitor/venvs"))
_COMPLETE: Final = ".complete"  # written last: a venv without it was cut short and is rebuilt
START_TIMEOUT_S: Final = 60.0


# ---- virtual environments -------------------------------------------------------------------------


def _base_python() -> str:
    """The interpreter the project's venv was made from (a venv inside a venv works, but is slower
    to resolve and ties the client's venv to ours)."""
    return getattr(sys, "_base_executable", None) or sys.executable


def client_venv(name: str) -> Path:
    """The cached venv of client `name`, built from `tests/clients/<name>.txt` when missing.

    Safe when several test runs (or engineers) ask at once: one builds under a lock, the others
    wait for it and reuse it.
    """
    pins = CLIENTS_DIR / f"{name}.txt"
    digest = hashlib.sha256(pins.read_bytes() + sys.version.encode()).hexdigest()[:12]
    venv = CACHE_ROOT / f"{name}-{digest}"
    if (venv / _COMPLETE).exists():
        return venv
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with open(CACHE_ROOT / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (venv / _COMPLETE).exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([_base_python(), "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin/python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
             "--no-input", "--no-deps", "--no-compile", "-r", str(pins)],
            check=True,
        )
        (venv / _COMPLETE).write_text(pins.read_text())
    return venv


def client_venvs(*names: str) -> dict[str, Path]:
    """Several clients' venvs, the missing ones built at the same time (pip mostly waits on the
    network and the disk: three at once take about as long as the slowest)."""
    with ThreadPoolExecutor(max_workers=len(names) or 1) as pool:
        return dict(zip(names, pool.map(client_venv, names), strict=True))


# ---- processes ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_ikey() -> str:
    """A fresh instrumentation key: the exporters key their on-disk retry storage by it, so a new
    key per test keeps one test's leftovers out of the next."""
    return str(uuid.uuid4())


def connection_string(ikey: str, ingestion: str) -> str:
    return f"InstrumentationKey={ikey};IngestionEndpoint={ingestion}"


@dataclass(frozen=True)
class Outcome:
    """One call as the client saw it."""

    status: int
    body: str
    elapsed_ms: float
    request_id: str  # the x-request-id the call sent (the inference server echoes and logs it)


@dataclass
class ClientProcess:
    """A client serving on 127.0.0.1:`port`; `log` holds what it printed."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    score_path: str = "/score"
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def score(self, payload: Mapping[str, Any], *, timeout_s: float = 30.0) -> Outcome:
        """POST `payload` as JSON to the scoring route; every outcome is kept in `outcomes`."""
        request_id = str(uuid.uuid4())
        request = urllib.request.Request(
            self.url + self.score_path, data=json.dumps(payload).encode(), method="POST",
            headers={"Content-Type": "application/json", "x-request-id": request_id},
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as answer:
                status, body = answer.status, answer.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read().decode("utf-8", "replace")
        outcome = Outcome(status, body, (time.perf_counter() - started) * 1000, request_id)
        self.outcomes.append(outcome)
        return outcome

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, *, timeout_s: float = 30.0) -> None:
        """SIGTERM and wait: the exporters flush what they hold on a clean exit."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def _client_env(workdir: Path, ikey: str, ingestion: str, extra: Mapping[str, str]) -> dict[str, str]:
    tmp = workdir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env.update({
        "TMPDIR": str(tmp),
        "APPLICATIONINSIGHTS_CONNECTION_STRING": connection_string(ikey, ingestion),
        # Statsbeat goes to Microsoft's own endpoint, not the connection string's: off (no internet here).
        "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
        "APPLICATIONINSIGHTS_SDKSTATS_DISABLED": "true",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


@contextmanager
def _serving(cmd: list[str], *, port: int, workdir: Path, env: dict[str, str], name: str,
             score_path: str) -> Iterator[ClientProcess]:
    log = workdir / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    client = ClientProcess(proc, port, log, score_path)
    try:
        _wait_healthy(client)
        yield client
    finally:
        client.stop()


def _wait_healthy(client: ClientProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if client.proc.poll() is not None:
            raise RuntimeError(f"client exited with {client.proc.returncode}:\n{client.output()[-3000:]}")
        try:
            with urllib.request.urlopen(client.url + "/", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    client.stop()
    raise RuntimeError(f"client not healthy after {START_TIMEOUT_S:.0f} s:\n{client.output()[-3000:]}")


@contextmanager
def start_inference_server(venv: Path, workdir: Path, *, ingestion: str, ikey: str,
                           env: Mapping[str, str] | None = None) -> Iterator[ClientProcess]:
    """`azmlinfsrv` serving tests/clients/score.py with App Insights and model data collection on,
    sending to `ingestion` (e.g. "http://127.0.0.1:PORT/"). `env` adds or overrides variables."""
    workdir.mkdir(parents=True, exist_ok=True)
    model_dir = workdir / "azureml-models" / "seed-model" / "1"
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "model.json").write_text(json.dumps({"weights": [0.5, -1.0, 2.0]}))
    shutil.copy(CLIENTS_DIR / "score.py", workdir / "score.py")
    port = free_port()
    variables = _client_env(workdir, ikey, ingestion, {
        "AML_APP_INSIGHTS_ENABLED": "true",
        "AML_APP_INSIGHTS_KEY": ikey,
        # Seen in 1.4.1 and 1.5.1: only this turns model data collection on (AML_MODEL_DC_STORAGE_ENABLED does not).
        "AML_MDC_STORAGE_ENABLED": "true",
        "AZUREML_MODEL_DIR": str(model_dir),
        "SERVICE_NAME": "seed-scorer",
        "WORKSPACE_NAME": "test-workspace",
        "HOSTNAME": "test-container",
        **(env or {}),
    })
    cmd = [str(venv / "bin/azmlinfsrv"), "--entry_script", "score.py", "--port", str(port)]
    with _serving(cmd, port=port, workdir=workdir, env=variables, name=venv.name, score_path="/score") as client:
        yield client


@contextmanager
def start_distro_app(venv: Path, workdir: Path, *, ingestion: str, ikey: str,
                     env: Mapping[str, str] | None = None) -> Iterator[ClientProcess]:
    """tests/clients/distro_app.py (Flask + azure-monitor-opentelemetry) sending to `ingestion`."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(CLIENTS_DIR / "distro_app.py", workdir / "distro_app.py")
    port = free_port()
    variables = _client_env(workdir, ikey, ingestion, {
        "OTEL_SERVICE_NAME": "distro-scorer",
        # The distro's exporters wait 5 s between batches by default; 1 s keeps the tests short.
        "OTEL_BSP_SCHEDULE_DELAY": "1000",
        "OTEL_BLRP_SCHEDULE_DELAY": "1000",
        **(env or {}),
    })
    cmd = [str(venv / "bin/python"), "distro_app.py", str(port)]
    with _serving(cmd, port=port, workdir=workdir, env=variables, name=venv.name, score_path="/score") as client:
        yield client


@contextmanager
def ingest_endpoint(root: Path, **options: Any) -> Iterator[Any]:
    """Our ingestion endpoint on a free port of 127.0.0.1, in this process, writing the store
    `root/live.duckdb` and keeping every accepted body in `root/capture` (`captured_envelopes`);
    merged into the store when the block ends. `options` go to IngestServer."""
    from telemetry.ingest import IngestServer

    server = IngestServer(root / "live.duckdb", capture_dir=root / "capture", **options).start()
    try:
        yield server
    finally:
        server.stop()


def stored_rows(store: Path, sql: str) -> list[tuple[Any, ...]]:
    """The answer to `sql` over the store as the dashboard reads it (merged rows and pending segments)."""
    from telemetry.ingest.segments import open_store, segment_names

    con = open_store(store, segment_names(store), "256MB")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def store_file_ids(store: Path, table: str = "requests") -> set[str]:
    """The ids in the store file alone (the endpoint stopped: every segment merged into it)."""
    import duckdb

    con = duckdb.connect(str(store), read_only=True)
    try:
        return {row[0] for row in con.execute(f"SELECT id FROM {table}").fetchall()}
    finally:
        con.close()


# ---- what the clients sent ------------------------------------------------------------------------


def captured_envelopes(capture_dir: Path) -> list[dict[str, Any]]:
    """Every envelope in the bodies captured in `capture_dir` (one file a body, gzip or plain,
    JSON array or newline-delimited), in arrival order."""
    envelopes: list[dict[str, Any]] = []
    for path in sorted(capture_dir.glob("*.body")):
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8")
        stripped = text.lstrip()
        if stripped.startswith("["):
            envelopes.extend(json.loads(text))
        else:
            envelopes.extend(json.loads(line) for line in text.splitlines() if line.strip())
    return envelopes


def base_types(envelopes: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for envelope in envelopes:
        kind = str((envelope.get("data") or {}).get("baseType"))
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def count(envelopes: list[dict[str, Any]], base_type: str,
          where: Callable[[dict[str, Any]], bool] = lambda _e: True) -> int:
    return sum(1 for e in envelopes if (e.get("data") or {}).get("baseType") == base_type and where(e))


def wait_for_envelopes(capture_dir: Path, done: Callable[[list[dict[str, Any]]], bool], *,
                       timeout_s: float = 45.0) -> list[dict[str, Any]]:
    """The captured envelopes once `done(envelopes)` holds; an AssertionError saying what came
    when it still does not after `timeout_s` (the exporters send every 1-5 s)."""
    deadline = time.monotonic() + timeout_s
    while True:
        envelopes = captured_envelopes(capture_dir)
        if done(envelopes):
            return envelopes
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout_s:.0f} s the clients had sent {base_types(envelopes)}")
        time.sleep(0.3)
