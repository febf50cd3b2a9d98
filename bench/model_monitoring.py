"""The Model page's pandas baseline: what a hand-written monitor does with the same rows.

Load the payload traces of the range into pandas, parse each payload with `json`, flatten it by
the page's rule (records of `input.data`, their keys or positions; outputs alike), then compute
per service and feature: numeric features' exact W1 and KS D from the sorted values, Jensen-
Shannon and PSI on Sturges' bins, categories' Jensen-Shannon, PSI and chi-squared; over time,
each bucket's W1 or Jensen-Shannon against the reference. The answer is one row per service and
feature (and per bucket over time), so it can be checked against the page's own numbers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from telemetry.drift import chi2_p_value, jensen_shannon, psi
from telemetry.model import RenderContext
from telemetry.payloads import PROPERTY_LIMIT
from telemetry.queries.model_monitoring import MAX_CATEGORIES, FeatureDrift

__all__ = ["MODEL_COLUMNS", "pandas_features"]

MODEL_COLUMNS = ("timestamp", "cloud_RoleName", "message", "customDimensions", "itemCount")


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _roles(message: str, dims: dict, ) -> Iterator[tuple[str, str, object]]:
    """(source, role, value) of one trace row; a cut or unreadable payload gives ("cut"/"bad", "", None)."""
    if message == "model_data_collection":
        text = str(dims.get("Content") or "")
        source = str(dims.get("Prediction/Input") or "input")
    else:
        text = str(dims.get("Contents") or "")
        source = "print"
    if len(text) >= PROPERTY_LIMIT:
        yield source, "cut", None
        return
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        yield source, "bad", None
        return
    if not isinstance(doc, dict | list):
        yield source, "bad", None
    elif source == "print":
        if isinstance(doc, dict):
            yield source, "input", doc.get("input")
            yield source, "output", doc.get("output")
    else:
        yield source, "output" if source == "prediction" else "input", doc


def _features(role: str, value: object) -> Iterator[tuple[str, object]]:
    if value is None:
        return
    data = value.get("data") if isinstance(value, dict) else None
    records = data if isinstance(data, list) else value if isinstance(value, list) else [value]
    for record in records:
        if isinstance(record, dict):
            for key in record:
                yield f"{role}.{key}", record[key]
        elif isinstance(record, list):
            for i, item in enumerate(record):
                yield f"{role}[{i}]", item
        else:
            yield role, record


def flatten(rows: pd.DataFrame, query: FeatureDrift, ctx: RenderContext) -> pd.DataFrame:
    """One row per logged value: service, period, bucket, feature, x (numbers), cat (text), w."""
    current, reference = ctx.window, query.reference.window(ctx.window)
    grain = pd.Timedelta(query.grain(ctx))
    parsed = []
    for ts, service, message, dims_text, weight in rows.itertuples(index=False):
        if _naive(current.start) <= ts < _naive(current.end):
            period = "current"
        elif _naive(reference.start) <= ts < _naive(reference.end):
            period = "reference"
        else:
            continue
        try:
            dims = json.loads(dims_text)
        except (ValueError, RecursionError, TypeError):
            continue
        if not isinstance(dims, dict):
            continue
        for source, role, value in _roles(message, dims):
            parsed.append((service, period, ts, source, role, value, weight))
    calls = pd.DataFrame(parsed, columns=["service", "period", "ts", "source", "role", "value", "w"])
    has_dc = calls.groupby("service")["source"].transform(lambda s: (s != "print").any())
    calls = calls[(calls["source"] == "print") != has_dc]
    values = []
    for service, period, ts, _, role, value, weight in calls.itertuples(index=False):
        if role in ("cut", "bad"):
            continue
        bucket = ts.floor(grain) if period == "current" else pd.NaT
        for feature, item in _features(role, value):
            number = isinstance(item, int | float) and not isinstance(item, bool) and math.isfinite(item)
            text = item if isinstance(item, str) else ("true" if item is True else "false" if item is False else None)
            values.append((service, period, bucket, feature, float(item) if number else np.nan,
                           text[:100] if text is not None else None, weight))
    return pd.DataFrame(values, columns=["service", "period", "bucket", "feature", "x", "cat", "w"])


def _cdf(side: pd.DataFrame, points: np.ndarray) -> np.ndarray:
    x, w = side["x"].to_numpy(float), side["w"].to_numpy(float)
    order = np.argsort(x, kind="stable")
    cumulative = np.cumsum(w[order]) / w.sum()
    below = np.searchsorted(x[order], points, side="right")  # values at or below each point
    return np.where(below > 0, cumulative[np.maximum(below - 1, 0)], 0.0)


def _w1_and_d(ref: pd.DataFrame, cur: pd.DataFrame) -> tuple[float, float]:
    """Exact weighted W1 and KS D, from the merged sorted values."""
    points = np.union1d(ref["x"].to_numpy(float), cur["x"].to_numpy(float))
    gap = np.abs(_cdf(ref, points) - _cdf(cur, points))
    return float((gap[:-1] * np.diff(points)).sum()), float(gap.max())


def _std(side: pd.DataFrame) -> float:
    mean = np.average(side["x"], weights=side["w"])
    return math.sqrt(np.average((side["x"] - mean) ** 2, weights=side["w"]))


def pandas_features(rows: pd.DataFrame, query: FeatureDrift, ctx: RenderContext) -> pd.DataFrame:
    values = flatten(rows, query, ctx)
    found = []
    for (service, feature), own in values.groupby(["service", "feature"], sort=True):
        numbers = own.dropna(subset=["x"])
        ref, cur = numbers[numbers["period"] == "reference"], numbers[numbers["period"] == "current"]
        row: dict[str, object] = {"service": service, "feature": feature}
        if len(numbers) >= len(own.dropna(subset=["cat"])) and len(ref) and len(cur):
            w1, d = _w1_and_d(ref, cur)
            std = _std(ref)
            lo, hi = numbers["x"].min(), numbers["x"].max()
            k = math.ceil(math.log2(min(len(ref), len(cur))) + 1)
            edges = np.linspace(lo, hi, k + 1) if hi > lo else np.array([lo, lo + 1])
            r = np.histogram(ref["x"], edges, weights=ref["w"])[0]
            c = np.histogram(cur["x"], edges, weights=cur["w"])[0]
            row.update(kind="numeric", normalized_wasserstein=w1 / max(std, 0.001), ks_statistic=d,
                       jensen_shannon=jensen_shannon(r, c), psi=psi(r, c))
        else:
            cats = own.dropna(subset=["cat"])
            table = cats.pivot_table(index="cat", columns="period", values="w", aggfunc=["sum", "count"], fill_value=0)
            if not len(table) or len(table) > MAX_CATEGORIES:
                continue
            get = lambda agg, side: table[(agg, side)].to_numpy(float) if (agg, side) in table else np.zeros(len(table))  # noqa: E731
            row.update(kind="categorical", jensen_shannon=jensen_shannon(get("sum", "reference"), get("sum", "current")),
                       psi=psi(get("sum", "reference"), get("sum", "current")),
                       chi2_p_value=chi2_p_value(get("count", "reference"), get("count", "current")))
        found.append(row)
        if (feature.startswith("output") or feature in query.features) and row.get("kind") == "numeric":
            for bucket, part in cur.groupby("bucket", sort=True):  # each bucket against the reference
                w1, _ = _w1_and_d(ref, part)
                found.append({"service": service, "feature": feature, "bucket": bucket,
                              "normalized_wasserstein": w1 / max(_std(ref), 0.001)})
    return pd.DataFrame(found)
