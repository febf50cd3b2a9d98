"""Filters survive a trip through the URL, and a garbled URL still opens a working view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry.filters import (
    GRAINS,
    MAX_BINS,
    PRESETS,
    Filters,
    TimeRange,
    auto_grain,
    from_query_params,
    to_query_params,
)

NOW = datetime(2026, 11, 20, 12, 34, 56, tzinfo=UTC)


@pytest.mark.parametrize(
    "filters",
    [
        Filters(),
        Filters(TimeRange(preset="7d"), services=("churn-regressor", "image-classifier")),
        Filters(TimeRange(None, datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, 6, tzinfo=UTC))),
        Filters(operation='POST /score"; drop', result_code="503", grain="15m", split="operation"),
        Filters(services=("a service with spaces & ünïcode",)),
    ],
    ids=["defaults", "preset and services", "absolute range", "hostile operation", "unicode service"],
)
def test_filters_round_trip_through_url_params(filters: Filters) -> None:
    parsed, warnings = from_query_params(to_query_params(filters))
    assert warnings == []
    assert parsed == filters


def test_default_filters_make_an_empty_query_string() -> None:
    assert to_query_params(Filters()) == {}


def test_relative_range_ends_with_the_current_minute_and_stays_relative() -> None:
    window = TimeRange(preset="1h").resolve(NOW)
    assert window.end == datetime(2026, 11, 20, 12, 35, tzinfo=UTC)  # rows of the minute in progress show
    assert window.length == timedelta(hours=1)
    assert "range" in to_query_params(Filters(TimeRange(preset="1h")))


def test_previous_window_has_the_same_length_and_ends_where_this_one_starts() -> None:
    window = TimeRange(preset="6h").resolve(NOW)
    previous = window.previous()
    assert previous.end == window.start and previous.length == window.length


@pytest.mark.parametrize("preset", list(PRESETS))
def test_automatic_grain_keeps_a_chart_at_or_under_300_bins(preset: str) -> None:
    length = PRESETS[preset]
    grain = auto_grain(length)
    assert length / grain <= MAX_BINS
    finer = [g for g in GRAINS.values() if g < grain]
    assert all(length / g > MAX_BINS for g in finer), "the finest grain that fits is chosen"


def test_explicit_grain_overrides_the_automatic_one() -> None:
    filters = Filters(TimeRange(preset="24h"), grain="1h")
    assert filters.grain_for(filters.window(NOW)) == timedelta(hours=1)


@pytest.mark.parametrize(
    ("params", "warning_fragment"),
    [
        ({"range": "99y"}, "range"),
        ({"from": "yesterday", "to": "today"}, "from"),
        ({"from": "2026-11-02T00:00Z", "to": "2026-11-01T00:00Z"}, "before"),
        ({"grain": "7s"}, "grain"),
        ({"split": "region"}, "split"),
        ({"operation": "x" * 5000}, "operation"),
        ({"service": "bad\x00name"}, "service"),
        ({"range": "30d", "grain": "1m"}, "bins"),
    ],
)
def test_an_invalid_parameter_falls_back_to_the_default_with_a_warning(
    params: dict[str, str], warning_fragment: str
) -> None:
    filters, warnings = from_query_params(params)
    assert len(warnings) == 1 and warning_fragment in warnings[0]
    assert isinstance(filters, Filters)


def test_services_can_be_repeated_or_comma_separated_and_duplicates_drop() -> None:
    filters, _ = from_query_params({"service": ["a,b", "b", " c "]})
    assert filters.services == ("a", "b", "c")


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=12), st.lists(st.text(max_size=80), max_size=3), max_size=8))
def test_any_url_parameters_parse_without_raising(params: dict[str, list[str]]) -> None:
    filters, warnings = from_query_params(params)
    assert isinstance(filters, Filters) and all(isinstance(w, str) for w in warnings)
    reparsed, again = from_query_params(to_query_params(filters))
    assert reparsed == filters and again == []
