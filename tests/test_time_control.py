"""Time control: an absolute date-time range beside the presets, written to the URL's from/to;
links to one request or sample open a frozen window around it (whatever range they were found in)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from tests.apptest import run_page, texts, window_params

PAGE = "pages/requests.py"


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _picker(at, label: str):  # type: ignore[no-untyped-def]
    (found,) = [d for d in at.datetime_input if d.label == label]
    return found


def test_an_absolute_range_shows_its_from_and_to_and_a_new_start_goes_into_the_url(
    app_env: Path, demo_end: datetime
) -> None:
    at = run_page(PAGE, **window_params(demo_end - timedelta(days=2), demo_end))
    assert _picker(at, "From (UTC)").value == (demo_end - timedelta(days=2)).replace(tzinfo=None)
    assert _picker(at, "To (UTC)").value == demo_end.replace(tzinfo=None)
    at = _picker(at, "From (UTC)").set_value(datetime(2026, 11, 19, 6, 30)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.query_params["from"] == "2026-11-19T06:30:00Z"
    assert at.query_params["to"] == "2026-11-20T12:00:00Z"
    assert any("2026-11-19T06:30:00Z → 2026-11-20T12:00:00Z" in c for c in texts(at, "caption"))


def test_choosing_custom_after_a_preset_freezes_its_window_for_the_pickers(app_env: Path) -> None:
    at = run_page(PAGE, range="6h")
    assert not at.datetime_input, "a preset shows no pickers"
    (time_range,) = [s for s in at.selectbox if s.label == "Time range"]
    at = time_range.set_value("custom").run()
    assert not at.exception, [e.value for e in at.exception]
    start, end = _instant(at.query_params["from"]), _instant(at.query_params["to"])
    assert end - start == timedelta(hours=6) and "range" not in at.query_params
    assert _picker(at, "To (UTC)").value == end.replace(tzinfo=None)


def test_a_range_that_ends_before_it_starts_is_refused_with_a_message(app_env: Path, demo_end: datetime) -> None:
    params = window_params(demo_end - timedelta(days=2), demo_end)
    at = run_page(PAGE, **params)
    at = _picker(at, "From (UTC)").set_value(datetime(2026, 11, 21, 0, 0)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert _instant(at.query_params["from"]) == demo_end - timedelta(days=2), "the last valid range stays"
    assert any("must end after it starts" in w for w in texts(at, "warning"))


def _link_window(url: str) -> tuple[datetime, datetime, str]:
    query = parse_qs(urlsplit(url).query)
    return _instant(query["from"][0]), _instant(query["to"][0]), query["op"][0]


def _assert_around(url: str, moment: datetime) -> None:
    start, end, _ = _link_window(url)
    assert start <= moment < end
    assert timedelta(hours=2) <= end - start <= timedelta(hours=2, minutes=1)


def test_links_to_the_slowest_requests_carry_a_frozen_window_around_each_request(
    app_env: Path, demo_end: datetime
) -> None:
    at = run_page("pages/latency.py", **window_params(demo_end - timedelta(days=7), demo_end))
    slowest = at.dataframe[-1].value
    assert len(slowest) > 5
    for url, moment, op in zip(slowest["end_to_end"], slowest["timestamp"], slowest["operation_Id"], strict=True):
        _assert_around(url, pd.Timestamp(moment).tz_localize("UTC").to_pydatetime())
        assert _link_window(url)[2] == op


def test_links_to_exception_samples_carry_a_frozen_window_around_each_sample(
    app_env: Path, demo_end: datetime
) -> None:
    at = run_page("pages/exceptions.py", **window_params(demo_end - timedelta(days=7), demo_end),
                  problem="ValueError at score.run")
    samples = at.dataframe[-1].value
    for url, moment in zip(samples["end_to_end"], samples["timestamp"], strict=True):
        _assert_around(url, pd.Timestamp(moment).tz_localize("UTC").to_pydatetime())


def test_a_search_result_opens_its_operation_in_a_frozen_window_around_it(app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/traces.py", **window_params(demo_end - timedelta(days=7), demo_end), q="prediction")
    (button, *_) = [b for b in at.button if b.label == "Show this operation end to end"]
    at = button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    start, end = _instant(at.query_params["from"]), _instant(at.query_params["to"])
    assert end - start <= timedelta(hours=2, minutes=1) and end <= demo_end + timedelta(hours=1, minutes=1)
    assert at.query_params["op"] and "pg" not in at.query_params
    assert any(c.value.endswith("as points.") for c in at.caption), "the operation's timeline is drawn"


TIME_CHARTS = {
    "pages/requests.py": ("requests.rate.chart", "requests.outcome.chart"),
    "pages/latency.py": ("latency.over_time.chart",),
    "pages/failures.py": ("failures.rate.chart", "failures.failed.chart", "failures.codes_over_time.chart"),
    "pages/dependencies.py": ("dependencies.over_time.chart",),
    "pages/exceptions.py": ("exceptions.over_time.chart",),
    "pages/traces.py": ("traces.histogram.chart",),
    "pages/overview.py": ("overview.requests.trend", "overview.failure_rate.trend", "overview.p95.trend"),
}


@pytest.mark.parametrize("page", list(TIME_CHARTS))
def test_time_charts_span_the_whole_window_even_where_the_data_stops(
    app_env: Path, demo_end: datetime, page: str
) -> None:
    # the demo's data stops at demo_end, half way through this window: the axis must not stop there
    start, end = demo_end - timedelta(hours=12), demo_end + timedelta(hours=12)
    at = run_page(page, **window_params(start, end))
    assert not at.exception, [e.value for e in at.exception]
    # a chart a click chooses from has the view's hash after its key
    axes = {chart.key: json.loads(chart.proto.spec)["layout"]["xaxis"] for chart in at.get("plotly_chart")}
    for key in TIME_CHARTS[page]:
        axis = next(a for k, a in axes.items() if k.startswith(key))
        assert axis["range"] == [f"{start:%Y-%m-%dT%H:%M:%S}", f"{end:%Y-%m-%dT%H:%M:%S}"], key


def test_bins_with_too_few_requests_for_a_p95_or_p99_are_left_out_and_said(
    app_env: Path, demo_store: Path, demo_end: datetime
) -> None:
    from telemetry.queries.latency import MIN_REQUESTS, OVER_TIME, thin_bins
    from tests.store_answers import local_answer, window_filters

    filters = window_filters(demo_end - timedelta(hours=6), demo_end, grain="5m")
    frame, lost = thin_bins(local_answer(demo_store, OVER_TIME, filters))
    for column, needed in MIN_REQUESTS.items():
        assert frame.loc[frame["requests"] < needed, column].isna().all()
        assert frame.loc[frame["requests"] >= needed, column].notna().all()
        assert lost[column] == (frame["requests"] < needed).sum() > 0
    at = run_page("pages/latency.py", **window_params(demo_end - timedelta(hours=6), demo_end), grain="5m")
    assert any(f"p99 in {lost['p99_ms']:,} (under 100)" in c for c in texts(at, "caption"))
