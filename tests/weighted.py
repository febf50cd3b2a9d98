"""Independent pandas computations of itemCount-weighted statistics, and the tolerance of the
local store's log-bucket percentiles against them.

The store answers a weighted percentile from a log-bucket histogram of ratio 1.02 (telemetry.sql)
with the geometric centre of the bucket holding the exact one, so |ln(answer) - ln(exact)| is at
most ln(1.02) / 2 (0.995 % relative), plus floating point.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import pandas as pd

from telemetry.sql import BUCKET_RATIO

__all__ = ["LOG_TOLERANCE", "close_in_log", "weighted_mean", "weighted_percentile"]

LOG_TOLERANCE: Final = math.log(BUCKET_RATIO) / 2 + 1e-9


def weighted_percentile(durations: pd.Series, weights: pd.Series, percent: float) -> float:
    """Nearest rank: the smallest duration whose cumulative weight reaches `percent` % of all."""
    order = np.argsort(durations.to_numpy(dtype="float64"), kind="stable")
    values, cumulative = durations.to_numpy(dtype="float64")[order], np.cumsum(weights.to_numpy()[order])
    return float(values[np.searchsorted(cumulative, percent / 100 * cumulative[-1], side="left")])


def weighted_mean(durations: pd.Series, weights: pd.Series) -> float:
    return float((durations * weights).sum() / weights.sum())


def close_in_log(answer: float, exact: float, buckets: float = 1) -> bool:
    """`answer` is within `buckets` times the method's tolerance of `exact` (both positive)."""
    return abs(math.log(answer) - math.log(exact)) <= buckets * LOG_TOLERANCE
