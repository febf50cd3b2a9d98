"""bench/results.md from the results: the tables the README includes, and the targets checked."""

from __future__ import annotations

from typing import Any, Final

__all__ = ["capacity_tables", "capacity_targets", "markdown", "targets"]

# The targets, on the largest store (10M requests on the 2-core reference machine).
PAGE_SECONDS: Final = 1.0
BASELINE_SPEEDUP: Final = 20.0
FLOOR_RATIO: Final = 3.0
BARE_RATIO: Final = 1.5
SERVER_MB: Final = 1024.0
# One server for a team (bench/capacity.py): the server's CPU per page view with every answer
# cached, page views a second and p95 seconds to the script's end with 20 sessions.
CACHED_VIEW_CPU_S: Final = 0.150
TEAM_SESSIONS: Final = 20
TEAM_VIEWS_PER_S: Final = 10.0
TEAM_P95_S: Final = 3.0


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}" if seconds >= 0.1 else f"{seconds * 1000:,.1f}"


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    right = ["---:" if i else "---" for i in range(len(head))]
    return ["| " + " | ".join(head) + " |", "| " + " | ".join(right) + " |",
            *("| " + " | ".join(row) + " |" for row in rows)]


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target on the largest store measured: met or not, with the figure that decides."""
    label = results["sizes"][-1]
    rows = results["data"][label]
    checks = [
        ("every page's data under 1 s median", max(r["ours"]["median_s"] for r in rows), PAGE_SECONDS, "s"),
        ("at least 20x faster than the pandas baseline",
         min(1 / r["ours_over_baseline"] for r in rows), BASELINE_SPEEDUP, "x"),
        ("within 3x of the single-scan floor", max(r["ours_over_floor"] for r in rows), FLOOR_RATIO, "ratio"),
    ]
    api = [r for size in results["sizes"] for r in results["logs_api"].get(size, [])]
    if api:
        checks.append(("Logs API: one request per page view", max(r["http_requests"] for r in api), 1, "requests"))
    found = [{"target": name, "worst": round(value, 3), "limit": limit, "unit": unit,
              "met": value >= limit if unit == "x" else value <= limit} for name, value, limit, unit in checks]
    if api:
        found.append(_size_independent(results))
    browser = results.get("browser")
    if browser and browser.get("pages"):
        worst = max(p["over_bare"] for p in browser["pages"].values())
        found.append({"target": "browser: every page drawn within 1.5x the bare page", "worst": worst,
                      "limit": BARE_RATIO, "unit": "x bare", "met": worst <= BARE_RATIO})
        server = browser["server_peak_rss_mb"]
        found.append({"target": "server memory with the store open under 1 GB", "worst": server,
                      "limit": SERVER_MB, "unit": "MB", "met": server < SERVER_MB})
    checks = [{**check, "store": label} for check in found]
    return checks + capacity_targets(results)


def capacity_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The capacity targets on the largest store the capacity benchmark ran on."""
    if not results.get("capacity"):
        return []
    label, found = _largest_capacity(results)
    runs = {(r["sessions"], r["cache"]): r for r in found["runs"]}
    checks: list[dict[str, Any]] = []
    if (one := runs.get((1, "warm"))) is not None:
        worst = max(p["cpu_per_view_s"] for p in one["pages"].values())
        checks.append({"target": "server CPU per cached page view, every page", "worst": round(worst * 1000, 1),
                       "limit": CACHED_VIEW_CPU_S * 1000, "unit": "ms", "met": worst <= CACHED_VIEW_CPU_S})
    team = [r for (n, _), r in runs.items() if n == TEAM_SESSIONS]
    if team:
        rate = min(r["views_per_s"] for r in team)
        p95 = max(r["p95_s"] for r in team)
        checks += [
            {"target": f"page views a second with {TEAM_SESSIONS} sessions, cold and warm", "worst": rate,
             "limit": TEAM_VIEWS_PER_S, "unit": "views/s", "met": rate >= TEAM_VIEWS_PER_S},
            {"target": f"p95 to the script's end with {TEAM_SESSIONS} sessions, cold and warm", "worst": p95,
             "limit": TEAM_P95_S, "unit": "s", "met": p95 < TEAM_P95_S},
            {"target": f"no failed page view with {TEAM_SESSIONS} sessions", "worst": sum(r["errors"] for r in team),
             "limit": 0, "unit": "errors", "met": all(r["errors"] == 0 for r in team)},
        ]
    return [{**check, "store": label} for check in checks]


def _largest_capacity(results: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    from bench.stores import parse_size

    label = max(results["capacity"], key=parse_size)
    return label, results["capacity"][label]


def _size_independent(results: dict[str, Any]) -> dict[str, Any]:
    """Answer bytes per answer row at the largest store over the smallest's, worst page view.

    An answer holds a row per bin and series (or a page of a listing), so its size follows bins x
    series, not the rows in the store: the bytes per answer row stay flat. The row count itself
    grows until every bin of every series has data (the exceptions page: 4x from 1M to 10M
    requests, still under its bins x problems)."""
    first, last = results["sizes"][0], results["sizes"][-1]

    def per_row(view: dict[str, Any]) -> float:
        return view["json_bytes"] / max(1, view["answer_rows"])

    small = {(r["page"], r["range"], r["scope"]): per_row(r) for r in results["logs_api"][first]}
    growth = max(per_row(r) / small[(r["page"], r["range"], r["scope"])] for r in results["logs_api"][last])
    return {"target": f"Logs API: bytes per answer row independent of store rows ({last} over {first})",
            "worst": round(growth, 2), "limit": 1.5, "unit": "x bytes/row", "met": growth <= 1.5}


def _builds(results: dict[str, Any]) -> str:
    built = [s for s in results["sizes"] if not results["stores"][s].get("reused")]
    if not built:
        return "every store reused"
    seconds = sum(results["stores"][s]["build_s"] for s in built)
    return f"of which {seconds / 60:.1f} min building the {', '.join(built)} store{'s' if len(built) > 1 else ''}"


def markdown(results: dict[str, Any]) -> str:
    sizes = results["sizes"]
    label = sizes[-1]
    load = results.get("load_average", {}).get("start", [0])[0]
    lines = [f"Measured by `python -m bench` on {results['machine']['summary']} (load average {load} at the "
             f"start: a shared machine); median of {results['runs']} runs after a warm-up, the pandas baseline "
             f"fewer when slow. Whole run: {results['total_s'] / 60:.1f} min, {_builds(results)}.", ""]
    lines += [f"**Page data, {label} store** ({results['stores'][label]['rows']['requests']:,} requests; "
              "all of a page's default panels in one batch, fresh source, no cache):", ""]
    lines += _table(
        ["page", "range", "ours ms", "pandas ms", "ours faster", "floor ms", "ours / floor", "ours MB", "pandas MB"],
        [[r["page"], r["range"], _ms(r["ours"]["median_s"]), _ms(r["baseline"]["median_s"]),
          f"{1 / r['ours_over_baseline']:.1f}x", _ms(r["floor"]["median_s"]), f"{r['ours_over_floor']:.2f}",
          f"{r['ours']['added_rss_mb']:,.0f}", f"{r['baseline']['added_rss_mb']:,.0f}"]
         for r in results["data"][label]])
    lines += ["", "**Page data by store size** (ours, median ms):", ""]
    keyed = {size: {(r["page"], r["range"]): r for r in results["data"][size]} for size in sizes}
    lines += _table(["page", "range", *sizes],
                    [[page, rng, *(_ms(keyed[s][(page, rng)]["ours"]["median_s"]) for s in sizes)]
                     for page, rng in keyed[label]])
    if any(results["logs_api"].get(s) for s in sizes):
        lines += ["", "**Logs API per page view** (the real client against the fake Logs API, workspace "
                  "scope, 24h: HTTP requests · answer rows · JSON bytes · gzip bytes on the wire):", ""]
        api = {s: {(r["page"], r["range"], r["scope"]): r for r in results["logs_api"][s]} for s in sizes}

        def cell(view: dict[str, Any]) -> str:
            return (f"{view['http_requests']} · {view['answer_rows']:,} · {view['json_bytes']:,} · "
                    f"{view['response_bytes']:,}")

        lines += _table(["page", *sizes], [[page, *(cell(api[s][(page, "24h", "workspace")]) for s in sizes)]
                                           for page, rng in keyed[label] if rng == "24h"])
    browser = results.get("browser")
    if browser and browser.get("pages"):
        lines += ["", f"**Browser** (headless Chromium, {browser['store']}, 24h, navigation to every chart "
                  f"drawn; bare page with one Plotly chart: {_ms(browser['bare_page']['median_s'])} ms):", ""]
        lines += _table(["page", "charts", "ms to drawn", "x bare page", "script run (s after navigation)"],
                        [[page, str(p["charts"]), _ms(p["median_s"]), f"{p['over_bare']:.2f}",
                          f"{p['script_start_s']:.2f} → {p['script_end_s']:.2f}"]
                         for page, p in browser["pages"].items()])
        bare = browser["bare_page"]
        lines += ["", f"The bare page's script run: {bare['script_start_s']:.2f} → {bare['script_end_s']:.2f} s "
                  "(the run counts until the browser has drawn what it sent)."]
        if small := browser.get("small_store"):
            big = browser["pages"][small["page"]]
            lines += [f"The slowest page, {small['page']}, on the {small['store']} store: {_ms(small['median_s'])} ms "
                      f"against {_ms(big['median_s'])} ms on {browser['store']}, so "
                      f"{_ms(max(0.0, big['median_s'] - small['median_s']))} ms of it is the data's."]
        lines += ["", f"Server memory with the {browser['store']} store open: {browser['server_rss_mb']:,.0f} MB "
                  f"resident after every page, peak {browser['server_peak_rss_mb']:,.0f} MB."]
    if results.get("capacity"):
        lines += capacity_tables(results)
    lines += ["", "**Stores** (demo data over 7 days, built once and reused):", ""]
    lines += _table(["store", "requests", "dependencies", "traces", "exceptions", "file MB", "build s",
                     "build peak MB"],
                    [[s, *(f"{results['stores'][s]['rows'][t]:,}" for t in
                           ("requests", "dependencies", "traces", "exceptions")),
                      f"{results['stores'][s]['file_mb']:,.0f}", f"{results['stores'][s]['build_s']:,.0f}",
                      f"{results['stores'][s]['build_peak_rss_mb']:,.0f}"] for s in sizes])
    lines += ["", f"**Targets** (on the {label} store; capacity on the {_largest_capacity(results)[0]} store):"
              if results.get("capacity") else f"**Targets** (on the {label} store):", ""]
    lines += _table(["target", "worst", "limit", "met"],
                    [[t["target"], f"{t['worst']:,} {t['unit']}", f"{t['limit']:,} {t['unit']}",
                      "yes" if t["met"] else "**no**"] for t in results["targets"]])
    return "\n".join(lines) + "\n"


def capacity_tables(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for label, found in sorted(results["capacity"].items(), key=lambda item: item[1]["store"]):
        load = found["load_average"]["start"][0]
        against = found.get("baseline")
        lines += ["", f"**Capacity, {label} store** (`python -m bench.capacity`: N sessions speaking Streamlit's "
                  f"websocket protocol to one server, 24h views, every page in turn; cold: a range no view asked "
                  f"before; warm: answers cached"
                  + (f"; baseline: the app at {against['commit']}"
                     + ("" if against["ref"] == against["commit"] else f" ({against['ref']})")
                     + ", served beside ours and measured in turns with it" if against else "")
                  + f"; load average {load} at the start):", ""]
        head = ["sessions", "answers", "page views / s", "p50 s", "p95 s", "server CPU per view ms", "views", "errors"]
        if against:
            head += ["baseline views / s", "baseline p95 s", "baseline CPU ms", "CPU ours / baseline"]

        def row(r: dict[str, Any]) -> list[str]:
            cells = [str(r["sessions"]), r["cache"], f"{r['views_per_s']:.1f}", f"{r['p50_s']:.2f}",
                     f"{r['p95_s']:.2f}", _ms(r["cpu_per_view_s"]), str(r["views"]), str(r["errors"])]
            if against:
                b = r["baseline"]
                cells += [f"{b['views_per_s']:.1f}", f"{b['p95_s']:.2f}", _ms(b["cpu_per_view_s"]),
                          f"{r['cpu_per_view_s'] / b['cpu_per_view_s']:.2f}"]
            return cells

        lines += _table(head, [row(r) for r in found["runs"]])
        single = {r["cache"]: r for r in found["runs"] if r["sessions"] == 1}
        if {"cold", "warm"} <= single.keys():
            cold, warm = single["cold"]["pages"], single["warm"]["pages"]
            lines += ["", "Per page, one session (server CPU per view in ms; p50 in s to the script's end):", ""]
            head = ["page", "CPU cold", "CPU warm", "p50 cold", "p50 warm", "charts · tables sent"]
            if against:
                head += ["baseline CPU cold", "baseline CPU warm", "warm ours / baseline"]

            def page_row(page: str) -> list[str]:
                cells = [page, _ms(cold[page]["cpu_per_view_s"]), _ms(warm[page]["cpu_per_view_s"]),
                         f"{cold[page]['p50_s']:.2f}", f"{warm[page]['p50_s']:.2f}",
                         f"{cold[page]['sent']['plotly_chart']} · {cold[page]['sent']['dataframe']}"]
                if against:
                    b_cold, b_warm = single["cold"]["baseline"]["pages"][page], single["warm"]["baseline"]["pages"][page]
                    cells += [_ms(b_cold["cpu_per_view_s"]), _ms(b_warm["cpu_per_view_s"]),
                              f"{warm[page]['cpu_per_view_s'] / b_warm['cpu_per_view_s']:.2f}"]
                return cells

            lines += _table(head, [page_row(page) for page in cold])
        for name, pages in found.get("pages_left_out", {}).items():
            lines += ["", f"Left out: {', '.join(pages)} (not pages of the {name} app)."]
        lines += ["", f"Server memory: {found['rss_after_warm_up_mb']:,.0f} MB resident after the warm-up, "
                  f"{found['rss_mb']:,.0f} MB after {found['views']:,} views, peak {found['peak_rss_mb']:,.0f} MB."]
        if soak := found.get("soak"):
            lines += [f"A soak of {soak['views']:,} more warm views by {soak['sessions']} sessions: resident memory "
                      f"every {soak['every_views']} views {' → '.join(f'{m:,.0f}' for m in soak['rss_mb'])} MB "
                      f"({soak['views_per_s']:.1f} views/s, {_ms(soak['cpu_per_view_s'])} ms CPU a view)."]
    return lines
