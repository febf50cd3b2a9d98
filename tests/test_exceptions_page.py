"""The exceptions page: groups, what is new, one group's samples and stack, against pandas on the
demo rows; hostile group names and unreadable details through AppTest."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest

from components.filters import around
from telemetry.demo import INCIDENT_SERVICE, incident_window
from telemetry.filters import Filters, TimeRange
from telemetry.kql import render_kql
from telemetry.model import RenderContext
from telemetry.queries.exceptions import GROUPS, OVER_TIME, SAMPLE_LIMIT, group_table, samples_listing
from tests import hostile_store
from tests.store_answers import local_answer as _answer
from tests.store_answers import window_filters as _filters
from tests.apptest import run_page
from tests.conftest import DEMO_DAYS
from tests.kusto import assert_valid_kql, check_kql

KEYS = ["problemId", "type", "cloud_RoleName"]
SAMPLED = "fraud-scorer"  # the demo's sampled service: its rows carry itemCount > 1


def _window(start: datetime, end: datetime, **kwargs: object) -> Filters:
    return Filters(TimeRange(None, start, end), **kwargs)  # type: ignore[arg-type]


def _rows(exceptions: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    return exceptions[(exceptions["timestamp"] >= start) & (exceptions["timestamp"] < end)]


def _expected_groups(exceptions: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    rows = _rows(exceptions, start, end)
    groups = rows.groupby(KEYS).agg(exceptions=("itemCount", "sum"), distinct=("operation_Id", "nunique"),
                                    mean_items=("itemCount", "mean"), first_seen=("timestamp", "min"),
                                    last_seen=("timestamp", "max"))
    # each affected request weighs the group's mean itemCount, rounded half away from zero
    groups["operations"] = np.floor(groups["distinct"] * groups["mean_items"] + 0.5).astype(int)
    return groups


def test_groups_count_item_counts_weighted_distinct_requests_and_first_and_last_seen_like_pandas(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    start = demo_end - timedelta(days=2)
    table = group_table(_answer(demo_store, GROUPS, _window(start, demo_end)))
    want = _expected_groups(demo_frames["exceptions"], start, demo_end)
    got = table.rename(columns={"problem": "problemId", "service": "cloud_RoleName"}).set_index(KEYS).sort_index()
    assert len(got) == len(want) > 3
    assert list(got["exceptions"]) == list(want["exceptions"])
    assert list(got["operations"]) == list(want["operations"])
    assert list(got["first_seen"]) == list(want["first_seen"]) and list(got["last_seen"]) == list(want["last_seen"])
    sampled = got.xs(SAMPLED, level="cloud_RoleName")
    assert (sampled["operations"] > want.xs(SAMPLED, level="cloud_RoleName")["distinct"]).all(), \
        "a sampled service's affected requests stand for several requests, like its exceptions"


def test_a_sampled_service_has_as_many_exceptions_per_affected_request_as_the_others(
    demo_store: Path, demo_end: datetime
) -> None:
    table = group_table(_answer(demo_store, GROUPS, _window(demo_end - timedelta(days=7), demo_end)))
    per_request = table.groupby(table["service"] == SAMPLED)[["exceptions", "operations"]].sum()
    ratio = per_request["exceptions"] / per_request["operations"]
    assert ratio[True] == pytest.approx(ratio[False], rel=0.25), ratio  # both near one exception a request


def test_a_group_is_new_exactly_when_it_had_no_exception_in_the_period_before(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    _, stop = incident_window(demo_end, DEMO_DAYS)
    start = stop - timedelta(hours=12)  # the incident's last 12 hours, against the 12 before
    table = group_table(_answer(demo_store, GROUPS, _window(start, stop)))
    before = _rows(demo_frames["exceptions"], start - (stop - start), start)
    seen_before = set(before[KEYS].itertuples(index=False, name=None))
    for row in table.itertuples():
        previous = before[(before["problemId"] == row.problem) & (before["cloud_RoleName"] == row.service)
                          & (before["type"] == row.type)]
        assert row.previous == previous["itemCount"].sum()
        assert row.new == ((row.problem, row.type, row.service) not in seen_before)
    new = table[table["new"]]
    assert {"MemoryError at score.run"} <= set(new.loc[new["service"] == INCIDENT_SERVICE, "problem"])
    assert not table["new"].all(), "some groups were already there before the incident"


def test_exceptions_over_time_sum_item_counts_per_bin_problem_and_service(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    filters = _window(demo_end - timedelta(days=3), demo_end, grain="1h")
    got = _answer(demo_store, OVER_TIME, filters)
    rows = _rows(demo_frames["exceptions"], demo_end - timedelta(days=3), demo_end)
    want = rows.groupby([rows["timestamp"].dt.floor("1h"), *KEYS])["itemCount"].sum()
    got = got.set_index(["bucket", "problem", "type", "service"])["exceptions"].sort_index()
    assert list(got) == list(want) and list(got.index) == list(want.index)


def test_samples_are_the_newest_exceptions_of_the_chosen_problem(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    start = demo_end - timedelta(days=7)
    got = _answer(demo_store, samples_listing("ValueError at score.run"), _window(start, demo_end))
    rows = _rows(demo_frames["exceptions"], start, demo_end)
    want = rows[rows["problemId"] == "ValueError at score.run"].sort_values("timestamp", ascending=False)
    assert len(got) == SAMPLE_LIMIT
    assert list(got["operation_Id"]) == list(want["operation_Id"].head(SAMPLE_LIMIT))


HOSTILE_PROBLEMS = ('x" or 1==1 //', "it's\\", "a\nb\tc", "KeyError at score.run | take 1", "ünï 😀")


def test_every_exception_query_passes_kusto_in_both_schemas(demo_end: datetime) -> None:
    ctx = RenderContext.of(_window(demo_end - timedelta(days=1), demo_end, services=("churn-regressor",)))
    queries = [OVER_TIME, GROUPS, *(samples_listing(p) for p in HOSTILE_PROBLEMS)]
    assert_valid_kql([(schema, render_kql(q, ctx, schema)) for q in queries for schema in ("classic", "workspace")])


@pytest.mark.parametrize("schema", ["classic", "workspace"])
def test_a_hostile_problem_id_comes_back_from_kustos_parser_as_exactly_one_literal(
    demo_end: datetime, schema: str
) -> None:
    ctx = RenderContext.of(_window(demo_end - timedelta(days=1), demo_end))
    checks = check_kql([(schema, render_kql(samples_listing(p), ctx, schema)) for p in HOSTILE_PROBLEMS])
    for problem, check in zip(HOSTILE_PROBLEMS, checks, strict=True):
        assert check.ok, str(check)
        assert check.string_literals.count(problem) == 1


# --- the page ---------------------------------------------------------------------------------


def _range(start: datetime, end: datetime) -> dict[str, str]:
    return {"from": start.strftime("%Y-%m-%dT%H:%MZ"), "to": end.strftime("%Y-%m-%dT%H:%MZ")}


def _shown(at) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "code", "warning", "info", "error", "text")
                     for e in at.get(kind))


def test_the_page_shows_a_groups_messages_stack_and_links_to_its_requests(
    app_env: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    start = demo_end - timedelta(days=7)
    at = run_page("pages/exceptions.py", **_range(start, demo_end), problem="ReadTimeout at score.run")
    assert not at.exception, [e.value for e in at.exception]
    rows = _rows(demo_frames["exceptions"], start, demo_end)
    newest = rows[rows["problemId"] == "ReadTimeout at score.run"].sort_values("timestamp").iloc[-1]
    shown = _shown(at)
    assert "Outer message" in shown and "Innermost message" in shown and "ReadTimeoutError" in shown
    assert json.loads(newest["details"])[0]["rawStack"] in [c.value for c in at.code]
    (link,) = [p for p in at.get("page_link") if p.proto.label == "Open the newest sample end to end"]
    assert link.proto.page == "trace-explorer"  # in a frozen window around the newest sample, its operation
    window = around(newest["timestamp"].to_pydatetime())
    assert parse_qs(link.proto.query_string) == {"from": [f"{window.start:%Y-%m-%dT%H:%M:%SZ}"],
                                                 "to": [f"{window.end:%Y-%m-%dT%H:%M:%SZ}"],
                                                 "op": [newest["operation_Id"]]}
    groups, samples = (df.value for df in at.dataframe)
    assert "ReadTimeout at score.run" in set(groups["problemId"])
    ops = [parse_qs(urlsplit(url).query)["op"][0] for url in samples["end_to_end"]]
    assert ops == list(rows[rows["problemId"] == "ReadTimeout at score.run"]
                       .sort_values("timestamp", ascending=False)["operation_Id"].head(SAMPLE_LIMIT))
    assert all(urlsplit(url).path == "trace-explorer" for url in samples["end_to_end"])


@pytest.mark.parametrize("problem", [*HOSTILE_PROBLEMS, "x" * 100_000, "[" * 10_000, "\ufffd caf%E9"])
def test_a_hostile_problem_parameter_gives_a_clear_message(app_env: Path, demo_end: datetime, problem: str) -> None:
    at = run_page("pages/exceptions.py", **_range(demo_end - timedelta(days=1), demo_end), problem=problem)
    assert not at.exception, [e.value for e in at.exception]
    shown = _shown(at)
    assert "Ignored `problem`" in shown or "No exceptions with problemId" in shown


def test_a_megabyte_url_still_opens_the_page(app_env: Path) -> None:
    # Streamlit itself drops a query string over 512 KB, so the page opens with its defaults.
    at = run_page("pages/exceptions.py", problem="x" * 1_000_000)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Exceptions"


@pytest.fixture(scope="module")
def hostile_env(tmp_path_factory: pytest.TempPathFactory, demo_end: datetime) -> Path:
    return hostile_store.build_hostile_store(tmp_path_factory.mktemp("hostile") / "hostile.duckdb", demo_end)


@pytest.mark.parametrize("problem", list(hostile_store.BAD_DETAILS))
def test_unreadable_details_show_why_and_the_page_keeps_working(
    hostile_env: Path, monkeypatch: pytest.MonkeyPatch, demo_end: datetime, problem: str
) -> None:
    monkeypatch.setenv("ENDPOINT_MONITOR_STORE", str(hostile_env))
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    at = run_page("pages/exceptions.py", **_range(demo_end - timedelta(days=1), demo_end), problem=problem)
    assert not at.exception, [e.value for e in at.exception]
    shown = _shown(at)
    assert "Stack trace" in shown
    readable = problem.startswith(("Surrogate", "Mojibake"))
    assert ("could not be read" in shown) != readable, shown[-500:]
    assert "Showing the first" in shown or problem != 'Cut"Problem | take 1'  # its outer message is 1 MB
