"""Trace search as it reads: the total number of hits, the search text in bold (escaped, never
formatting from telemetry), the line of a message that says something, and the payload view
opening on the busiest service."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from components.telemetry_rows import marked, trace_title
from telemetry.queries.traces import TraceSearch, search_histogram
from telemetry.stacks import telling_line
from tests.apptest import run_page, texts, window_params
from tests.store_answers import local_answer, window_filters

TRACEBACK = """Traceback (most recent call last):
  File "/var/azureml-app/score.py", line 47, in run
    data = json.loads(raw_data)
  File "/usr/lib/python3.11/json/__init__.py", line 346, in loads
    return _default_decoder.decode(s)
json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)
"""


def test_a_traceback_reads_as_its_exception_line() -> None:
    assert telling_line(TRACEBACK) == "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)"
    chained = TRACEBACK + "\nDuring handling of the above exception, another exception occurred:\n\n" + \
        TRACEBACK.replace("json.decoder.JSONDecodeError: Expecting value", "ValueError: bad input")
    assert telling_line(chained).startswith("ValueError: bad input")
    assert telling_line("\n\n  prediction: 0.93\nmore") == "prediction: 0.93"


def test_a_trace_title_shows_the_exception_line_not_traceback() -> None:
    row = {"timestamp": pd.Timestamp("2026-11-20T10:00:00Z"), "severityLevel": 3, "cloud_RoleName": "churn",
           "message": TRACEBACK}
    title = trace_title(row)
    assert "JSONDecodeError" in title and "Traceback (most recent call last)" not in title


def test_the_match_is_bold_and_the_rest_stays_text() -> None:
    assert marked("Score failed for Prediction id", "prediction") == "Score failed for **Prediction** id"
    hostile = marked("**x** [link](https://evil) <b>prediction</b>", "prediction")
    assert "**Prediction**" not in hostile and "**prediction**" in hostile
    assert "\\*\\*x\\*\\*" in hostile and "\\[link\\]" in hostile  # escaped, so they show as typed
    assert marked("a*b", "*") == "a**\\***b"


def test_the_search_says_how_many_traces_match_in_all(app_env: Path, demo_store: Path, demo_end: datetime) -> None:
    start = demo_end - timedelta(days=7)
    search = TraceSearch(text="prediction")
    total = int(local_answer(demo_store, search_histogram(search), window_filters(start, demo_end))["traces"].sum())
    assert total > 50
    at = run_page("pages/traces.py", **window_params(start, demo_end), q="prediction")
    assert not at.exception, [e.value for e in at.exception]
    assert any(c.startswith(f"{total:,} matching traces in") and "showing 1–50" in c for c in texts(at, "caption"))
    dogs = run_page("pages/traces.py", **window_params(start, demo_end), q="dog")  # in the printed label
    titles = [e.label for e in dogs.expander if "dog" in e.label.lower()]
    assert titles and all("**dog**" in t for t in titles)


def test_the_payload_view_opens_on_the_busiest_service(app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/traces.py", **window_params(demo_end - timedelta(days=1), demo_end), view="payloads")
    assert not at.exception, [e.value for e in at.exception]
    (chooser,) = [s for s in at.selectbox if s.label == "Service"]
    assert chooser.value == chooser.options[0]
    assert at.dataframe, "the busiest service's payloads are shown, not a blank page"
