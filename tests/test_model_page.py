"""The Model page: the demo's injected drift is found and only it; its numbers equal scipy on the
demo's own rows; hostile payloads become data-quality findings, never a broken page; every KQL
string passes Kusto in both schemas with user values as single literals; the page through AppTest."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

from telemetry.demo.drift import DRIFT_SERVICE, NEW_COUNTRY
from telemetry.drift import drift_table, service_findings
from telemetry.filters import Filters, TimeRange, Window
from telemetry.kql import render_kql
from telemetry.model import RenderContext
from telemetry.queries.model_monitoring import FeatureDrift, MonitoringView, Reference, view_from_params
from telemetry.sources.local import LocalSource
from telemetry.sql import render_sql
from telemetry.store import build_store
from tests.apptest import run_page, texts, window_params
from tests.kusto import assert_valid_kql

HOSTILE = ('fraud" or 1==1 //', "it's\\", "line\nbreak\ttab", "x | take 1; traces", "ünï 😀")


def _ctx(end: datetime, days: int = 1, **kwargs: object) -> RenderContext:
    return RenderContext.of(Filters(TimeRange(None, end - timedelta(days=days), end), **kwargs))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def demo_answer(demo_store: Path, demo_end: datetime) -> pd.DataFrame:
    return LocalSource(demo_store).run_one(FeatureDrift(), _ctx(demo_end)).frame


def test_the_demos_shifted_amount_and_new_country_are_flagged_and_the_other_inputs_are_not(
    demo_answer: pd.DataFrame,
) -> None:
    table = drift_table(demo_answer, DRIFT_SERVICE).set_index("feature")
    assert table.loc["input.amount", "drifted"] and table.loc["input.amount", "kind"] == "numeric"
    assert table.loc["input.country", "drifted"] and table.loc["input.country", "kind"] == "categorical"
    assert not table.loc["input.merchant_category", "drifted"]
    assert not table.loc["input.card_present", "drifted"]
    assert table.loc["output.fraud_probability", "drifted"], "the predictions move after the inputs"
    assert table.loc["input.country", "out_of_range_rate"] > 0.15, f"{NEW_COUNTRY} is a category the reference never had"
    assert table.loc["input.merchant_category", "out_of_range_rate"] == 0
    churn = drift_table(demo_answer, "churn-regressor")
    assert not churn["drifted"].any(), churn


def _payload_rows(frames: dict[str, pd.DataFrame], window: Window, service: str) -> pd.DataFrame:
    """Independently of the query: the service's printed payloads in the window, parsed in Python."""
    traces = frames["traces"]
    rows = traces[(traces["cloud_RoleName"] == service) & (traces["message"] == "STDOUT")
                  & (traces["timestamp"] >= window.start) & (traces["timestamp"] < window.end)]
    records = []
    for dims, weight in zip(rows["customDimensions"], rows["itemCount"], strict=True):
        contents = json.loads(dims).get("Contents", "")
        if '"input"' not in contents or len(contents) >= 8192:
            continue
        doc = json.loads(contents)
        for record in doc["input"]["data"]:
            records.append({**record, **doc["output"], "weight": weight})
    return pd.DataFrame(records)


def test_the_demos_metrics_equal_scipy_on_the_demos_own_rows(
    demo_answer: pd.DataFrame, demo_frames: dict[str, pd.DataFrame], demo_end: datetime,
) -> None:
    current = Window(demo_end - timedelta(days=1), demo_end)
    ref = _payload_rows(demo_frames, Reference().window(current), DRIFT_SERVICE)
    cur = _payload_rows(demo_frames, current, DRIFT_SERVICE)
    table = drift_table(demo_answer, DRIFT_SERVICE).set_index("feature")

    weights = pd.concat([ref.groupby("country")["weight"].sum(), cur.groupby("country")["weight"].sum()], axis=1)
    weights = weights.fillna(0).to_numpy().T
    assert table.loc["input.country", "jensen_shannon"] == pytest.approx(
        jensenshannon(weights[0], weights[1], base=2), abs=1e-9)

    for column, feature in (("amount", "input.amount"), ("fraud_probability", "output.fraud_probability")):
        w1 = wasserstein_distance(ref[column], cur[column], ref["weight"], cur["weight"])
        mean = np.average(ref[column], weights=ref["weight"])
        std = np.sqrt(np.average((ref[column] - mean) ** 2, weights=ref["weight"]))
        lo, hi = min(ref[column].min(), cur[column].min()), max(ref[column].max(), cur[column].max())
        k = int(np.ceil(np.log2(min(len(ref), len(cur))) + 1))
        width = (hi - lo) / (k * (256 // k))  # one fine bin: the stated bound of the binned W1
        assert abs(table.loc[feature, "normalized_wasserstein"] - w1 / std) <= width / std, feature


def test_every_model_query_passes_kusto_in_both_schemas_with_hostile_values_as_single_literals(
    demo_end: datetime,
) -> None:
    # One check of each shape (Kusto's analysis of this query takes seconds): the default view,
    # over time with hostile features and services, another deployment, a chosen window.
    queries = [
        (FeatureDrift(), _ctx(demo_end)),
        (FeatureDrift(features=HOSTILE), _ctx(demo_end, days=7, services=HOSTILE)),
        (FeatureDrift(Reference("service", service=HOSTILE[1])), _ctx(demo_end, services=HOSTILE[:1])),
        (FeatureDrift(Reference("window", demo_end - timedelta(days=5), demo_end - timedelta(days=2))),
         _ctx(demo_end)),
    ]
    checks = [(schema, render_kql(q, ctx, schema)) for (q, ctx), schema in zip(
        queries, ("classic", "workspace", "classic", "workspace"), strict=True)]
    checks.append(("classic", render_kql(queries[1][0], queries[1][1], "classic")))
    results = assert_valid_kql(checks)
    over_time = results[1].string_literals
    assert all(over_time.count(value) == 2 for value in HOSTILE), "once as a service, once as a feature"
    assert HOSTILE[1] in results[2].string_literals and HOSTILE[0] in results[2].string_literals


def test_hostile_values_reach_the_local_store_only_as_bound_parameters(demo_end: datetime) -> None:
    for query, ctx in ((FeatureDrift(features=HOSTILE), _ctx(demo_end, services=HOSTILE)),
                       (FeatureDrift(Reference("service", service=HOSTILE[1])), _ctx(demo_end, services=HOSTILE[:1]))):
        sql = render_sql(query, ctx)
        assert not any(value in sql.text for value in HOSTILE)
        assert sum(value in sql.params for value in HOSTILE) >= 2


def test_url_parameters_parse_into_a_view_and_bad_ones_are_named(demo_end: datetime) -> None:
    current = Window(demo_end - timedelta(days=1), demo_end)
    view, warnings = view_from_params({"t_wd": "0.2", "t_js": "0.05", "feature": "input.amount"}, current)
    assert view.thresholds.wasserstein == 0.2 and view.thresholds.jensen_shannon == 0.05
    assert view.feature == "input.amount" and view.reference == Reference() and not warnings
    view, warnings = view_from_params({"ref": "window", "ref_from": "2026-11-15T00:00Z", "ref_to": "2026-11-17T00:00Z"},
                                      current)
    assert view.reference.kind == "window" and not warnings
    view, warnings = view_from_params({"ref": "deployment", "ref_service": "fraud-scorer-green"}, current,
                                      ("fraud-scorer",))
    assert view.reference == Reference("service", service="fraud-scorer-green") and not warnings
    for bad, said in (({"t_wd": "nan"}, "t_wd"), ({"t_p": "-1"}, "t_p"), ({"ref": "yesterday"}, "ref=yesterday"),
                      ({"ref": "window", "ref_from": "x"}, "ISO 8601"),
                      ({"ref": "window", "ref_from": "2026-11-19T00:00Z", "ref_to": "2026-11-20T00:00Z"}, "must end"),
                      ({"ref": "deployment", "ref_service": "x"}, "exactly one service")):
        view, warnings = view_from_params(bad, current)
        assert view == MonitoringView() and len(warnings) == 1 and said in warnings[0], (bad, warnings)


# --- hostile payloads ---------------------------------------------------------------------------


def _hostile_prints(end: datetime) -> list[tuple[datetime, str]]:
    def printed(contents: str) -> str:
        return json.dumps({"Contents": contents})

    def call(amount: object, kind: str = "a", **extra: object) -> str:
        return json.dumps({"input": {"data": [{"amount": amount, "kind": kind, 'we"ird\\key\'': 1, **extra}]},
                           "output": {"score": 0.5}})

    rng = np.random.default_rng(3)
    reference = [call(float(x), str(k)) for x, k in zip(rng.normal(50, 10, 300), rng.choice(["a", "b"], 300),
                                                        strict=True)]
    current = [call(float(x)) for x in rng.normal(50, 10, 100)]
    current += [
        call("lots"),  # not a number in a numeric feature
        call(None),  # null
        call(1e9),  # far out of the reference's range
        call(50, kind="never seen"),  # a new category
        json.dumps({"input": {"data": [{"amount": "[" * 3000 + "]" * 3000}]}, "output": 1}),
        '{"input": {"data": [' + "[" * 3000 + "]" * 3000 + "]}, \"output\": 1}",  # 3,000 levels deep
        json.dumps({"input": {"data": [1] * 2500}, "output": [0.1] * 10}),  # a huge array (2,500 records)
        json.dumps({"input": {"data": [{f"key {i} \"'": i for i in range(300)}]}, "output": 1}),  # 300 keys
        '{"input": {"data": [[1, 2' + "3" * 8200,  # cut at the property limit
        'the "input" was {not JSON',
        json.dumps({"input": {"data": [{"<a href='https://evil.example'>x</a>": "<b>bold</b> **md**"}]}, "output": 1}),
    ]
    start = end - timedelta(days=3)
    rows = [(start + timedelta(minutes=10 * i), printed(text[:8192])) for i, text in enumerate(reference)]
    rows += [(end - timedelta(hours=20) + timedelta(minutes=5 * i), printed(text[:8192]))
             for i, text in enumerate(current)]
    return rows


@pytest.fixture(scope="module")
def hostile_model_store(tmp_path_factory: pytest.TempPathFactory, demo_end: datetime) -> Path:
    rows = _hostile_prints(demo_end)
    n = len(rows)
    table = pa.table({
        "timestamp": [t.astimezone(UTC).replace(tzinfo=None) for t, _ in rows],
        "message": ["STDOUT"] * n,
        "severityLevel": pa.array([1] * n, pa.int32()),
        "customDimensions": [d for _, d in rows],
        "operation_Id": [f"op{i}" for i in range(n)],
        "operation_Name": ["POST /score"] * n,
        "cloud_RoleName": ["hostile-model"] * n,
        "itemCount": pa.array([1] * n, pa.int32()),
    })
    return build_store(tmp_path_factory.mktemp("hostile-model") / "store.duckdb", [("traces", table)])


def test_hostile_payloads_count_as_data_quality_findings(hostile_model_store: Path, demo_end: datetime) -> None:
    frame = LocalSource(hostile_model_store).run_one(FeatureDrift(), _ctx(demo_end)).frame
    found = service_findings(frame, "hostile-model")
    assert found["cut"] == 1 and found["unparsed"] == 1
    assert found["features_left_out"] > 0, "300 keys in one record: past the 100 features kept"
    table = drift_table(frame, "hostile-model").set_index("feature")
    amount = table.loc["input.amount"]
    assert amount["kind"] == "numeric"
    assert amount["type_error_rate"] > 0, "a string, and a 3,000-level array, where numbers were"
    assert amount["missing_rate"] > 0 and amount["out_of_range_rate"] > 0
    assert table.loc["input.kind", "out_of_range_rate"] > 0, "a category the reference never had"
    assert 'input.we"ird\\key\'' in table.index, "a key with quotes is a feature like any other"


def _use(monkeypatch: pytest.MonkeyPatch, store: Path) -> None:
    monkeypatch.setenv("ENDPOINT_MONITOR_STORE", str(store))
    monkeypatch.chdir(Path(__file__).resolve().parents[1])


def _all_text(at: object) -> str:
    return "\n".join(t for kind in ("markdown", "caption", "warning", "info", "error", "success") for t in texts(at, kind))


def test_hostile_payloads_never_break_the_page(
    hostile_model_store: Path, monkeypatch: pytest.MonkeyPatch, demo_end: datetime,
) -> None:
    _use(monkeypatch, hostile_model_store)
    at = run_page("pages/model.py", **window_params(demo_end - timedelta(days=1), demo_end))
    assert not at.exception, [e.value for e in at.exception]
    shown = _all_text(at)
    assert "cut at the 8,192-character property limit" in shown
    assert "not a JSON object or array" in shown
    assert "features past the first 100" in shown
    tables = [df.value for df in at.main.dataframe]
    assert any("Wrong type" in t.columns for t in tables), "the data-quality table"
    charts = json.dumps([json.loads(c.proto.spec) for c in at.main.get("plotly_chart")])
    assert "<a href" not in charts and "<b>" not in charts, "telemetry text reaches Plotly escaped"


# --- the page -----------------------------------------------------------------------------------


def _day(demo_end: datetime) -> dict[str, str]:
    return window_params(demo_end - timedelta(days=1), demo_end)


def test_the_page_shows_the_demos_drift_at_first_sight(app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/model.py", **_day(demo_end))
    assert not at.exception, [e.value for e in at.exception]
    assert at.main.selectbox(key="model.service").value == DRIFT_SERVICE, "the most drifted service comes first"
    metrics = {m.label: m.value for m in at.main.metric}
    assert metrics["Features drifted"].startswith("3 of") or metrics["Features drifted"].startswith("4 of")
    drift = next(df.value for df in at.main.dataframe if "Drift" in df.value.columns)
    flagged = set(drift.loc[drift["Drift"] == "⚠ drifted", "Feature"])
    assert {"input.amount", "input.country", "output.fraud_probability"} <= flagged
    assert not flagged & {"input.merchant_category", "input.card_present"}
    assert list(drift["Feature"])[0] in flagged, "sorted by drift"
    assert len(at.main.get("plotly_chart")) >= 3, "distribution and the predictions over time"
    assert any("Histograms as CSV" == b.label for b in at.main.get("download_button"))
    assert any("let base_ = materialize(traces" in c.value for c in at.main.code), "the page's KQL is shown"


def test_thresholds_and_the_chosen_feature_come_from_the_url(app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/model.py", **_day(demo_end), t_wd="5", t_js="5", t_psi="9", feature="input.country",
                  service=DRIFT_SERVICE)
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.main.metric}
    assert metrics["Features drifted"].startswith("0 of")
    assert at.main.selectbox(key="u.feature").value == "input.country"
    assert at.main.number_input(key="u.t_wd").value == 5.0


def test_bad_parameters_are_named_and_the_page_still_works(app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/model.py", **_day(demo_end), t_wd="lots", ref="tomorrow")
    assert not at.exception, [e.value for e in at.exception]
    warnings = texts(at, "warning")
    assert any("t_wd=lots" in w for w in warnings) and any("ref=tomorrow" in w for w in warnings)
    assert at.main.dataframe, "the drift table is still there"


def test_another_deployment_or_a_chosen_window_can_be_the_reference(app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/model.py", **_day(demo_end), service=DRIFT_SERVICE, ref="deployment",
                  ref_service="churn-regressor")
    assert not at.exception, [e.value for e in at.exception]
    assert any("deployment churn-regressor" in c for c in texts(at, "caption"))
    drift = next(df.value for df in at.main.dataframe if "Drift" in df.value.columns)
    assert set(drift["Note"]) == {"not in the reference", "not logged in the current window"}, \
        "two different models share no feature"

    at = run_page("pages/model.py", **_day(demo_end), ref="window", ref_from="2026-11-14T12:00Z",
                  ref_to="2026-11-16T12:00Z")
    assert not at.exception, [e.value for e in at.exception]
    assert any("the chosen window, 2026-11-14 12:00" in c for c in texts(at, "caption"))


# --- over the Logs API ---------------------------------------------------------------------------


def test_over_the_logs_api_the_page_is_one_request_whose_answer_does_not_follow_the_number_of_calls(
    tmp_path_factory: pytest.TempPathFactory, demo_end: datetime,
) -> None:
    from telemetry.config import LogsApiSettings
    from telemetry.demo import build_demo_store
    from telemetry.results import QueryResult
    from telemetry.sources.logs_api import LogsApiSource
    from tests.fake_logs_api import WORKSPACE_ID, StaticCredential, serve

    ctx = _ctx(demo_end)
    seen: dict[int, tuple[int, int, int]] = {}
    for per_day in (2_000, 20_000):
        store = build_demo_store(tmp_path_factory.mktemp(f"calls{per_day}") / "demo.duckdb",
                                 requests_per_day=per_day, days=3, end=demo_end, seed=42)
        with serve(store) as fake:
            source = LogsApiSource(LogsApiSettings(workspace_id=WORKSPACE_ID, endpoint=fake.endpoint),
                                   StaticCredential(), enforce_https=False)
            try:
                outcomes = source.run(MonitoringView().queries(), ctx)
            finally:
                source.close()
            assert len(fake.requests) == 1 and not fake.unanswered, "the page's two queries go as one batch"
            assert all(isinstance(o, QueryResult) for o in outcomes), outcomes
            rows = sum(len(o.frame) for o in outcomes if isinstance(o, QueryResult))
            seen[per_day] = (rows, fake.requests[0].body_bytes, fake.requests[0].response_bytes)
    (small_rows, small_json, _), (large_rows, large_json, _) = seen[2_000], seen[20_000]
    # Ten times the calls: the same rows (dense histograms, every time bucket), only the counts'
    # digits grow.
    assert large_rows == small_rows, seen
    assert large_json <= 1.1 * small_json, seen


def test_a_range_without_logged_payloads_says_so(app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/model.py", **window_params(demo_end - timedelta(days=90), demo_end - timedelta(days=89)))
    assert not at.exception, [e.value for e in at.exception]
    assert any("No logged inputs or predictions" in i for i in texts(at, "info")), texts(at, "info")
    assert not at.main.error
