"""Colours carry meaning: red only for failure, result codes by class, severities in order, and a
series (a service) the same colour on every page and in every process."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from components.charts import series_chart
from components.colours import SEVERITY_COLOURS, code_colour, series_colour
from tests.apptest import run_page, window_params

RED, AMBERS = "#d62728", {"#e69f00", "#f5b942", "#c98500"}


def _frame(series: list[str]) -> pd.DataFrame:
    bucket = pd.Timestamp("2026-11-20T10:00Z")
    return pd.DataFrame({"bucket": [bucket] * len(series), "series": series, "n": [1.0] * len(series)})


def test_result_codes_take_their_class_colour() -> None:
    assert code_colour("200").startswith("#") and code_colour("200") in {"#2e8540", "#4caf50", "#81c784"}
    assert {code_colour(c) for c in ("400", "404", "429")} <= AMBERS
    assert {code_colour(c) for c in ("500", "502", "503", "504")} <= {RED, "#a50f15", "#ef6461"}
    assert code_colour("garbage") == "#7f7f7f"


def test_a_service_keeps_its_colour_in_another_process_and_is_never_red_or_amber() -> None:
    names = ["churn-regressor", "fraud-scorer", "image-classifier", "POST /score", "GET /"]
    here = [series_colour(n) for n in names]
    there = subprocess.run([sys.executable, "-c", "import json,sys; from components.colours import series_colour;"
                            f"print(json.dumps([series_colour(n) for n in {names!r}]))"],
                           cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, check=True)
    assert json.loads(there.stdout) == here  # not Python's salted hash()
    assert not ({RED} | AMBERS) & set(here)


def test_severities_stack_in_their_order_with_their_colours() -> None:
    figure = series_chart(_frame(["Warning", "Critical", "Information", "Error", "Verbose"]), "n", y_title="traces",
                          palette="severity")
    assert [t.name for t in figure.data] == list(SEVERITY_COLOURS)
    assert [t.marker.color for t in figure.data] == list(SEVERITY_COLOURS.values())


def test_the_same_service_has_the_same_colour_on_two_pages(app_env: Path, demo_end: datetime) -> None:
    params = window_params(demo_end - timedelta(days=1), demo_end)
    colours = {}
    for page, key in (("pages/requests.py", "requests.rate.chart"), ("pages/failures.py", "failures.failed.chart")):
        at = run_page(page, **params)
        (chart,) = [c for c in at.get("plotly_chart") if c.key.startswith(key)]
        colours[page] = {t["name"]: t["marker"]["color"] for t in json.loads(chart.proto.spec)["data"]}
    shared = set(colours["pages/requests.py"]) & set(colours["pages/failures.py"])
    assert shared and all(colours["pages/requests.py"][s] == colours["pages/failures.py"][s] for s in shared)


def test_durations_over_ten_seconds_read_in_seconds_and_counts_have_separators(
    app_env: Path, demo_store: Path, demo_end: datetime
) -> None:
    from telemetry.queries.latency import SLOWEST
    from tests.store_answers import local_answer, window_filters

    start = demo_end - timedelta(days=7)
    slowest = local_answer(demo_store, SLOWEST, window_filters(start, demo_end))
    assert slowest["duration"].max() > 10_000, "the demo's incident has timeouts"
    at = run_page("pages/latency.py", **window_params(start, demo_end))
    table = at.dataframe[-1]
    assert list(table.value["duration"]) == list(slowest["duration"] / 1000)
    config = json.loads(table.proto.columns)
    assert config["duration"]["label"] == "Duration (s)"
    at = run_page("pages/requests.py", **window_params(start, demo_end))
    operations = json.loads(at.dataframe[0].proto.columns)
    assert operations["Requests"]["type_config"]["format"] == "localized"
