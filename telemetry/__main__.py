"""`python -m telemetry`: build the demo store, print a panel's data or the KQL it sends.

    python -m telemetry demo [--store data/demo.duckdb] [--requests-per-day 20000] [--days 7] [--seed 42] [--if-missing]
    python -m telemetry query requests.rate [--range 24h | --from T --to T] [--service S ...] [--format csv|json]
    python -m telemetry kql requests.rate --schema classic|workspace
    python -m telemetry query operation.requests --op ID | traces.search --q TEXT [--match has] [--severity 2]
    python -m telemetry query dependencies.codes --dependency TARGET | exceptions.samples --problem ID
    python -m telemetry import PATH... [--store data/imported.duckdb]
    python -m telemetry ingest [--store data/live.duckdb] [--port 8502] [--ikey GUID ...] [--capture DIR]
    python -m telemetry panels
    python -m telemetry alert failures.rate --above 0.05 [--window 5m --scope workspace --format arm|bicep|az]
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from collections.abc import Sequence
from pathlib import Path

import duckdb

from telemetry import alert_cli
from telemetry.errors import TelemetryError
from telemetry.filters import from_query_params
from telemetry.importer import IMPORT_STORE, run_cli
from telemetry.ingest.cli import add_parser as _ingest_parser
from telemetry.kql import render_kql
from telemetry.model import RenderContext
from telemetry.queries import PANELS, panel
from telemetry.queries.traces import search_from_params
from telemetry.results import QueryResult
from telemetry.sources.local import LocalSource
from telemetry.store import DEFAULT_STORE, connect

STALE_AFTER = timedelta(hours=3)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m telemetry", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="build a local store of demo telemetry")
    demo.add_argument("--store", type=Path, default=DEFAULT_STORE)
    demo.add_argument("--requests-per-day", type=_positive_int, default=20_000)
    demo.add_argument("--days", type=_positive_int, default=7)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--if-missing", action="store_true", help="do nothing when the store exists")
    demo.add_argument(
        "--if-stale", action="store_true",
        help=f"build only when the store is missing or its newest request is over {STALE_AFTER} old",
    )

    for name, text in (("query", "print a panel's data"), ("kql", "print the KQL a panel sends")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("panel", help="panel name; `python -m telemetry panels` lists them")
        sub.add_argument("--range", help="30m, 1h, 6h, 24h, 7d or 30d (default 24h)")
        sub.add_argument("--from", dest="start", help="ISO 8601 start (with --to)")
        sub.add_argument("--to", dest="end", help="ISO 8601 end (with --from)")
        sub.add_argument("--service", action="append", default=[], help="cloud_RoleName; repeat for several")
        sub.add_argument("--operation")
        sub.add_argument("--code", help="result code")
        sub.add_argument("--grain", help="1m … 1d, or auto")
        sub.add_argument("--split", help="service or operation")
        # The panels' own parameters (the pages take them from the URL: op, q, match, severity,
        # pg, dependency, problem); a panel takes the ones it has.
        sub.add_argument("--op", help="operation id (operation.* panels, traces.search)")
        sub.add_argument("--q", help="search text (traces.search, traces.histogram)")
        sub.add_argument("--match", help="contains (default) or has, for --q")
        sub.add_argument("--severity", help="minimum severity: 0-4 or its name (traces.*)")
        sub.add_argument("--page", help="page of traces.search, from 1")
        sub.add_argument("--dependency", help="dependency target (dependencies.percentiles, .codes, …)")
        sub.add_argument("--problem", help="exception group's problemId (exceptions.samples)")
        if name == "query":
            sub.add_argument("--store", type=Path, default=DEFAULT_STORE)
            sub.add_argument("--format", choices=("csv", "json"), default="csv")
        else:
            sub.add_argument("--schema", choices=("classic", "workspace"), default="classic")

    imports = commands.add_parser("import", help="import exported App Insights telemetry into a local store")
    imports.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                         help="data export / diagnostic settings JSON, Logs query CSV or continuous export; gzip or plain")
    imports.add_argument("--store", type=Path, default=IMPORT_STORE)

    _ingest_parser(commands)
    commands.add_parser("panels", help="list the panels")
    alert_cli.add_parser(commands)
    return parser


def _plain(message: str) -> str:
    """A message written for the page as terminal text: without Markdown's code backticks."""
    return message.replace("`", "")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive whole number")
    return value


def _context(args: argparse.Namespace) -> RenderContext:
    params: dict[str, str | list[str]] = {}
    for key, value in (("range", args.range), ("from", args.start), ("to", args.end),
                       ("operation", args.operation), ("code", args.code), ("grain", args.grain),
                       ("split", args.split)):
        if value is not None:
            params[key] = value
    if args.service:
        params["service"] = args.service
    filters, warnings = from_query_params(params)
    if warnings:  # the page ignores a bad parameter and goes on; the command stops, so it is invalid
        raise SystemExit("error: " + " ".join(_plain(w.replace("Ignored", "Invalid", 1)) for w in warnings))
    return RenderContext.of(filters)


def _panel_params(args: argparse.Namespace) -> dict[str, object]:
    """The chosen panel's own parameters from the options, read as the pages read the URL's."""
    factory = PANELS.get(args.panel)
    if factory is None:
        return {}  # panel() names the panels there are
    takes = inspect.signature(factory).parameters
    params: dict[str, object] = {}
    if "search" in takes or "page" in takes:
        url = {k: v for k, v in (("q", args.q), ("op", args.op), ("match", args.match), ("severity", args.severity),
                                 ("pg", args.page)) if v is not None}
        search, page, warnings = search_from_params(url)
        if warnings:
            raise ValueError(" ".join(warnings))
        params["search"] = search
        if "page" in takes:
            params["page"] = page
    for name, value, option in (("op", args.op, "--op"), ("target", args.dependency, "--dependency"),
                                ("problem", args.problem, "--problem")):
        if name in takes:
            if value is None and takes[name].default is inspect.Parameter.empty:
                raise ValueError(f"{args.panel} needs {option}")
            if value is not None:
                params[name] = value
    return params


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "panels":
        for name in sorted(PANELS):
            print(name)
        return 0
    if args.command == "demo":
        return _demo(args)
    if args.command == "import":
        return run_cli(args.paths, args.store)
    if args.command == "ingest":
        from telemetry.ingest.cli import run_ingest

        return run_ingest(args)
    if args.command == "alert":
        return alert_cli.run(args)
    try:
        query = panel(args.panel, **_panel_params(args))
    except (KeyError, TypeError, ValueError) as error:
        print(f"error: {error.args[0] if error.args else error}", file=sys.stderr)
        return 2
    ctx = _context(args)
    if args.command == "kql":
        try:
            print(render_kql(query, ctx, args.schema))
        except TelemetryError as error:  # an online endpoint log asked in the classic schema
            print(f"error: {error}", file=sys.stderr)
            return 1
        return 0
    outcome = LocalSource(args.store).run([query], ctx)[0]
    if isinstance(outcome, TelemetryError):
        print(f"error: {outcome}", file=sys.stderr)
        return 1
    assert isinstance(outcome, QueryResult)
    if args.format == "csv":
        outcome.frame.to_csv(sys.stdout, index=False)
    else:
        print(outcome.frame.to_json(orient="records", date_format="iso", date_unit="ms"))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from telemetry.demo import build_demo_store  # numpy-heavy; only the demo command needs it

    if args.if_missing and args.store.exists():
        print(f"{args.store} exists; leaving it as it is")
        return 0
    if args.if_stale and _fresh(args.store):
        print(f"{args.store} is recent; leaving it as it is")
        return 0
    started = time.perf_counter()
    path = build_demo_store(args.store, requests_per_day=args.requests_per_day, days=args.days, seed=args.seed)
    size_mb = path.stat().st_size / 1e6
    print(f"built {path} ({size_mb:.1f} MB) in {time.perf_counter() - started:.1f} s")
    return 0


def _fresh(store: Path) -> bool:
    """Whether the demo store still covers the last hours (a relative range would show data)."""
    if not store.exists():
        return False
    try:
        con = connect(store)
        try:
            newest = con.execute("SELECT max(timestamp) FROM requests").fetchone()
        finally:
            con.close()
    except duckdb.Error:
        return False
    if newest is None or newest[0] is None:
        return False
    return datetime.now(UTC) - newest[0].replace(tzinfo=UTC) < STALE_AFTER


def run(argv: Sequence[str] | None = None) -> int:
    """`main`, ending quietly when the reader of its output goes away (`… | head`)."""
    try:
        status = main(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would complain again when it flushes stdout on exit: point it at nothing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return status


if __name__ == "__main__":
    raise SystemExit(run())
