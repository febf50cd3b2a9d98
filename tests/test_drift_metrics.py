"""Each drift metric equals an independent computation (scipy; PSI by hand) on the same rows.

Tolerances: JS, PSI and chi-squared are computed on the same bins or categories as scipy is given,
so they agree to 1e-9. W1 and KS are computed on fine bins: W1 is within one fine bin width of
scipy's W1 on the raw values, the binned KS D never exceeds scipy's D and is below it by at most
the largest fine bin's share; the KS p-value is the asymptotic Kolmogorov one at the binned D.
The end-to-end tests write synthetic payloads to a store, run the page's query over it, and
compare the drift table with scipy on the rows written.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, kstwobign, ks_2samp, wasserstein_distance

from telemetry.drift import (
    Thresholds,
    chi2_p_value,
    drift_table,
    jensen_shannon,
    kolmogorov_p_value,
    ks_statistic,
    psi,
    wasserstein,
)
from telemetry.filters import Filters, TimeRange
from telemetry.model import RenderContext
from telemetry.queries.model_monitoring import FeatureDrift
from telemetry.sources.local import LocalSource
from telemetry.store import build_store

END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
TIGHT = 1e-9


def psi_by_hand(ref: np.ndarray, cur: np.ndarray) -> float:
    total = 0.0
    r_sum, c_sum = ref.sum() + len(ref), cur.sum() + len(cur)
    for r, c in zip(ref, cur, strict=True):
        r_share, c_share = (r + 1) / r_sum, (c + 1) / c_sum
        total += (c_share - r_share) * math.log(c_share / r_share)
    return total


@pytest.mark.parametrize("seed", range(5))
def test_histogram_metrics_equal_scipy_and_psi_by_hand_on_the_same_bins(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref, cur = rng.integers(0, 500, 17).astype(float), rng.integers(0, 500, 17).astype(float)
    cur[rng.integers(0, 17)] = 0  # an empty bin on one side
    assert jensen_shannon(ref, cur) == pytest.approx(jensenshannon(ref, cur, base=2), abs=TIGHT)
    assert psi(ref, cur) == pytest.approx(psi_by_hand(ref, cur), abs=TIGHT)
    centres = np.sort(rng.normal(0, 3, 17))
    assert wasserstein(centres, ref, cur) == pytest.approx(
        wasserstein_distance(centres, centres, ref, cur), abs=TIGHT)


@pytest.mark.parametrize("shape", [(2, 2), (2, 3), (2, 7), (2, 40)])
def test_chi_squared_p_value_equals_scipy_without_continuity_correction(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(shape[1])
    table = rng.integers(1, 300, shape).astype(float)
    expected = chi2_contingency(table, correction=False).pvalue
    assert chi2_p_value(table[0], table[1]) == pytest.approx(expected, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("d", [0.001, 0.01, 0.03, 0.05, 0.1, 0.3])
def test_kolmogorov_p_value_is_scipys_asymptotic_distribution(d: float) -> None:
    n, m = 3_000, 1_700
    z = math.sqrt(n * m / (n + m)) * d
    assert kolmogorov_p_value(d, n, m) == pytest.approx(float(kstwobign.sf(z)), abs=1e-9)


def _binned(values: np.ndarray, lo: float, hi: float, bins: int) -> np.ndarray:
    index = np.minimum(np.floor((values - lo) / (hi - lo) * bins), bins - 1).astype(int)
    return np.bincount(index, minlength=bins).astype(float)


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.3, 1.0])
def test_binned_wasserstein_and_ks_stay_within_one_fine_bin_of_scipy_on_the_raw_values(shift: float) -> None:
    rng = np.random.default_rng(7)
    ref, cur = rng.lognormal(3.6, 1.1, 4_000), rng.lognormal(3.6 + shift, 1.1, 2_500)
    lo, hi, fine = min(ref.min(), cur.min()), max(ref.max(), cur.max()), 247
    width = (hi - lo) / fine
    centres = lo + (np.arange(fine) + 0.5) * width
    r, c = _binned(ref, lo, hi, fine), _binned(cur, lo, hi, fine)
    assert abs(wasserstein(centres, r, c) - wasserstein_distance(ref, cur)) <= width
    raw = ks_2samp(ref, cur)
    d = ks_statistic(r, c)
    biggest = max((r / r.sum()).max(), (c / c.sum()).max())
    assert raw.statistic - biggest <= d <= raw.statistic + TIGHT


# --- end to end: payloads in a store, the query, the table ------------------------------------


def _print(record: dict[str, object], output: dict[str, object]) -> str:
    contents = json.dumps({"input": {"data": [record]}, "output": output})
    return json.dumps({"Contents": contents, "Service Name": "synthetic"})


def write_payloads(path: Path, reference: list[str], current: list[str], weights: tuple[int, int] = (1, 1)) -> Path:
    """Print traces of one service: `reference` spread over the 2 days before the last, `current` over the last."""
    rows: list[tuple[datetime, str, int]] = []
    for dims, start, length, weight in ((reference, END - 3 * DAY, 2 * DAY, weights[0]),
                                        (current, END - DAY, DAY, weights[1])):
        step = length / (len(dims) + 1)
        rows += [(start + step * (i + 1), d, weight) for i, d in enumerate(dims)]
    n = len(rows)
    table = pa.table({
        "timestamp": [t.replace(tzinfo=None) for t, _, _ in rows],
        "message": ["STDOUT"] * n,
        "severityLevel": pa.array([1] * n, pa.int32()),
        "customDimensions": [d for _, d, _ in rows],
        "operation_Id": [f"op{i}" for i in range(n)],
        "operation_Name": ["POST /score"] * n,
        "cloud_RoleName": ["synthetic"] * n,
        "itemCount": pa.array([w for _, _, w in rows], pa.int32()),
    })
    return build_store(path, [("traces", table)])


def drift_of(store: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    ctx = RenderContext.of(Filters(TimeRange(None, END - DAY, END)))
    frame = LocalSource(store).run_one(FeatureDrift(), ctx).frame
    return frame, drift_table(frame, "synthetic").set_index("feature")


def sample(rng: np.random.Generator, n: int, amount_mu: float, countries: list[str], p: list[float]) -> list[str]:
    amounts = np.round(rng.lognormal(amount_mu, 0.8, n), 2)
    chosen = rng.choice(countries, n, p=p)
    scores = np.round(rng.beta(2, 5, n), 4)
    return [_print({"amount": float(a), "country": str(c)}, {"score": float(s)})
            for a, c, s in zip(amounts, chosen, scores, strict=True)]


def test_two_samples_of_one_distribution_stay_under_every_threshold(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    countries, p = ["US", "GB", "DE", "FR"], [0.4, 0.3, 0.2, 0.1]
    store = write_payloads(tmp_path / "same.duckdb", sample(rng, 6_000, 3.0, countries, p),
                           sample(rng, 4_000, 3.0, countries, p))
    _, table = drift_of(store)
    t = Thresholds()
    assert not table["drifted"].any(), table
    assert (table.loc[["input.amount", "output.score"], "normalized_wasserstein"] < t.wasserstein).all()
    assert (table["jensen_shannon"] < t.jensen_shannon).all()
    assert (table["psi"] < t.psi).all()


def test_a_known_shift_and_a_new_category_are_flagged_and_equal_scipy_on_the_rows_written(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    ref_rows = sample(rng, 5_000, 3.0, ["US", "GB", "DE"], [0.5, 0.3, 0.2])
    cur_rows = sample(rng, 3_000, 3.4, ["US", "GB", "DE", "MX"], [0.35, 0.25, 0.15, 0.25])
    store = write_payloads(tmp_path / "shifted.duckdb", ref_rows, cur_rows, weights=(3, 2))
    frame, table = drift_of(store)
    assert table.loc["input.amount", "drifted"] and table.loc["input.country", "drifted"]
    assert not table.loc["output.score", "drifted"]
    assert table.loc["input.country", "out_of_range_rate"] == pytest.approx(
        sum(json.loads(json.loads(r)["Contents"])["input"]["data"][0]["country"] == "MX" for r in cur_rows)
        / len(cur_rows), abs=TIGHT)

    def column(rows: list[str], key: str) -> np.ndarray:
        return np.array([json.loads(json.loads(r)["Contents"])["input"]["data"][0][key] for r in rows])

    ref_amount, cur_amount = column(ref_rows, "amount").astype(float), column(cur_rows, "amount").astype(float)
    # Independent: the bins from the raw values' range and Sturges' count, then scipy.
    lo, hi = min(ref_amount.min(), cur_amount.min()), max(ref_amount.max(), cur_amount.max())
    k = math.ceil(math.log2(min(len(ref_amount), len(cur_amount))) + 1)
    fine = k * (256 // k)
    sturges_ref = _binned(ref_amount, lo, hi, fine).reshape(k, -1).sum(axis=1) * 3
    sturges_cur = _binned(cur_amount, lo, hi, fine).reshape(k, -1).sum(axis=1) * 2
    row = table.loc["input.amount"]
    assert row["jensen_shannon"] == pytest.approx(jensenshannon(sturges_ref, sturges_cur, base=2), abs=TIGHT)
    assert row["psi"] == pytest.approx(psi_by_hand(sturges_ref, sturges_cur), abs=TIGHT)
    std_ref = float(np.std(ref_amount))
    width = (hi - lo) / fine
    assert abs(row["normalized_wasserstein"] - wasserstein_distance(ref_amount, cur_amount) / std_ref) <= width / std_ref
    raw_d = ks_2samp(ref_amount, cur_amount).statistic
    biggest = max(_binned(side, lo, hi, fine).max() / len(side) for side in (ref_amount, cur_amount))
    assert raw_d - biggest <= row["ks_statistic"] <= raw_d + TIGHT
    assert row["ks_p_value"] == pytest.approx(
        float(kstwobign.sf(math.sqrt(5_000 * 3_000 / 8_000) * row["ks_statistic"])), abs=1e-9)

    ref_c, cur_c = pd.Series(column(ref_rows, "country")), pd.Series(column(cur_rows, "country"))
    counts = pd.concat([ref_c.value_counts(), cur_c.value_counts()], axis=1).fillna(0).to_numpy().T
    country = table.loc["input.country"]
    assert country["jensen_shannon"] == pytest.approx(
        jensenshannon(counts[0] * 3, counts[1] * 2, base=2), abs=TIGHT)
    assert country["chi2_p_value"] == pytest.approx(chi2_contingency(counts, correction=False).pvalue,
                                                    rel=1e-9, abs=1e-300)
