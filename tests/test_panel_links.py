"""`?panel=` shows one panel alone; an id that is not on the page says so and lists the valid ones.
(The compact `?embed=true` layout is Streamlit's embed mode, which only a browser sets: tests/browser.)"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from tests.apptest import run_page, texts, window_params


def test_an_unknown_panel_id_says_so_and_lists_the_pages_panels(app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/latency.py", **window_params(demo_end - timedelta(days=1), demo_end), panel="no.such")
    assert not at.exception, [e.value for e in at.exception]
    (warning,) = [w for w in texts(at, "warning") if "panel" in w.lower()]
    assert warning.startswith("There is no panel no.such on this page. Panels on this page:")
    for panel in ("latency.totals", "latency.over_time", "latency.distribution", "latency.slowest"):
        assert f"`{panel}`" in warning


def test_another_pages_panel_id_names_the_page_it_is_on(app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/requests.py", **window_params(demo_end - timedelta(days=1), demo_end),
                  panel="latency.over_time")
    (warning,) = [w for w in texts(at, "warning") if "panel" in w.lower()]
    assert warning.startswith("Panel latency.over_time is on the Latency page, not this one.")
    assert "`requests.rate`" in warning


def test_a_panel_of_the_page_is_shown_alone_without_a_warning(app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/latency.py", **window_params(demo_end - timedelta(days=1), demo_end),
                  panel="latency.over_time")
    assert not [w for w in texts(at, "warning") if "panel" in w.lower()]
    assert len(at.get("plotly_chart")) == 1

