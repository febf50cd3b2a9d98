"""The capacity benchmark's client really runs the pages: over Streamlit's websocket protocol,
against the served app on the demo store, each page sends the charts, tables and headline
numbers it is made of, and the benchmark counts every view, its server CPU and no error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.capacity import PAGE_PATHS, Session, View, capacity, run_async, view_query
from bench.report import capacity_tables, capacity_targets
from scripts.run_app import ROOT, served

# What each page is made of in its default 24h view: (Plotly charts, dataframes, st.metric numbers),
# read off its panels (overview: four headline numbers, each with its sparkline, and the
# per-service table).
MUST_SEND = {
    "overview": (4, 1, 4),
    "requests": (2, 1, 3),
    "latency": (2, 2, 5),
    "failures": (3, 3, 3),
    "dependencies": (3, 1, 4),
    "exceptions": (1, 1, 0),
    "traces": (1, 0, 0),
}


@pytest.fixture(scope="module")
def found(demo_store: Path) -> dict[str, Any]:
    # The baseline is a second server of this same tree: both must be measured alike.
    return capacity(demo_store, sessions=(1, 2), seconds=2.0, views_per_page=1, log=lambda _: None,
                    baseline=ROOT)


def test_one_session_gets_every_page_with_its_charts_tables_and_numbers(found: dict[str, Any]) -> None:
    for run in (r for r in found["runs"] if r["sessions"] == 1):
        for measured in (run, run["baseline"]):
            for page, (charts, tables, metrics) in MUST_SEND.items():
                sent = measured["pages"][page]["sent"]
                assert (sent["plotly_chart"], sent["dataframe"], sent["metric"]) == (charts, tables, metrics), \
                    (run["cache"], page)


def test_every_view_finishes_without_an_error_and_costs_the_server_cpu(found: dict[str, Any]) -> None:
    assert [(r["sessions"], r["cache"]) for r in found["runs"]] == [
        (1, "cold"), (1, "warm"), (2, "cold"), (2, "warm")]
    for run in found["runs"]:
        for measured in (run, run["baseline"]):
            assert measured["views"] >= (len(PAGE_PATHS) if run["sessions"] == 1 else 2), measured
            assert measured["errors"] == 0, measured["error_samples"]
            assert measured["cpu_per_view_s"] > 0 and measured["views_per_s"] > 0
            assert measured["p50_s"] <= measured["p95_s"]
    assert found["views"] == sum(r["views"] for r in found["runs"])
    assert found["peak_rss_mb"] >= found["rss_mb"] > 0


def test_a_page_the_app_does_not_have_is_an_error_not_a_view(demo_store: Path) -> None:
    async def ask(base: str) -> View:
        session = await Session.open(base)
        try:
            return await session.view("no-such-page", view_query())
        finally:
            await session.close()

    with served(demo_store) as (base, _):
        view = run_async(ask(base))
    assert not view.ok
    assert "page not found: /no-such-page" in view.errors


def test_the_tables_show_every_run_and_page_and_the_targets_are_checked(found: dict[str, Any]) -> None:
    results = {"capacity": {"2k": found}}
    text = "\n".join(capacity_tables(results))
    assert text.count("| cold |") == text.count("| warm |") == 2
    for page in MUST_SEND:
        assert f"| {page} |" in text
    checks = {t["target"]: t for t in capacity_targets(results)}
    cpu = checks["server CPU per cached page view, every page"]
    assert cpu["worst"] == round(max(p["cpu_per_view_s"] for p in found["runs"][1]["pages"].values()) * 1000, 1)
    assert cpu["met"] == (cpu["worst"] <= 150)
