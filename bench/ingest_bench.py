"""The ingestion endpoint against a real exporter: envelopes/s sustained, and peak memory.

    .venv/bin/python bench/ingest_bench.py [--calls 20000] [--runs 3]

The real azure-monitor-opentelemetry-exporter (in the distro's venv, tests/clients/distro.txt)
exports N scoring calls, each a request span and a log line (2 envelopes), in batches of 512, as
fast as it goes (tests/clients/exporter_load.py). It sends to, in turn:

- baseline: a raw HTTP server that only reads each body, parses its JSON and answers 200 (what
  any endpoint must do at least, with the same http.server and json modules);
- ours: `python -m telemetry ingest` on a fresh store (maps every item, answers only once its rows
  are fsynced, merges segments into the store in the background).

Exporter, server and this script share the machine's cores (2 here), as they would on a laptop.
Envelopes/s is the exporter's count over its time from the first call to its last answered
export (on a busy 2-core machine the exporter itself is the bottleneck); the server's CPU ms per
1000 envelopes is what taking them in costs, whatever the sender; peak memory is the server
process's VmHWM. Ratios ours / baseline carry from machine to machine. Writes
bench/ingest_results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.real_clients import CLIENTS_DIR, client_venv, connection_string, free_port, new_ikey  # noqa: E402

RESULTS = ROOT / "bench" / "ingest_results.json"


class _ParseOnly(BaseHTTPRequestHandler):
    """The baseline: read, parse, answer; nothing kept."""

    protocol_version = "HTTP/1.1"
    received = 0

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        items = json.loads(body)
        _ParseOnly.received += len(items)
        self._answer({"itemsReceived": len(items), "itemsAccepted": len(items), "errors": []})

    def do_GET(self) -> None:  # noqa: N802
        self._answer({"received": _ParseOnly.received})

    def _answer(self, answer: dict[str, Any]) -> None:
        out = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: Any) -> None:
        pass


def _serve_baseline(port: int) -> None:
    ThreadingHTTPServer(("127.0.0.1", port), _ParseOnly).serve_forever()


def _start(kind: str, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    if kind == "baseline":
        cmd = [sys.executable, __file__, "--serve-baseline", str(port)]
    else:
        cmd = [sys.executable, "-m", "telemetry", "ingest", "--store", str(workdir / "live.duckdb"), "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return proc
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{kind} server did not start") from None
            time.sleep(0.1)


def _received(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as answer:
        stats = json.loads(answer.read())
    return int(stats.get("accepted", stats.get("received", 0)))


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _one(kind: str, calls: int, venv: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        server = _start(kind, port, workdir)
        try:
            env = {**os.environ, "TMPDIR": tmp, "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
                   "APPLICATIONINSIGHTS_CONNECTION_STRING": connection_string(new_ikey(), f"http://127.0.0.1:{port}/")}
            done = subprocess.run([str(venv / "bin/python"), str(CLIENTS_DIR / "exporter_load.py"), str(calls)],
                                  env=env, capture_output=True, text=True, check=True, timeout=1800)
            sent = json.loads(done.stdout.strip().splitlines()[-1])
            received = _received(port)
            peak = _peak_mb(server.pid)
            cpu = _cpu_s(server.pid)
        finally:
            server.terminate()
            server.wait(120)
    return {"server": kind, "envelopes": sent["envelopes"], "received": received, "seconds": sent["seconds"],
            "envelopes_per_s": sent["envelopes"] / sent["seconds"], "server_peak_mb": peak,
            "server_cpu_ms_per_1000": cpu * 1000 / received * 1000}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000, help="scoring calls (2 envelopes each) per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--serve-baseline", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_baseline:
        _serve_baseline(args.serve_baseline)
        return 0
    venv = client_venv("distro")
    runs: list[dict[str, Any]] = []
    for n in range(args.runs):
        for kind in ("baseline", "ours"):  # interleaved: the shared machine's load hits both alike
            result = _one(kind, args.calls, venv)
            print(f"run {n + 1} {kind}: {result['envelopes_per_s']:,.0f} envelopes/s, "
                  f"server peak {result['server_peak_mb']:.0f} MB, {result['server_cpu_ms_per_1000']:.0f} CPU ms "
                  f"per 1000 ({result['received']:,} received)", flush=True)
            runs.append(result)
    summary: dict[str, Any] = {}
    for kind in ("baseline", "ours"):
        mine = [r for r in runs if r["server"] == kind]
        summary[kind] = {"envelopes_per_s": statistics.median(r["envelopes_per_s"] for r in mine),
                         "server_peak_mb": max(r["server_peak_mb"] for r in mine),
                         "server_cpu_ms_per_1000": statistics.median(r["server_cpu_ms_per_1000"] for r in mine),
                         # the exporter adds an item or two of its own (a resource metric)
                         "all_received": all(r["received"] >= r["envelopes"] for r in mine)}
    summary["ratio"] = summary["ours"]["envelopes_per_s"] / summary["baseline"]["envelopes_per_s"]
    report = {"calls": args.calls, "runs": runs, "summary": summary, "cpus": os.cpu_count(),
              "python": platform.python_version(), "load_at_start": os.getloadavg()[0]}
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"ours {summary['ours']['envelopes_per_s']:,.0f} envelopes/s vs baseline "
          f"{summary['baseline']['envelopes_per_s']:,.0f} ({summary['ratio']:.2f}x); peak "
          f"{summary['ours']['server_peak_mb']:.0f} MB vs {summary['baseline']['server_peak_mb']:.0f} MB; CPU ms per 1000 "
          f"{summary['ours']['server_cpu_ms_per_1000']:.0f} vs {summary['baseline']['server_cpu_ms_per_1000']:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
