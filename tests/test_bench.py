"""The benchmark runner (`python -m bench`) on a tiny store, and the honesty of its pandas baseline:
it must compute the same panels as the page, or the speed-up it reports means nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bench.__main__ import main
from bench.baseline import pandas_page
from bench.data import RANGES, TIMED_PAGES, context
from telemetry.drift import drift_table, over_time
from telemetry.model import ItemCount, Listing, Summary, WeightedMean, WeightedPercentile
from telemetry.queries.model_monitoring import FeatureDrift
from telemetry.queries.pages import PAGE_VIEWS, page_queries
from telemetry.sources.local import LocalSource


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("bench")
    assert main(["--sizes", "2k", "--runs", "1", "--skip-browser", "--out", str(out),
                 "--stores", str(out / "stores")]) == 0
    return json.loads((out / "results.json").read_text()), out


def test_the_runner_times_every_page_in_both_ranges_against_the_baseline_and_the_floor(
    results: tuple[dict[str, Any], Path],
) -> None:
    found, _ = results
    rows = found["data"]["2k"]
    assert sorted((r["page"], r["range"]) for r in rows) == sorted((p, r) for p in TIMED_PAGES for r in RANGES)
    for row in rows:
        for measured in ("ours", "baseline", "floor"):
            assert row[measured]["median_s"] > 0 and row[measured]["peak_rss_mb"] > 0
        assert row["ours_over_baseline"] > 0 and row["ours_over_floor"] > 0
        assert row["queries"] == len(page_queries(row["page"]))


def test_the_store_is_built_once_and_its_record_kept(results: tuple[dict[str, Any], Path]) -> None:
    found, out = results
    record = found["stores"]["2k"]
    assert record["rows"]["requests"] > 1_000 and record["rows"]["dependencies"] > 0
    assert record["build_s"] > 0 and record["build_peak_rss_mb"] > 0
    again = main(["--sizes", "2k", "--runs", "1", "--skip-browser", "--out", str(out / "again"),
                  "--stores", str(out / "stores")])
    assert again == 0
    assert json.loads((out / "again" / "results.json").read_text())["stores"]["2k"]["reused"] is True


def test_every_page_view_is_one_logs_api_request_in_both_scopes(results: tuple[dict[str, Any], Path]) -> None:
    found, _ = results
    views = found["logs_api"]["2k"]
    assert len(views) == len(TIMED_PAGES) * len(RANGES) * 2
    for view in views:
        assert view["http_requests"] == 1
        assert view["panels_answered"] == view["panels"] == len(page_queries(view["page"]))
        assert 0 < view["response_bytes"] <= view["json_bytes"]
        assert view["answer_rows"] > 0


def test_the_markdown_table_has_a_row_per_page_and_range_and_lists_the_targets(
    results: tuple[dict[str, Any], Path],
) -> None:
    found, out = results
    text = (out / "results.md").read_text()
    for page in TIMED_PAGES:
        for range_name in RANGES:
            assert f"| {page} | {range_name} |" in text
    assert {t["target"] for t in found["targets"]} <= {line.split(" | ")[0].lstrip("| ") for line in text.splitlines()}


def _numeric(query: Summary) -> tuple[list[str], list[str]]:
    exact = [m.alias for m in query.measures if isinstance(m, ItemCount)]
    close = [m.alias for m in query.measures if isinstance(m, WeightedPercentile | WeightedMean)]
    return exact, close


def _keyed(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Key columns as text, times as UTC (the page's frames are typed, the baseline's naive)."""
    def text(column: pd.Series) -> pd.Series:
        if pd.api.types.is_datetime64_any_dtype(column):
            column = pd.to_datetime(column, utc=True)
        return column.astype(str)

    return frame.assign(**{k: text(frame[k]) for k in keys})


@pytest.mark.parametrize("page", list(PAGE_VIEWS))
def test_the_pandas_baseline_computes_the_same_panels_as_the_page(demo_store: Path, page: str) -> None:
    ctx = context("24h")
    queries = page_queries(page)
    ours = [r.frame for r in LocalSource(demo_store).run(queries, ctx)]  # type: ignore[union-attr]
    theirs = pandas_page(demo_store, queries, ctx)
    for query, mine, other in zip(queries, ours, theirs, strict=True):
        if isinstance(query, FeatureDrift):
            _same_drift(mine, other[other["bucket"].isna()], over_time=False)
            _same_drift(mine, other[other["bucket"].notna()], over_time=True)
            continue
        assert len(mine) == len(other), query.name
        if isinstance(query, Listing):
            ordered = query.order_by[0][0]  # ties may come in another order: compare what orders them
            column = next(c.name for c in query.columns if c.column == ordered)  # under its shown name
            assert list(_keyed(mine, [column])[column]) == list(_keyed(other, [column])[column]), query.name
            continue
        keys = [c for c in mine.columns if c not in {m.alias for m in query.measures}]
        exact, close = _numeric(query)
        joined = _keyed(mine, keys).merge(_keyed(other, keys), on=keys, suffixes=("", "_pd"))
        assert len(joined) == len(mine), query.name
        for name in exact:
            assert (joined[name].astype("int64") == joined[f"{name}_pd"].astype("int64")).all(), (query.name, name)
        for name in close:  # ours: log buckets 2 % wide; pandas: exact
            np.testing.assert_allclose(joined[name].astype(float), joined[f"{name}_pd"].astype(float),
                                       rtol=0.025, err_msg=f"{query.name}.{name}")


def _same_drift(answer: pd.DataFrame, baseline: pd.DataFrame, *, over_time: bool) -> None:
    """The Model page's numbers from its histograms against the baseline's from the raw values:
    Jensen-Shannon and PSI on the same bins exactly; W1 within one of its bins, D never above."""
    if over_time:
        _same_drift_over_time(answer, baseline)
        return
    assert len(baseline) > 0
    for service, rows in baseline.groupby("service"):
        ours = drift_table(answer, str(service)).set_index("feature")
        for row in rows.itertuples():
            mine = ours.loc[row.feature]
            np.testing.assert_allclose(mine["jensen_shannon"], row.jensen_shannon, atol=1e-9)
            np.testing.assert_allclose(mine["psi"], row.psi, atol=1e-9)
            if row.kind == "numeric":
                assert abs(mine["normalized_wasserstein"] - row.normalized_wasserstein) <= _bin_over_std(
                    answer, str(service), str(row.feature)), row
                assert mine["ks_statistic"] <= row.ks_statistic + 1e-9


def _bin_over_std(answer: pd.DataFrame, service: str, feature: str) -> float:
    """One fine bin's width over the reference's standard deviation: the binned W1's bound."""
    rng = answer[(answer["part"] == "range") & (answer["service"] == service) & (answer["feature"] == feature)].iloc[0]
    w = float(rng["w_ref"])
    std = np.sqrt(max(float(rng["sxx_ref"]) / w - (float(rng["sx_ref"]) / w) ** 2, 0.0))
    return (float(rng["hi"]) - float(rng["lo"])) / int(rng["fine"]) / max(std, 0.001) + 1e-9


def _same_drift_over_time(answer: pd.DataFrame, baseline: pd.DataFrame) -> None:
    buckets = baseline[baseline["bucket"].notna()]
    assert len(buckets) > 0
    for (service, feature), rows in buckets.groupby(["service", "feature"]):
        ours = over_time(answer, str(service), str(feature)).set_index("bucket")
        bound = _bin_over_std(answer, str(service), str(feature))
        for row in rows.itertuples():
            mine = ours.loc[pd.Timestamp(row.bucket, tz="UTC"), "value"]
            assert abs(mine - row.normalized_wasserstein) <= bound, (service, feature, row.bucket)


def test_the_readme_shows_the_benchmark_tables_of_this_commits_results() -> None:
    from bench.report import markdown

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    shown = readme.split("<!-- bench:start -->\n", 1)[1].split("\n<!-- bench:end -->", 1)[0]
    results = json.loads((root / "bench" / "results.json").read_text(encoding="utf-8"))
    assert shown.strip() == markdown(results).strip()


def test_the_readme_shows_the_model_benchmark_of_this_commits_results() -> None:
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    shown = readme.split("<!-- model-bench:start -->\n", 1)[1].split("\n<!-- model-bench:end -->", 1)[0]
    results = json.loads((root / "bench" / "model_results.json").read_text(encoding="utf-8"))
    from bench.model_bench import markdown as model_markdown

    assert shown.strip() == model_markdown(results).strip()
    assert (root / "bench" / "model_results.md").read_text(encoding="utf-8").strip() == shown.strip()
