"""`python -m bench.model_bench`: the Model page's data at each store size, against what.

    python -m bench.model_bench [--sizes 100k,1m] [--runs 3] [--out bench]

For each size (the same demo stores `python -m bench` builds): the page's batch (features, and
over time) through LocalSource, against the pandas baseline (load the payload traces, parse and
flatten every payload with `json`, compute the same metrics; bench/model_monitoring.py) and the
single-scan floor (one DuckDB pass over the columns it reads), for the last 24 hours and 7 days;
and, through the fake Logs API, the requests and answer bytes of one page view. Writes
<out>/model_results.json and <out>/model_results.md (the README's Model monitoring table).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import stores  # noqa: E402
from bench.__main__ import _machine, _sizes  # noqa: E402
from bench.baseline import floor_scan, pandas_page  # noqa: E402
from bench.data import BASELINE_BUDGET_S, RANGES, context, run_ours  # noqa: E402
from bench.timing import measure  # noqa: E402
from telemetry.queries.pages import page_queries  # noqa: E402

PAGE = "model"


def _logs_api(store: Path) -> list[dict[str, Any]]:
    from telemetry.config import LogsApiSettings
    from telemetry.results import QueryResult
    from telemetry.sources.logs_api import LogsApiSource
    from tests.fake_logs_api import WORKSPACE_ID, StaticCredential, serve

    rows = []
    with serve(store) as fake:
        source = LogsApiSource(LogsApiSettings(workspace_id=WORKSPACE_ID, endpoint=fake.endpoint), StaticCredential(),
                               enforce_https=False)
        try:
            for range_name in RANGES:
                before = len(fake.requests)
                outcomes = source.run(page_queries(PAGE), context(range_name))
                sent = fake.requests[before:]
                rows.append({"range": range_name, "http_requests": len(sent),
                             "response_bytes": sum(r.response_bytes for r in sent),
                             "json_bytes": sum(r.body_bytes for r in sent),
                             "answer_rows": sum(len(o.frame) for o in outcomes if isinstance(o, QueryResult))})
        finally:
            source.close()
    return rows


def run(sizes: list[str], runs: int, out: Path, log: Any = print) -> dict[str, Any]:
    results: dict[str, Any] = {"sizes": sizes, "runs": runs, "machine": _machine(),
                               "load_average_start": [round(x, 2) for x in os.getloadavg()], "data": {}, "logs_api": {}}
    for label in sizes:
        spec = stores.spec(label)
        record = stores.ensure(spec, log)
        rows = []
        for range_name in RANGES:
            queries, ctx = page_queries(PAGE), context(range_name)
            try:
                ours = measure(lambda: run_ours(spec.path, queries, ctx), runs)
            except RuntimeError as error:  # past LocalSource's 30 s: said, not timed
                rows.append({"range": range_name, "traces": record["rows"]["traces"], "failed": str(error)})
                log(f"  {label} {range_name}: {error}")
                continue
            floor = measure(lambda: floor_scan(spec.path, queries, ctx), runs)
            baseline = measure(lambda: pandas_page(spec.path, queries, ctx), runs, warmups=0,
                               budget_s=BASELINE_BUDGET_S)
            rows.append({"range": range_name, "traces": record["rows"]["traces"], "ours": ours.as_json(),
                         "baseline": baseline.as_json(), "floor": floor.as_json(),
                         "baseline_over_ours": round(baseline.median_s / ours.median_s, 2),
                         "ours_over_floor": round(ours.median_s / floor.median_s, 2)})
            log(f"  {label} {range_name}: ours {ours.median_s * 1000:,.0f} ms, pandas {baseline.median_s * 1000:,.0f} ms, "
                f"floor {floor.median_s * 1000:,.0f} ms")
        results["data"][label] = rows
        results["logs_api"][label] = _logs_api(spec.path)
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    out.mkdir(parents=True, exist_ok=True)
    (out / "model_results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "model_results.md").write_text(markdown(results))
    return results


def markdown(results: dict[str, Any]) -> str:
    lines = ["| store | range | ours (ms) | pandas (ms) | pandas ÷ ours | floor (ms) | ours ÷ floor | ours peak RSS (MB) |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for label in results["sizes"]:
        for row in results["data"][label]:
            if "failed" in row:
                lines.append(f"| {label} | {row['range']} | failed: {row['failed']} | | | | | |")
                continue
            lines.append(f"| {label} | {row['range']} | {row['ours']['median_s'] * 1000:,.0f} | "
                         f"{row['baseline']['median_s'] * 1000:,.0f} | {row['baseline_over_ours']:.1f} | "
                         f"{row['floor']['median_s'] * 1000:,.0f} | {row['ours_over_floor']:.1f} | "
                         f"{row['ours']['peak_rss_mb']:,.0f} |")
    lines += ["", "| store | range | Logs API requests | answer rows | JSON bytes | bytes on the wire (gzip) |",
              "| --- | --- | ---: | ---: | ---: | ---: |"]
    for label in results["sizes"]:
        for row in results["logs_api"][label]:
            lines.append(f"| {label} | {row['range']} | {row['http_requests']} | {row['answer_rows']:,} | "
                         f"{row['json_bytes']:,} | {row['response_bytes']:,} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.model_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100k,1m", type=_sizes, help="store sizes in requests (default 100k,1m)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per measurement, after a warm-up")
    parser.add_argument("--out", type=Path, default=ROOT / "bench", help="where model_results.json/.md go")
    args = parser.parse_args(argv)
    run(args.sizes, max(1, args.runs), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
