"""Headline changes read as a person would say them."""

from __future__ import annotations

from components.metrics import _change
from telemetry.comparison import change


def test_a_change_is_a_signed_percentage_of_the_previous_period() -> None:
    assert _change(change(110, 100)) == "+10.0% vs previous period"
    assert _change(change(50, 100)) == "-50.0% vs previous period"


def test_a_change_past_tenfold_is_a_multiple_not_a_huge_percentage() -> None:
    assert _change(change(22_500, 100)) == "225× previous period"


def test_no_change_is_given_against_a_period_that_had_none() -> None:
    assert _change(change(5, 0)) is None


def test_a_change_within_the_resolution_reads_as_no_change() -> None:
    assert _change(change(101, 100, 0.02)) == "no change"
