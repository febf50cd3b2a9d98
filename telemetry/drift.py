"""Drift and data quality of a model's logged features, from the histograms the query returns.

Only distances are computed here, from aggregates (see telemetry/queries/model_monitoring.py);
no logged value reaches Python. Definitions follow Azure ML model monitoring:

    normalized Wasserstein  W1(ref, cur) / max(std of the reference, 0.001); numeric, threshold 0.1
    Jensen-Shannon          distance, base-2 logarithm, on Sturges' equal-width bins over the
                            combined range (numeric) or on the categories; threshold 0.1
    PSI                     sum((c - r) * ln(c / r)) over the same bins, each count + 1; threshold 0.1
    two-sample KS           D = max |CDF_ref - CDF_cur|, p-value from the asymptotic Kolmogorov
                            distribution at sqrt(n m / (n + m)) D; breach when p < 0.05
    Pearson chi-squared     on the 2 x categories table (no continuity correction); p < 0.05

What is exact and what is binned: distances weigh values by itemCount. The reference's standard
deviation, min, max and the out-of-range counts are exact. JS and PSI are defined on bins, so they
are exact for Sturges' bins (merged exactly from the fine bins). W1 and KS are computed on the
fine bins (k * m <= 256 equal-width bins, each bin's mass at its centre): W1 is within one fine
bin width of W1 on the raw values, and D is never above the raw D and below it by at most the
mass of one fine bin. p-values count stored rows (the sample App Insights kept), not itemCount.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

__all__ = [
    "Thresholds",
    "chi2_p_value",
    "drift_table",
    "histograms",
    "jensen_shannon",
    "kolmogorov_p_value",
    "ks_statistic",
    "over_time",
    "psi",
    "service_findings",
    "wasserstein",
]

MIN_STD: Final = 0.001
OVER_TIME_MERGE: Final = 4  # over time, a bin is 4 fine bins (telemetry/queries/model_monitoring.py)
# DuckDB sums floats in parallel, in no fixed order: the reference's moments (and so its standard
# deviation) may differ in the last bits between two runs of one query. Metrics are rounded to
# this many decimals, far below any threshold, so one answer always shows the same numbers.
DECIMALS: Final = 9


@dataclass(frozen=True)
class Thresholds:
    """Azure ML's defaults (azure-ai-ml `_monitoring/thresholds.py`); data-quality rates 0."""

    wasserstein: float = 0.1
    jensen_shannon: float = 0.1
    psi: float = 0.1
    p_value: float = 0.05
    null_rate: float = 0.0
    type_error_rate: float = 0.0
    out_of_range_rate: float = 0.0


# --- metrics on counts ------------------------------------------------------------------------


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else counts.astype(float)


def jensen_shannon(ref: np.ndarray, cur: np.ndarray) -> float:
    """Jensen-Shannon distance, base 2 (0: same, 1: disjoint), as scipy's jensenshannon(base=2)."""
    p, q = _shares(np.asarray(ref, float)), _shares(np.asarray(cur, float))
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum()
    return float(math.sqrt(max(0.0, (kl_p + kl_q) / 2)))


def psi(ref: np.ndarray, cur: np.ndarray) -> float:
    """Population stability index with +1 smoothing of every bin's count."""
    r = np.asarray(ref, float) + 1
    c = np.asarray(cur, float) + 1
    r, c = r / r.sum(), c / c.sum()
    return float(((c - r) * np.log(c / r)).sum())


def wasserstein(centres: np.ndarray, ref: np.ndarray, cur: np.ndarray) -> float:
    """W1 between two weighted histograms whose mass sits at `centres` (ascending)."""
    if len(centres) < 2:
        return 0.0
    gap = np.abs(np.cumsum(_shares(np.asarray(ref, float))) - np.cumsum(_shares(np.asarray(cur, float))))
    return float((gap[:-1] * np.diff(centres)).sum())


def ks_statistic(ref: np.ndarray, cur: np.ndarray) -> float:
    """Largest gap between the two cumulative distributions at the bin edges."""
    gap = np.cumsum(_shares(np.asarray(ref, float))) - np.cumsum(_shares(np.asarray(cur, float)))
    return float(np.abs(gap).max()) if len(gap) else 0.0


def kolmogorov_p_value(d: float, n: float, m: float) -> float:
    """P(D >= d) for two samples of n and m, from Kolmogorov's limiting distribution."""
    if n <= 0 or m <= 0:
        return float("nan")
    z = math.sqrt(n * m / (n + m)) * d
    if z < 0.27:
        return 1.0
    if z < 1.0:  # the theta-function form converges fast for small z
        v = math.exp(-math.pi ** 2 / (8 * z * z))
        cdf = math.sqrt(2 * math.pi) / z * sum(v ** ((2 * k - 1) ** 2) for k in range(1, 6))
        return float(min(1.0, max(0.0, 1 - cdf)))
    total = sum((-1) ** (k - 1) * math.exp(-2 * k * k * z * z) for k in range(1, 101))
    return float(min(1.0, max(0.0, 2 * total)))


def _gammaincc(a: float, x: float) -> float:
    """Regularized upper incomplete gamma Q(a, x) (series below a + 1, continued fraction above)."""
    if x <= 0:
        return 1.0
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return min(1.0, math.exp(log_front) * h)


def chi2_p_value(ref: np.ndarray, cur: np.ndarray) -> float:
    """Pearson's chi-squared test of the 2 x K table (categories seen on either side)."""
    table = np.vstack([np.asarray(ref, float), np.asarray(cur, float)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return float("nan") if (table.sum(axis=1) == 0).any() else 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    stat = float(((table - expected) ** 2 / expected).sum())
    return _gammaincc((table.shape[1] - 1) / 2, stat / 2)


# --- from the query's answer ------------------------------------------------------------------


def _part(frame: pd.DataFrame, part: str, bucketed: bool = False) -> pd.DataFrame:
    rows = frame[frame["part"] == part]
    if "bucket" in rows:
        rows = rows[rows["bucket"].notna() == bucketed]
    return rows


def _num(value: object) -> float:
    return float(value) if value is not None and not pd.isna(value) else 0.0  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Numeric:
    centres: np.ndarray
    ref_w: np.ndarray
    cur_w: np.ndarray
    ref_n: np.ndarray
    cur_n: np.ndarray
    k: int
    m: int
    std_ref: float


def _fine(rows: pd.DataFrame, rng: pd.Series, merged: int = 1) -> _Numeric:
    """The histogram of one feature's fine bins; `merged` > 1 for the over-time rows, whose
    bins are that many fine bins each."""
    fine = max(1, int(_num(rng["fine"])) // merged)
    k = max(1, int(_num(rng["k"])))
    lo, hi = _num(rng["lo"]), _num(rng["hi"])
    width = (hi - lo) / fine if hi > lo else 0.0
    # counts: [stored rows ref, stored rows cur, itemCount ref, itemCount cur], each one per fine bin
    found = np.zeros((4, fine))
    for text in rows["counts"].dropna():
        parsed = np.asarray(json.loads(str(text)), dtype="float64")[:, :fine]
        found[:, : parsed.shape[1]] += parsed
    n_ref_bins, n_cur_bins, w_ref_bins, w_cur_bins = found
    w_ref = _num(rng["w_ref"])
    var = _num(rng["sxx_ref"]) / w_ref - (_num(rng["sx_ref"]) / w_ref) ** 2 if w_ref > 0 else 0.0
    centres = lo + (np.arange(fine) + 0.5) * width
    return _Numeric(centres, w_ref_bins, w_cur_bins, n_ref_bins, n_cur_bins, k=k, m=max(1, fine // k),
                    std_ref=math.sqrt(max(var, 0.0)))


def _sturges(counts: np.ndarray, m: int) -> np.ndarray:
    return counts.reshape(-1, m).sum(axis=1) if m > 1 and len(counts) % m == 0 else counts


def numeric_metrics(h: _Numeric) -> dict[str, float]:
    w1 = wasserstein(h.centres, h.ref_w, h.cur_w)
    d = ks_statistic(h.ref_w, h.cur_w)
    return {
        "normalized_wasserstein": round(w1 / max(h.std_ref, MIN_STD), DECIMALS),
        "jensen_shannon": jensen_shannon(_sturges(h.ref_w, h.m), _sturges(h.cur_w, h.m)),
        "psi": psi(_sturges(h.ref_w, h.m), _sturges(h.cur_w, h.m)),
        "ks_statistic": d,
        "ks_p_value": kolmogorov_p_value(d, h.ref_n.sum(), h.cur_n.sum()),
    }


def categorical_metrics(rows: pd.DataFrame) -> dict[str, float]:
    ref_w, cur_w = rows["w_ref"].astype("float64").to_numpy(), rows["w_cur"].astype("float64").to_numpy()
    return {
        "jensen_shannon": jensen_shannon(ref_w, cur_w),
        "psi": psi(ref_w, cur_w),
        "chi2_p_value": chi2_p_value(rows["n_ref"].astype("float64").to_numpy(),
                                     rows["n_cur"].astype("float64").to_numpy()),
    }


_KINDS: Final = ("number", "string", "bool", "nested", "null")
DRIFT_COLUMNS: Final = (
    "feature", "role", "kind", "metric", "value", "threshold", "drifted", "breaches", "normalized_wasserstein",
    "jensen_shannon", "psi", "ks_statistic", "ks_p_value", "chi2_p_value", "values_ref", "values_cur",
    "missing_rate", "type_error_rate", "out_of_range_rate", "note",
)


def _role(feature: str) -> str:
    return "output" if feature.startswith("output") else "input"


def _expected_kind(kinds: pd.DataFrame, side: str) -> str | None:
    weights = {k: 0.0 for k in _KINDS}
    for row in kinds.itertuples(index=False):
        weights[str(row.category)] = weights.get(str(row.category), 0.0) + _num(getattr(row, side))
    present = {k: w for k, w in weights.items() if k != "null" and w > 0}
    if not present:
        return None
    if weights["number"] >= sum(present.values()) / 2:
        return "number"
    return max(present, key=lambda k: present[k])


def drift_table(frame: pd.DataFrame, service: str, thresholds: Thresholds = Thresholds()) -> pd.DataFrame:
    """One row per feature of `service`: its kind, the metrics, data quality; most drifted first."""
    frame = frame[frame["service"] == service]
    records = {str(r.feature): (_num(r.w_ref), _num(r.w_cur)) for r in _part(frame, "records").itertuples()}
    kinds = _part(frame, "kind")
    ranges = {str(r["feature"]): r for _, r in _part(frame, "range").iterrows()}
    catsets = {str(r["feature"]): r for _, r in _part(frame, "catset").iterrows()}
    bins, cats = _part(frame, "bin"), _part(frame, "cat")
    rows: list[dict[str, object]] = []
    for feature, own in kinds.groupby("feature", sort=True):
        feature = str(feature)
        role = _role(feature)
        records_ref, records_cur = records.get(role, (0.0, 0.0))
        expected = _expected_kind(own, "w_ref") or _expected_kind(own, "w_cur")
        cur = {str(r.category): _num(r.w_cur) for r in own.itertuples()}
        present_cur = sum(cur.values())
        values_ref, values_cur = _num(own["n_ref"].sum()), _num(own["n_cur"].sum())
        non_null = present_cur - cur.get("null", 0.0)
        row: dict[str, object] = {
            "feature": feature, "role": role, "values_ref": int(values_ref), "values_cur": int(values_cur),
            "missing_rate": (records_cur - non_null) / records_cur if records_cur else float("nan"),
            "type_error_rate": (non_null - cur.get(expected or "", 0.0)) / records_cur if records_cur else float("nan"),
            "out_of_range_rate": 0.0, "note": "",
        }
        if not _num(own["w_ref"].sum()):
            row["note"] = "not in the reference"
        elif not present_cur:
            row["note"] = "not logged in the current window"
        if expected == "number" and feature in ranges:
            rng = ranges[feature]
            row.update(kind="numeric", metric="normalized_wasserstein", threshold=thresholds.wasserstein)
            row["out_of_range_rate"] = _num(rng["w_out"]) / records_cur if records_cur else float("nan")
            if not row["note"]:
                row.update(numeric_metrics(_fine(bins[bins["feature"] == feature], rng)))
        elif expected in ("string", "bool") and feature in catsets:
            cs = catsets[feature]
            distinct = _num(cs["k"])
            if distinct > 50 and distinct >= 0.5 * (values_ref + values_cur):
                row.update(kind="identifier", note=row["note"] or f"{int(distinct):,} distinct values: an id, not compared")
            else:
                row.update(kind="categorical", metric="jensen_shannon", threshold=thresholds.jensen_shannon)
                row["out_of_range_rate"] = _num(cs["w_out"]) / records_cur if records_cur else float("nan")
                if not row["note"]:
                    row.update(categorical_metrics(cats[cats["feature"] == feature]))
        else:
            row.update(kind="nested" if expected == "nested" else (expected or "empty"),
                       note=row["note"] or "nested JSON: not compared")
        metric = row.get("metric")
        row["value"] = row.get(str(metric), float("nan")) if metric else float("nan")
        row["drifted"] = bool(metric) and _num(row["value"]) > _num(row.get("threshold"))
        row["breaches"] = ", ".join(_breaches(row, thresholds))
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(DRIFT_COLUMNS))
    if table.empty:
        return table
    score = (table["value"].astype("float64") / table["threshold"].astype("float64")).fillna(-1.0)
    order = np.lexsort((table["feature"].to_numpy(), -score.to_numpy()))
    return table.iloc[order].reset_index(drop=True)


def _breaches(row: dict[str, object], t: Thresholds) -> list[str]:
    found = []
    for name, limit, above in (
        ("normalized_wasserstein", t.wasserstein, True), ("jensen_shannon", t.jensen_shannon, True),
        ("psi", t.psi, True), ("ks_p_value", t.p_value, False), ("chi2_p_value", t.p_value, False),
        ("missing_rate", t.null_rate, True), ("type_error_rate", t.type_error_rate, True),
        ("out_of_range_rate", t.out_of_range_rate, True),
    ):
        value = row.get(name)
        if value is None or pd.isna(value):  # type: ignore[arg-type]
            continue
        if (above and float(value) > limit) or (not above and float(value) < limit):  # type: ignore[arg-type]
            found.append(name)
    return found


def histograms(frame: pd.DataFrame, service: str) -> pd.DataFrame:
    """Each feature's reference and current distributions, for charts and downloads: numeric
    features on Sturges' bins (low, high), categorical ones per category; shares of itemCount."""
    frame = frame[frame["service"] == service]
    ranges = {str(r["feature"]): r for _, r in _part(frame, "range").iterrows()}
    bins, cats = _part(frame, "bin"), _part(frame, "cat")
    parts: list[pd.DataFrame] = []
    for feature, rng in ranges.items():
        h = _fine(bins[bins["feature"] == feature], rng)
        lo, hi = _num(rng["lo"]), _num(rng["hi"])
        edges = np.linspace(lo, hi, h.k + 1) if len(h.ref_w) % max(h.m, 1) == 0 else np.linspace(lo, hi, len(h.ref_w) + 1)
        ref, cur = _sturges(h.ref_w, h.m), _sturges(h.cur_w, h.m)
        parts.append(pd.DataFrame({
            "feature": feature, "low": edges[:-1], "high": edges[1:], "category": pd.NA,
            "reference": ref, "current": cur, "reference_share": _shares(ref), "current_share": _shares(cur),
        }))
    for feature, own in cats.groupby("feature", sort=True):
        ref, cur = own["w_ref"].astype("float64").to_numpy(), own["w_cur"].astype("float64").to_numpy()
        labels = np.where(own["bin"].astype("int64").to_numpy() == 1, "(other categories)",
                          own["category"].astype("string").fillna("").to_numpy())
        parts.append(pd.DataFrame({
            "feature": str(feature), "low": np.nan, "high": np.nan, "category": labels,
            "reference": ref, "current": cur, "reference_share": _shares(ref), "current_share": _shares(cur),
        }))
    columns = ["feature", "low", "high", "category", "reference", "current", "reference_share", "current_share"]
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)[columns]
    out["category"] = out["category"].astype("string")
    return out


def over_time(frame: pd.DataFrame, service: str, feature: str, thresholds: Thresholds = Thresholds()) -> pd.DataFrame:
    """The feature's primary metric per time bucket of the current window, each bucket against
    the whole reference, beside the calls logged in the bucket. Columns: bucket, value, calls."""
    frame = frame[frame["service"] == service]
    calls = _part(frame, "calls", bucketed=True)
    volume = calls[calls["category"].fillna("") == "ok"].groupby("bucket")["w_cur"].sum()
    rng_rows = _part(frame, "range")
    rng_rows = rng_rows[rng_rows["feature"] == feature]
    values: dict[pd.Timestamp, float] = {}
    if len(rng_rows):
        rng = rng_rows.iloc[0]
        bins = frame[(frame["part"] == "bin") & (frame["feature"] == feature)]
        whole = _fine(bins[bins["bucket"].isna()], rng)
        ref = _fine(bins.iloc[:0], rng, OVER_TIME_MERGE)
        ref_w = whole.ref_w.reshape(-1, OVER_TIME_MERGE).sum(axis=1)  # exact: 4 fine bins make one
        for bucket, own in bins[bins["bucket"].notna()].groupby("bucket"):
            cur = _fine(own, rng, OVER_TIME_MERGE)
            w1 = wasserstein(ref.centres, ref_w, cur.cur_w)
            values[bucket] = round(w1 / max(whole.std_ref, MIN_STD), DECIMALS) if cur.cur_w.sum() else float("nan")
        metric = "normalized_wasserstein"
    else:
        cats = frame[(frame["part"] == "cat") & (frame["feature"] == feature)]
        key = cats["category"].fillna("") + "\x00" + cats["bin"].astype("string").fillna("")
        reference = cats[cats["bucket"].isna()].assign(key=key).groupby("key")["w_ref"].sum()
        for bucket, own in cats[cats["bucket"].notna()].assign(key=key).groupby("bucket"):
            current = own.groupby("key")["w_cur"].sum()
            both = pd.concat([reference, current], axis=1).fillna(0)
            values[bucket] = (jensen_shannon(both.iloc[:, 0].to_numpy(), both.iloc[:, 1].to_numpy())
                              if current.sum() else float("nan"))
        metric = "jensen_shannon"
    out = pd.DataFrame({"bucket": list(volume.index)})
    out["calls"] = volume.to_numpy().astype("float64")
    out["value"] = out["bucket"].map(values).astype("float64")
    out["metric"] = metric
    return out.sort_values("bucket").reset_index(drop=True)


def service_findings(frame: pd.DataFrame, service: str) -> dict[str, float]:
    """Calls read, cut at the property limit, unparsable, and features left out (current side)."""
    frame = frame[frame["service"] == service]
    calls = _part(frame, "calls")
    by = calls.groupby(calls["category"].fillna(""))["w_cur"].sum()
    dropped = _part(frame, "dropped")
    return {
        "calls": float(by.sum()), "ok": float(by.get("ok", 0)), "cut": float(by.get("cut", 0)),
        "unparsed": float(by.get("unparsed", 0)),
        "reference_calls": float(calls["w_ref"].sum()),
        "features_left_out": float(dropped["k"].sum()) if len(dropped) else 0.0,
    }
