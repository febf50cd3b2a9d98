"""Capacity: how many page views a second one server gives N sessions, and what a view costs it.

    python -m bench.capacity --store bench/stores/1m.duckdb [--sessions 1,5,20] [--seconds 20]

Each session is a client speaking Streamlit's own websocket protocol, as the browser does: it
opens /_stcore/stream, asks for a page with a `rerun_script` BackMsg (the page's query string
and its page_script_hash, or its url path on the first view) and reads ForwardMsgs until
`script_finished`. No browser competes with the server for the cores, so the figures are the
server's: page views per second, p50/p95 seconds from the ask to the script's end, and the
server's CPU per view (user + system time of its process from /proc/<pid>/stat, over the views).

"cold": every view asks a range no view asked before (its end a minute earlier each time), so
the shared answer cache never answers it; "warm": every page's 24h view was asked once, so
every answer comes from the cache and what is left is the server's own work per view. With one
session the pages take turns and each page gets its own figures; with more, the sessions go
round the pages from different starts for `--seconds`.

The results go into bench/results.json under "capacity" (and bench/results.md, the README's
tables, are written again from it).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import itertools
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import ClientConnection, connect

from bench.stores import END, ROOT
from components.navigation import PAGES
from scripts.run_app import served
from telemetry.filters import Filters, TimeRange, to_query_params

__all__ = ["PAGE_PATHS", "Session", "View", "capacity", "view_query"]

# page name -> url path (the default page is asked by an empty path, as a browser on "/" does)
PAGE_PATHS: Final = {Path(file).stem: ("" if i == 0 else url) for i, (file, _, _, url) in enumerate(PAGES)}
SESSIONS: Final = (1, 5, 20)
VIEW_TIMEOUT_S: Final = 300.0
# What a page's views sent, per page (the fewest over its views): the proof that the client ran
# the page, not just a sidebar or an error.
SENT: Final = ("plotly_chart", "dataframe", "metric")
SETTLE_S: Final = 0.3  # after a server's turn, before reading its CPU
ROUNDS: Final = 4  # turns each server takes in a run of N sessions, when a baseline runs beside ours
SOAK_SESSIONS: Final = 5
SOAK_SAMPLE: Final = 250  # views between two readings of the server's memory in a soak
_TICK: Final = os.sysconf("SC_CLK_TCK")



def run_async(coro: Any) -> Any:
    """`asyncio.run` in a thread of its own: the caller's thread may already run an event loop
    (Playwright's sync API keeps one for the whole test session)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()

def view_query(minutes_earlier: int = 0, end: Any = END) -> str:
    """The query string of a page's 24h view ending `minutes_earlier` before the demo's end."""
    stop = end - timedelta(minutes=minutes_earlier)
    return urlencode(to_query_params(Filters(TimeRange(None, stop - timedelta(hours=24), stop))), doseq=True)


@dataclass
class View:
    """One page view as the client saw it: how long until the script finished, what it was sent."""
    page: str
    seconds: float
    status: str
    elements: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "FINISHED_SUCCESSFULLY" and not self.errors


class Session:
    """One browser tab's websocket session: it asks for pages one after another, as a viewer
    following the sidebar's links does (same session, a rerun of the page asked)."""

    def __init__(self, base: str, socket: ClientConnection) -> None:
        self.base = base
        self._socket = socket
        self._hashes: dict[str, str] = {}  # url path -> page_script_hash, from the server

    @classmethod
    async def open(cls, base: str) -> Session:
        socket = await connect(base.replace("http://", "ws://") + "/_stcore/stream", subprotocols=["streamlit"],
                               origin=base, max_size=None, compression=None)  # type: ignore[arg-type]
        return cls(base, socket)

    @property
    def paths(self) -> set[str]:
        """The url paths of the pages the server said it has (known after the first view)."""
        return set(self._hashes)

    async def close(self) -> None:
        await self._socket.close()

    async def view(self, page: str, query: str) -> View:
        """`page`: a page's name (a key of PAGE_PATHS), or else a url path as a link would have it."""
        path = PAGE_PATHS.get(page, page)
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = query
        if path in self._hashes:
            state.page_script_hash = self._hashes[path]
        else:
            state.page_name = path
        state.context_info.timezone = "UTC"
        state.context_info.url = f"{self.base}/{path}?{query}"
        started = time.perf_counter()
        await self._socket.send(msg.SerializeToString())
        found = View(page, 0.0, "no answer")
        async with asyncio.timeout(VIEW_TIMEOUT_S):
            while True:
                forward = ForwardMsg()
                forward.ParseFromString(await self._socket.recv())  # type: ignore[arg-type]
                kind = forward.WhichOneof("type")
                if kind == "delta":
                    self._count(forward, found)
                elif kind in ("new_session", "navigation"):
                    pages = forward.new_session.app_pages if kind == "new_session" else forward.navigation.app_pages
                    self._hashes.update({p.url_pathname: p.page_script_hash for p in pages})
                    if kind == "navigation" and forward.navigation.page_script_hash:
                        default = next((p for p in pages if p.is_default), None)
                        if default is not None:
                            self._hashes[""] = default.page_script_hash
                elif kind == "page_not_found":
                    found.errors.append(f"page not found: /{path}")
                elif kind == "script_finished":
                    found.status = ForwardMsg.ScriptFinishedStatus.Name(forward.script_finished)
                    if forward.script_finished != ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
                        break
        found.seconds = time.perf_counter() - started
        return found

    @staticmethod
    def _count(forward: ForwardMsg, found: View) -> None:
        delta = forward.delta
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type") or "none"
        found.elements[kind] += 1
        if kind == "exception":
            found.errors.append(f"exception: {element.exception.type}: {element.exception.message[:200]}")
        elif kind == "alert" and element.alert.format == Alert.ERROR:
            found.errors.append(f"error box: {element.alert.body[:200]}")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def rss_mb(pid: int, field_name: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _quantile(times: Sequence[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _summary(views: list[View], elapsed_s: float, cpu: float) -> dict[str, Any]:
    times = [v.seconds for v in views]
    return {
        "views": len(views), "errors": sum(not v.ok for v in views),
        "error_samples": [e for v in views for e in v.errors][:5],
        "views_per_s": round(len(views) / elapsed_s, 2) if elapsed_s else 0.0,
        "p50_s": round(statistics.median(times), 3) if times else None,
        "p95_s": round(_quantile(times, 0.95), 3) if times else None,
        "cpu_per_view_s": round(cpu / len(views), 4) if views else None,
        "elapsed_s": round(elapsed_s, 1),
    }


class _Ranges:
    """Fresh ranges for cold views, shared by every session: none is asked twice in a run."""

    def __init__(self) -> None:
        self._next = itertools.count(1)

    def cold(self) -> str:
        return view_query(next(self._next))


@dataclass(frozen=True)
class Server:
    name: str  # "ours" or "baseline"
    base: str
    pid: int


@dataclass
class _Tally:
    """One server's views in one run, over its turns: the times, and its CPU over its turns."""
    views: list[View] = field(default_factory=list)
    elapsed_s: float = 0.0
    cpu_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        return _summary(self.views, self.elapsed_s, self.cpu_s)


def _cpu(servers: Sequence[Server]) -> dict[str, float]:
    return {s.name: cpu_s(s.pid) for s in servers}


async def _settled_cpu(servers: Sequence[Server]) -> dict[str, float]:
    """The servers' CPU once the work a view leaves behind (sending, cleaning up) is done."""
    await asyncio.sleep(SETTLE_S)
    return _cpu(servers)


async def _one_session_per_page(servers: Sequence[Server], pages: Sequence[str], views: int,
                                query: Any) -> dict[str, dict[str, Any]]:
    """One session a server; each page `views` times, the servers taking turns view by view (the
    first alternating), so a burst of load on the shared machine lands on both. A server's CPU
    is read around its page's views as a whole: it idles during the other's turns."""
    sessions = {s.name: await Session.open(s.base) for s in servers}
    pages_found: dict[str, dict[str, dict[str, Any]]] = {s.name: {} for s in servers}
    totals = {s.name: _Tally() for s in servers}
    try:
        for page in pages:
            tallies = {s.name: _Tally() for s in servers}
            before = _cpu(servers)
            for i in range(views):
                for server in servers if i % 2 == 0 else servers[::-1]:
                    view = await sessions[server.name].view(page, query())
                    tallies[server.name].views.append(view)
                    tallies[server.name].elapsed_s += view.seconds
            after = await _settled_cpu(servers)
            for server in servers:
                tally, total = tallies[server.name], totals[server.name]
                tally.cpu_s = after[server.name] - before[server.name]
                pages_found[server.name][page] = {
                    **tally.summary(), "sent": {kind: min(v.elements[kind] for v in tally.views) for kind in SENT}}
                total.views += tally.views
                total.elapsed_s += tally.elapsed_s
                total.cpu_s += tally.cpu_s
    finally:
        for session in sessions.values():
            await session.close()
    return {name: {**totals[name].summary(), "pages": pages_found[name]} for name in sessions}


async def _drive(server: Server, pages: Sequence[str], n: int, seconds: float, query: Any, tally: _Tally,
                 most: int | None = None, rss: list[float] | None = None) -> None:
    """N sessions going round the pages from different starts until `seconds` are up (or `most`
    views are done; `rss` gets the server's memory every SOAK_SAMPLE views), into `tally`."""
    sessions = [await Session.open(server.base) for _ in range(n)]
    views: list[View] = []
    stop_at = time.perf_counter() + seconds

    async def drive(k: int, session: Session) -> None:
        for i in itertools.count(k):
            if time.perf_counter() >= stop_at or (most is not None and len(views) >= most):
                return
            views.append(await session.view(pages[i % len(pages)], query()))
            if rss is not None and len(views) % SOAK_SAMPLE == 0:
                rss.append(round(rss_mb(server.pid), 1))

    before, started = cpu_s(server.pid), time.perf_counter()
    try:
        await asyncio.gather(*(drive(k, s) for k, s in enumerate(sessions)))
    finally:
        for session in sessions:
            await session.close()
    tally.elapsed_s += time.perf_counter() - started
    tally.cpu_s += (await _settled_cpu([server]))[server.name] - before
    tally.views += views


async def _sessions(servers: Sequence[Server], pages: Sequence[str], n: int, seconds: float,
                    query: Any) -> dict[str, dict[str, Any]]:
    """N sessions on each server for `seconds` in all, the servers taking turns in ROUNDS blocks."""
    tallies = {s.name: _Tally() for s in servers}
    rounds = ROUNDS if len(servers) > 1 else 1
    for r in range(rounds):
        for server in servers if r % 2 == 0 else servers[::-1]:
            await _drive(server, pages, n, seconds / rounds, query, tallies[server.name])
    return {name: tally.summary() for name, tally in tallies.items()}


async def _warm_up(base: str, pages: Sequence[str]) -> list[str]:
    """Ask every page's 24h view once: imports done, answers in the shared cache. The pages the
    server has (a baseline commit may predate some of ours)."""
    session = await Session.open(base)
    try:
        await session.view(pages[0], view_query())
        known = [page for page in pages if PAGE_PATHS[page] in session.paths]
        for page in known:
            await session.view(page, view_query())
    finally:
        await session.close()
    return known


def _line(name: str, found: dict[str, Any]) -> str:
    return (f"{name} {found['views_per_s']} views/s, p50 {found['p50_s']} s, p95 {found['p95_s']} s, "
            f"CPU {found['cpu_per_view_s']} s a view, {found['views']} views, {found['errors']} errors")


def capacity(store: Path, sessions: Sequence[int] = SESSIONS, seconds: float = 20.0, views_per_page: int = 4,
             server_args: Sequence[str] = (), log: Any = print, soak: int = 0,
             baseline: Path | None = None) -> dict[str, Any]:
    """The app served on `store`; each N of `sessions`, cold then warm. One server for the whole
    run; its memory after it says what many views leave behind. `soak`: that many more warm views
    by SOAK_SESSIONS sessions, the server's memory read as they go (does it keep growing?).
    `baseline`: another source tree of the app (e.g. the commit before a change), served beside
    ours on the same store and measured in turns with it: "baseline" in each run."""
    pages = list(PAGE_PATHS)
    result: dict[str, Any] = {"store": store.name, "seconds": seconds, "server_args": list(server_args),
                              "load_average": {"start": [round(x, 2) for x in os.getloadavg()]}, "runs": []}
    with contextlib.ExitStack() as stack:
        base, server = stack.enter_context(served(store, args=server_args, timeout_s=120))
        servers = [Server("ours", base, server.pid)]
        if baseline is not None:
            other, process = stack.enter_context(served(store, timeout_s=120, root=baseline))
            servers.append(Server("baseline", other, process.pid))
        for one in servers:
            known = run_async(_warm_up(one.base, pages))
            if missing := [page for page in pages if page not in known]:
                result.setdefault("pages_left_out", {})[one.name] = missing
                pages = [page for page in pages if page in known]
        result["rss_after_warm_up_mb"] = round(rss_mb(server.pid), 1)
        ranges = _Ranges()
        for n in sessions:
            for cache, query in (("cold", ranges.cold), ("warm", view_query)):
                if n == 1:
                    found = run_async(_one_session_per_page(servers, pages, views_per_page, query))
                else:
                    found = run_async(_sessions(servers, pages, n, seconds, query))
                result["runs"].append({"sessions": n, "cache": cache, **found["ours"],
                                       **({"baseline": found["baseline"]} if "baseline" in found else {})})
                log(f"  {n:>2} sessions, {cache}: " + "; ".join(_line(name, f) for name, f in found.items()))
        if soak:
            rss = [round(rss_mb(server.pid), 1)]
            tally = _Tally()
            run_async(_drive(servers[0], pages, SOAK_SESSIONS, 24 * 3600.0, view_query, tally, most=soak, rss=rss))
            result["soak"] = {"sessions": SOAK_SESSIONS, "every_views": SOAK_SAMPLE, "rss_mb": rss, **tally.summary()}
            log(f"  soak: {len(tally.views)} views, RSS {rss[0]} -> {rss[-1]} MB (max {max(rss)} MB)")
        result["views"] = sum(r["views"] for r in result["runs"]) + result.get("soak", {}).get("views", 0)
        result["rss_mb"] = round(rss_mb(server.pid), 1)
        result["peak_rss_mb"] = round(rss_mb(server.pid, "VmHWM"), 1)
    result["load_average"]["end"] = [round(x, 2) for x in os.getloadavg()]
    return result


@contextlib.contextmanager
def source_tree(ref: str) -> Iterator[tuple[Path, str]]:
    """The app's files at git `ref`, in a temporary directory, and the commit it names."""
    commit = subprocess.run(["git", "rev-parse", "--short", ref], cwd=ROOT, check=True, capture_output=True,
                            text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="capacity-baseline-") as directory:
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", directory], input=archive, check=True)
        yield Path(directory), commit


def write(found: dict[str, Any], out: Path) -> None:
    """Into <out>/results.json under "capacity", by store label; results.md and the targets again."""
    from bench.report import markdown, targets

    path = out / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results.setdefault("capacity", {})[Path(found["store"]).stem] = found
    if "sizes" in results:
        results["targets"] = targets(results)
        (out / "results.md").write_text(markdown(results))
    path.write_text(json.dumps(results, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity", description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--sessions", default="1,5,20", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each N>1 run drives its sessions")
    parser.add_argument("--views-per-page", type=int, default=4, help="views of each page with one session")
    parser.add_argument("--soak", type=int, default=0, help="that many more warm views, memory read as they go")
    parser.add_argument("--baseline", metavar="GIT_REF",
                        help="serve the app at this commit beside ours and measure both in turns")
    parser.add_argument("--out", type=Path, default=ROOT / "bench", help="where results.json/.md are")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("server_args", nargs="*", help="after --: more `streamlit run` flags for the server")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        baseline, commit = stack.enter_context(source_tree(args.baseline)) if args.baseline else (None, None)
        found = capacity(args.store, args.sessions, args.seconds, args.views_per_page, args.server_args,
                         soak=args.soak, baseline=baseline)
    if commit:
        found["baseline"] = {"ref": args.baseline, "commit": commit}
    print(json.dumps({k: v for k, v in found.items() if k != "runs"}, indent=1))
    if not args.no_write:
        write(found, args.out)
    measured = [m for r in found["runs"] for m in (r, r.get("baseline")) if m is not None]
    return 0 if all(m["errors"] == 0 for m in measured) else 1


if __name__ == "__main__":
    raise SystemExit(main())
