"""The deployments page over the demo's online endpoint logs: every number against an independent
pandas computation on the store's rows, the demo's story (blue to green, green slower and failing,
one green instance crash-looping) visible in them, every KQL string through Kusto's language
service on the workspace schema, a classic resource told the tables are not there, the page
through AppTest, and one request a page view through the fake Logs API.

Tolerances: counts, means and maxima are exact; percentiles come from the store's log-bucket
histogram, within 0.995 % of the exact nearest-rank percentile (tests/weighted.py), with every
request weighing 1 (these logs are not sampled).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from components.connect import endpoint_logs_note
from telemetry.config import LogsApiSettings
from telemetry.demo import endpoints as demo
from telemetry.endpoint_logs import CONSOLE_LOG, ENDPOINT_LOG_TABLES, EVENT_LOG, TRAFFIC_LOG, diagnostic_setting_hint
from telemetry.errors import WorkspaceOnlyError
from telemetry.filters import Filters
from telemetry.kql import render_kql
from telemetry.model import RenderContext
from telemetry.queries import deployments as q
from telemetry.sources.logs_api import detect_services
from telemetry.sql import render_sql
from tests.apptest import run_page, texts, window_params
from tests.azure_login import configure, day, fake, signed_in  # noqa: F401 (fixtures)
from tests.fake_logs_api import RESOURCE_ID, WORKSPACE_ID, FakeLogsApi, StaticCredential
from tests.kusto import assert_valid_kql, check_kql
from tests.store_answers import endpoint_frames, local_answer, window_filters
from tests.weighted import close_in_log, weighted_percentile

DEPLOYMENTS = ("blue", "green")


@pytest.fixture(scope="module")
def logs(demo_store: Path) -> dict[str, pd.DataFrame]:
    """Every row of the three endpoint tables, straight from the store."""
    return endpoint_frames(demo_store)


@pytest.fixture(scope="module")
def week(demo_end: datetime) -> Filters:
    return window_filters(demo_end - timedelta(days=7), demo_end)


def _in(frame: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    window = filters.window()
    return frame[(frame["TimeGenerated"] >= window.start) & (frame["TimeGenerated"] < window.end)]


def _bins(frame: pd.DataFrame, filters: Filters) -> pd.Series:
    return frame["TimeGenerated"].dt.floor(RenderContext.of(filters).grain)


# --- numbers against pandas ----------------------------------------------------------------------


def test_traffic_per_bin_and_deployment_counts_every_request_and_every_failed_one(
        demo_store: Path, logs: dict[str, pd.DataFrame], week: Filters) -> None:
    got = local_answer(demo_store, q.traffic(), week)
    rows = _in(logs[TRAFFIC_LOG], week)
    expected = rows.assign(bucket=_bins(rows, week), failed=rows["ResponseCode"] >= 400).groupby(
        ["bucket", "DeploymentName"]).agg(requests=("ResponseCode", "size"), failed=("failed", "sum")).reset_index()
    assert len(got) == len(expected)
    merged = got.merge(expected, left_on=["bucket", "deployment"], right_on=["bucket", "DeploymentName"])
    assert len(merged) == len(got)
    assert (merged["requests_x"] == merged["requests_y"]).all() and (merged["failed_x"] == merged["failed_y"]).all()


def test_codes_count_requests_per_deployment_endpoint_code_and_model_code(
        demo_store: Path, logs: dict[str, pd.DataFrame], week: Filters) -> None:
    got = local_answer(demo_store, q.codes(), week)
    rows = _in(logs[TRAFFIC_LOG], week)
    expected = rows.groupby(["DeploymentName", "ResponseCode", "ModelStatusCode"]).size()
    assert {(r.deployment, int(r.code), int(r.model_code)): int(r.requests) for r in got.itertuples()} == \
        {k: int(v) for k, v in expected.items()}


def test_latency_per_deployment_has_true_percentiles_exact_means_and_throttled_counts(
        demo_store: Path, logs: dict[str, pd.DataFrame], week: Filters) -> None:
    got = local_answer(demo_store, q.latency(), week).set_index("deployment")
    rows = _in(logs[TRAFFIC_LOG], week)
    for deployment, mine in rows.groupby("DeploymentName"):
        row = got.loc[deployment]
        ones = pd.Series(1, index=mine.index)
        assert row["requests"] == len(mine) and row["failed"] == int((mine["ResponseCode"] >= 400).sum())
        for p in (50, 95, 99):
            assert close_in_log(row[f"total_p{p}_ms"], weighted_percentile(mine["TotalDurationMs"], ones, p))
        for name, column in (("total_ms", "TotalDurationMs"), ("first_byte_ms", "ResponseDurationMs"),
                             ("upload_ms", "RequestDurationMs"), ("request_bytes", "RequestPayloadSize"),
                             ("request_throttle_ms", "RequestThrottlingDelayMs"),
                             ("response_throttle_ms", "ResponseThrottlingDelayMs"),
                             ("response_bytes", "ResponsePayloadSize")):
            assert math.isclose(row[f"mean_{name}"], mine[column].mean(), rel_tol=1e-9), name
        throttled = (mine["RequestThrottlingDelayMs"] > 0) | (mine["ResponseThrottlingDelayMs"] > 0)
        assert row["throttled"] == int(throttled.sum())


@pytest.mark.parametrize(("factory", "column", "prefix"), [
    (q.first_byte, "ResponseDurationMs", "first_byte"), (q.upload, "RequestDurationMs", "upload")])
def test_the_time_to_the_models_first_byte_and_the_upload_have_their_own_percentiles(
        demo_store: Path, logs: dict[str, pd.DataFrame], week: Filters, factory, column: str, prefix: str) -> None:
    got = local_answer(demo_store, factory(), week).set_index("deployment")
    for deployment, mine in _in(logs[TRAFFIC_LOG], week).groupby("DeploymentName"):
        for p in (50, 95, 99):
            exact = weighted_percentile(mine[column], pd.Series(1, index=mine.index), p)
            assert close_in_log(got.at[deployment, f"{prefix}_p{p}_ms"], exact), (deployment, p)


def test_latency_over_time_gives_each_bins_percentiles(
        demo_store: Path, logs: dict[str, pd.DataFrame], demo_end: datetime) -> None:
    day = window_filters(demo_end - timedelta(days=1), demo_end)
    got = local_answer(demo_store, q.latency_over_time(), day)
    rows = _in(logs[TRAFFIC_LOG], day)
    rows = rows.assign(bucket=_bins(rows, day))
    checked = 0
    for (bucket, deployment), mine in rows.groupby(["bucket", "DeploymentName"]):
        row = got[(got["bucket"] == bucket) & (got["deployment"] == deployment)].iloc[0]
        assert row["requests"] == len(mine)
        exact = weighted_percentile(mine["TotalDurationMs"], pd.Series(1, index=mine.index), 95)
        assert close_in_log(row["total_p95_ms"], exact)
        checked += 1
    assert checked == len(got) > 20


def test_the_distribution_counts_requests_in_tenth_of_a_decade_buckets(
        demo_store: Path, logs: dict[str, pd.DataFrame], week: Filters) -> None:
    got = local_answer(demo_store, q.distribution(), week)
    rows = _in(logs[TRAFFIC_LOG], week)
    k = np.floor(np.log10(np.maximum(rows["TotalDurationMs"].to_numpy(float), 0.001)) * 10).astype(int)
    expected = rows.assign(k=k).groupby(["DeploymentName", "k"]).size()
    assert {(r.deployment, int(r.duration_bucket)): int(r.requests) for r in got.itertuples()} == \
        {key: int(v) for key, v in expected.items()}


def test_payloads_give_each_bins_mean_and_largest_request_and_response(
        demo_store: Path, logs: dict[str, pd.DataFrame], week: Filters) -> None:
    got = local_answer(demo_store, q.payloads(), week)
    rows = _in(logs[TRAFFIC_LOG], week)
    expected = rows.assign(bucket=_bins(rows, week)).groupby(["bucket", "DeploymentName"]).agg(
        request_bytes=("RequestPayloadSize", "mean"), response_bytes=("ResponsePayloadSize", "mean"),
        max_request_bytes=("RequestPayloadSize", "max"), max_response_bytes=("ResponsePayloadSize", "max"))
    assert len(got) == len(expected)
    for row in got.itertuples():
        want = expected.loc[(row.bucket, row.deployment)]
        assert math.isclose(row.request_bytes, want["request_bytes"]) and \
            math.isclose(row.response_bytes, want["response_bytes"])
        assert row.max_request_bytes == want["max_request_bytes"] and row.max_response_bytes == want["max_response_bytes"]


def test_events_list_the_containers_life_cycle_oldest_first(
        demo_store: Path, logs: dict[str, pd.DataFrame], week: Filters) -> None:
    got = local_answer(demo_store, q.events(), week)
    rows = _in(logs[EVENT_LOG], week).sort_values("TimeGenerated", kind="stable")
    assert list(got["timestamp"]) == list(rows["TimeGenerated"])
    assert list(got["name"]) == list(rows["Name"]) and list(got["instance"]) == list(rows["InstanceId"])


def test_endpoints_list_each_deployment_with_its_first_and_last_request(
        demo_store: Path, logs: dict[str, pd.DataFrame], week: Filters) -> None:
    got = local_answer(demo_store, q.endpoints(), week).set_index("deployment")
    for deployment, mine in _in(logs[TRAFFIC_LOG], week).groupby("DeploymentName"):
        assert got.at[deployment, "requests"] == len(mine)
        assert got.at[deployment, "first_seen"] == mine["TimeGenerated"].min()
        assert got.at[deployment, "last_seen"] == mine["TimeGenerated"].max()
    assert set(got["endpoint"]) == {demo.ENDPOINT}


def test_an_endpoint_filter_narrows_every_traffic_panel_and_an_unknown_one_finds_nothing(
        demo_store: Path, week: Filters) -> None:
    assert local_answer(demo_store, q.traffic(demo.ENDPOINT), week)["requests"].sum() == \
        local_answer(demo_store, q.traffic(), week)["requests"].sum()
    assert local_answer(demo_store, q.traffic("no-such-endpoint"), week).empty


# --- what the page derives -------------------------------------------------------------------------


def test_a_424_is_explained_with_the_models_own_code(demo_store: Path, week: Filters) -> None:
    table = q.code_table(local_answer(demo_store, q.codes(), week))
    green_424 = table[(table["deployment"] == "green") & (table["code"] == 424) & (table["model_code"] == 500)]
    assert green_424["explanation"].iloc[0].endswith("ModelStatusCode (500 Internal Server Error)")
    assert table.groupby("deployment")["share"].sum().round(9).eq(1).all()
    assert "request_timeout_ms" in q.CODE_REASONS[408] and "max_concurrent_requests_per_instance" in q.CODE_REASONS[429]


def test_the_mean_stages_add_up_to_the_mean_total(demo_store: Path, week: Filters) -> None:
    latency = local_answer(demo_store, q.latency(), week)
    stages = q.stage_table(latency)
    total = stages["upload_ms"] + stages["model_ms"] + stages["download_ms"]
    assert np.allclose(total, latency["mean_total_ms"])
    assert (stages["model_ms"] > stages["upload_ms"]).all(), "the model's time is most of a request's"


def test_the_default_comparison_is_the_newest_deployment_against_the_busiest_other(
        demo_store: Path, week: Filters) -> None:
    assert q.default_pair(local_answer(demo_store, q.endpoints(), week), None) == ("green", "blue")
    assert q.default_pair(local_answer(demo_store, q.endpoints(), week), "no-such-endpoint") == (None, None)


# --- the demo's story, seen in the numbers ------------------------------------------------------------


def test_traffic_shifts_from_blue_to_green_over_the_week(logs: dict[str, pd.DataFrame], demo_end: datetime) -> None:
    rows = logs[TRAFFIC_LOG]
    start = demo_end - timedelta(days=7)
    fraction = (rows["TimeGenerated"] - start) / timedelta(days=7)
    before = rows[fraction < demo.TRAFFIC_SHIFTS[0][0]]
    after = rows[fraction >= demo.TRAFFIC_SHIFTS[-1][0]]
    assert set(before["DeploymentName"]) == {"blue"}
    assert 0.75 < (after["DeploymentName"] == "green").mean() < 0.85


def test_green_is_slower_and_answers_424s_where_blue_does_not(demo_store: Path, week: Filters) -> None:
    latency = local_answer(demo_store, q.latency(), week).set_index("deployment")
    assert latency.at["green", "total_p95_ms"] > 1.5 * latency.at["blue", "total_p95_ms"]
    table = q.comparison(latency.reset_index(), local_answer(demo_store, q.first_byte(), week),
                         local_answer(demo_store, q.upload(), week), "green", "blue").set_index("name")
    assert table.at["failure_rate", "worse"] and table.at["total_p95_ms", "worse"]
    assert not table.at["upload_p95_ms", "worse"], "the upload is the platform's, the same for both"
    assert table.at["mean_response_bytes", "change"] > 3, "green answers with explanations"


def test_one_green_instance_crash_loops_and_its_requests_fail_meanwhile(logs: dict[str, pd.DataFrame]) -> None:
    events = logs[EVENT_LOG]
    loop = events[events["InstanceId"] == demo.RESTART_INSTANCE]
    assert {"LivenessProbeFailed", "Killing", "BackOff", "Started", "ReadinessProbeFailed"} <= set(loop["Name"])
    kill = loop.loc[loop["Name"] == "Killing", "TimeGenerated"].iloc[0]
    assert kill.hour == 14 and kill.minute == 30, "at a busy hour"
    traffic = logs[TRAFFIC_LOG]
    green = traffic[traffic["DeploymentName"] == "green"]
    during = green[(green["TimeGenerated"] >= kill) & (green["TimeGenerated"] < kill + timedelta(minutes=10))]
    same_hour_before = green[(green["TimeGenerated"] >= kill - timedelta(hours=2)) &
                             (green["TimeGenerated"] < kill - timedelta(minutes=5))]
    assert (during["ResponseCode"] == 502).mean() > 0.15 > (same_hour_before["ResponseCode"] == 502).mean()
    clusters = q_clusters(events)
    burst = clusters[clusters["instance"] == demo.RESTART_INSTANCE]
    assert burst["trouble"].sum() == 1 and "BackOff ×6" in burst.loc[burst["trouble"], "what"].iloc[0]


def q_clusters(events: pd.DataFrame) -> pd.DataFrame:
    from components.deployment_charts import event_clusters

    frame = events.rename(columns={"TimeGenerated": "timestamp", "InstanceId": "instance", "Name": "name",
                                   "DeploymentName": "deployment"})
    return event_clusters(frame, q.TROUBLE_EVENTS)


def test_each_kept_app_insights_request_has_its_platform_row_under_the_same_request_id(
        demo_frames: dict[str, pd.DataFrame], logs: dict[str, pd.DataFrame]) -> None:
    requests = demo_frames["requests"]
    scored = requests[(requests["cloud_RoleName"] == demo.ENDPOINT) & (requests["operation_Name"] == "POST /score")]
    ids = scored["operation_Id"].str.replace(r"^(.{8})(.{4})(.{4})(.{4})(.{12})$", r"\1-\2-\3-\4-\5", regex=True)
    traffic = logs[TRAFFIC_LOG].set_index("XRequestId")
    assert ids.isin(traffic.index).all()
    assert len(logs[TRAFFIC_LOG]) == int(scored["itemCount"].sum()), "a sampled row stands for itemCount requests"
    assert traffic.index.is_unique


def test_score_py_prints_reach_the_console_log_with_the_request_id(logs: dict[str, pd.DataFrame]) -> None:
    console, traffic = logs[CONSOLE_LOG], logs[TRAFFIC_LOG]
    printed = console["Message"].str.extract(r"^([0-9a-f-]{36}) (?:scored|failed)")[0].dropna()
    assert printed.isin(traffic["XRequestId"]).all() and len(printed) > 0.9 * len(traffic)
    assert console["Message"].str.startswith("MemoryError").sum() == 1


# --- KQL, and the classic scope --------------------------------------------------------------------


HOSTILE = 'fraud" or 1==1 //'


def test_every_panel_passes_kusto_on_the_workspace_schema_with_and_without_an_endpoint(demo_end: datetime) -> None:
    checks = []
    for filters in (Filters(), window_filters(demo_end - timedelta(days=7), demo_end)):
        ctx = RenderContext.of(filters, demo_end)
        for endpoint in (None, demo.ENDPOINT, HOSTILE):
            checks += [("workspace", render_kql(query, ctx, "workspace")) for query in q.page_view(endpoint)]
    assert_valid_kql(checks)


def test_a_hostile_endpoint_reaches_kql_as_one_literal_and_sql_as_a_parameter(demo_end: datetime) -> None:
    ctx = RenderContext.of(Filters(), demo_end)
    (result,) = check_kql([("workspace", render_kql(q.traffic(HOSTILE), ctx, "workspace"))])
    assert result.ok and result.string_literals.count(HOSTILE) == 1
    sql = render_sql(q.traffic(HOSTILE), ctx)
    assert HOSTILE not in sql.text and HOSTILE in sql.params


def test_a_classic_resource_is_told_the_endpoint_logs_live_in_a_workspace(demo_end: datetime) -> None:
    ctx = RenderContext.of(Filters(), demo_end)
    for query in q.page_view():
        with pytest.raises(WorkspaceOnlyError, match="lives in a Log Analytics workspace"):
            render_kql(query, ctx, "classic")


# --- the page ------------------------------------------------------------------------------------------


def test_the_page_shows_every_panel_on_the_demo_week(app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/deployments.py", **window_params(demo_end - timedelta(days=7), demo_end))
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error
    titles = texts(at, "markdown")
    for title in ("Traffic per deployment", "Status codes and what they mean", "Where the time goes",
                  "Payload sizes", "Container events per instance", "green against blue"):
        assert any(title in t for t in titles), title
    assert len(at.get("plotly_chart")) == 6  # traffic, failures, latency, payloads, two distributions
    compare = next(d.value for d in at.dataframe if "measure" in d.value.columns)
    assert list(compare.columns[:3]) == ["measure", "green", "blue"]


def test_the_url_chooses_the_deployments_compared(app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/deployments.py", deployment="blue", against="green",
                  **window_params(demo_end - timedelta(days=7), demo_end))
    assert not at.exception
    assert any("blue against green" in t for t in texts(at, "markdown"))


def test_a_range_without_endpoint_logs_says_which_diagnostic_setting_turns_them_on(
        app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/deployments.py", **window_params(demo_end + timedelta(days=30), demo_end + timedelta(days=31)))
    assert not at.exception
    infos = texts(at, "info")
    assert any("Diagnostic settings" in i and TRAFFIC_LOG in i for i in infos)
    assert any(EVENT_LOG in i for i in infos)
    assert "az monitor diagnostic-settings create" in diagnostic_setting_hint([TRAFFIC_LOG])


# --- over the Logs API -------------------------------------------------------------------------------


def test_over_a_classic_resource_every_panel_says_the_tables_live_in_a_workspace_and_none_is_asked(
        fake: FakeLogsApi, signed_in: Path, monkeypatch: pytest.MonkeyPatch, day: dict[str, str]) -> None:
    configure(monkeypatch, fake, resource_id=RESOURCE_ID)
    before = len(fake.requests)
    at = run_page("pages/deployments.py", **day)
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.main.error]
    assert len(errors) >= 8 and all("lives in a Log Analytics workspace" in e for e in errors)
    statements = [s for r in fake.requests[before:] for s in r.queries]
    assert not any(table in s for s in statements for table in ENDPOINT_LOG_TABLES)


def test_over_a_workspace_the_page_view_is_one_request_holding_every_panel(
        fake: FakeLogsApi, signed_in: Path, monkeypatch: pytest.MonkeyPatch, day: dict[str, str]) -> None:
    configure(monkeypatch, fake, workspace_id=WORKSPACE_ID)
    before = len(fake.requests)
    at = run_page("pages/deployments.py", **day)  # the overview opens first: its view is a request of its own
    assert not at.exception and not at.main.error
    mine = [r for r in fake.requests[before:] if any(TRAFFIC_LOG in s for s in r.queries)]
    assert len(mine) == 1 and mine[0].path == "/v1/$batch"
    # every panel (the sidebar's services too, unless the overview's view left them in the cache)
    assert len(q.page_view()) <= len(mine[0].queries) <= len(q.page_view()) + 1
    assert not fake.unanswered


def test_the_connect_check_says_which_endpoint_log_tables_have_rows_in_one_request(
        fake: FakeLogsApi, demo_end: datetime, logs: dict[str, pd.DataFrame]) -> None:
    settings = LogsApiSettings(workspace_id=WORKSPACE_ID, endpoint=fake.endpoint)
    before = len(fake.requests)
    found = detect_services(settings, StaticCredential(), now=demo_end, days=3, enforce_https=False)
    assert len(fake.requests) == before + 1
    recent = {t for t, f in logs.items() if (f["TimeGenerated"] >= demo_end - timedelta(days=3)).any()}
    assert set(found.endpoint_tables) == recent == set(ENDPOINT_LOG_TABLES) and found.has_app_insights
    assert_valid_kql([("workspace", q) for r in fake.requests[before:] for q in r.queries])
    classic = detect_services(LogsApiSettings(resource_id=RESOURCE_ID, endpoint=fake.endpoint), StaticCredential(),
                              now=demo_end, days=3, enforce_https=False)
    assert classic.endpoint_tables == () and not any(TRAFFIC_LOG in q for q in fake.requests[-1].queries)


def test_the_connect_note_names_the_endpoint_logs_found_and_missing() -> None:
    assert endpoint_logs_note((TRAFFIC_LOG,), workspace=True) == (
        f" Online endpoint logs: {TRAFFIC_LOG}; none in {CONSOLE_LOG}, {EVENT_LOG}.")
    assert "diagnostic setting" in endpoint_logs_note((), workspace=True)
    assert endpoint_logs_note((), workspace=False) == ""


def test_one_panel_alone_shows_only_that_panel(app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/deployments.py", panel="deployments.latency_over_time", embed="true",
                  **window_params(demo_end - timedelta(days=7), demo_end))
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("plotly_chart")) == 1 and not at.selectbox and not at.dataframe
