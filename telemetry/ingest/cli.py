"""`python -m telemetry ingest`: run the endpoint until Ctrl-C or SIGTERM, then merge what it took in."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Final
from uuid import UUID

from telemetry.ingest.server import BUDGET_BYTES
from telemetry.store import DEFAULT_STORE

__all__ = ["LIVE_STORE", "add_parser", "run_ingest"]

# Beside the demo store, never in it: rebuilding the demo would drop what was ingested.
LIVE_STORE: Final = DEFAULT_STORE.with_name("live.duckdb")
DEFAULT_PORT: Final = 8502


def _guid(text: str) -> str:
    try:
        return str(UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an instrumentation key (a GUID): {text!r}") from None


def add_parser(commands: Any) -> None:
    ingest = commands.add_parser("ingest", help="take in live telemetry: an App Insights ingestion endpoint")
    ingest.add_argument("--store", type=Path, default=LIVE_STORE)
    ingest.add_argument("--port", type=int, default=DEFAULT_PORT)
    ingest.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ingest.add_argument("--ikey", action="append", type=_guid, default=[],
                        help="accept only this instrumentation key; repeat for several (default: any)")
    ingest.add_argument("--capture", type=Path, help="also keep every accepted body as it came, one file each")
    ingest.add_argument("--max-pending-mb", type=int, default=BUDGET_BYTES >> 20,
                        help="bodies being taken in at once, in MB; past it senders are told to retry (503)")


def run_ingest(args: argparse.Namespace) -> int:
    from telemetry.ingest.server import IngestServer  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = IngestServer(args.store, port=args.port, host=args.host, allowed_ikeys=frozenset(args.ikey) or None,
                          capture_dir=args.capture, budget_bytes=args.max_pending_mb << 20)
    stopping = threading.Event()

    def stop(_signum: int, _frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.start()
    keys = ", ".join(args.ikey) if args.ikey else "any instrumentation key"
    print(f"Ingesting into {args.store} on http://{args.host}:{server.port}/ ({keys}).\n"
          f"Connection string: InstrumentationKey=<guid>;IngestionEndpoint=http://127.0.0.1:{server.port}/",
          flush=True)
    stopping.wait()
    print("Stopping: writing what was accepted and merging it into the store…", file=sys.stderr, flush=True)
    server.stop()
    print(f"Stopped. {server.stats.as_dict()}", flush=True)
    return 0
