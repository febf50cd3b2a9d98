"""The benchmark's floor is a floor: it reads what the page's aggregates must read and no more, and
ours, the floor and the baseline are timed in turns, not in blocks."""

from __future__ import annotations

from bench.columns import page_reads
from bench.data import context
from bench.timing import measure_interleaved
from telemetry.model import Listing
from telemetry.queries.latency import page_view


def test_the_floor_leaves_out_what_a_top_listing_shows_but_reads_what_it_filters_and_orders_by() -> None:
    queries, ctx = page_view(), context("24h")  # the latency page: its 20 slowest requests
    listing = next(q for q in queries if isinstance(q, Listing))
    floor = page_reads(queries, ctx, listed=False)["requests"].columns
    baseline = page_reads(queries, ctx)["requests"].columns
    # Shown in the 20 rows only, read by no aggregate of the page (resultCode is read by every one:
    # it tells the inference server's rows, whose own duration is in their properties):
    assert {"operation_Id", "resultCode"} <= baseline and "operation_Id" not in floor and "resultCode" in floor
    # a derived column (req_duration) is read through the stored one it comes from (duration)
    assert {name.removeprefix("req_") for name, _ in listing.order_by} | {"duration", "itemCount", "timestamp"} <= floor


def test_calls_are_timed_in_turns_each_starting_a_turn_in_its_own_round() -> None:
    order: list[str] = []
    timed = measure_interleaved({name: (lambda n=name: order.append(n)) for name in "abc"}, 3,
                                warmups={"a": 0, "b": 0, "c": 0}, budgets={})
    assert order == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert all(len(t.runs_s) == 3 and t.peak_rss_mb > 0 for t in timed.values())


def test_a_call_over_its_budget_stops_taking_turns_the_others_go_on() -> None:
    order: list[str] = []
    timed = measure_interleaved({"slow": lambda: order.append("slow"), "fast": lambda: order.append("fast")}, 4,
                                warmups={"slow": 0, "fast": 1}, budgets={"slow": 0.0})
    assert order.count("slow") == 1 and order.count("fast") == 1 + 4
    assert len(timed["slow"].runs_s) == 1 and len(timed["fast"].runs_s) == 4
