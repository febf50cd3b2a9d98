"""A drift in the demo's fraud-scorer: its inputs shift, then its predictions follow.

From `DRIFT_BEFORE_END` before the data ends (20 h, so the default 24-hour view compares a
drifted day with the two clean days before it), a new partner market opens:

    input.amount    log-normal median x1.8 (a shifted numeric input)
    input.country   "MX", never seen before, on 30 % of transactions (a new category)
    output          fraud_probability drawn from Beta(1.2, 12) instead of Beta(0.6, 18), so more
                    calls end in "review" or "decline"

merchant_category and card_present stay as they were: a monitor should flag only the others.
The drift draws from its own generator, seeded by the chunk's first timestamp, so the rest of
the demo's rows are the same with or without it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import numpy as np

__all__ = ["DRIFT_BEFORE_END", "DRIFT_SERVICE", "NEW_COUNTRY", "drift_start_us", "drift_fraud"]

DRIFT_SERVICE: Final = "fraud-scorer"
DRIFT_BEFORE_END: Final = timedelta(hours=20)
NEW_COUNTRY: Final = "MX"
NEW_COUNTRY_SHARE: Final = 0.30
AMOUNT_FACTOR: Final = 1.8


def drift_start_us(end_us: int, days: int) -> int:
    """When the drift begins: 20 h before the end, or half-way through data shorter than 40 h."""
    before = min(DRIFT_BEFORE_END, timedelta(days=days) / 2)
    return end_us - int(before.total_seconds() * 1_000_000)


def drift_fraud(
    t_us: np.ndarray, start_us: int, amount: np.ndarray, country: np.ndarray, proba: np.ndarray, new_country: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(amount, country index, fraud probability) with the calls at or after `start_us` drifted."""
    after = t_us >= start_us
    if not after.any():
        return amount, country, proba
    rng = np.random.default_rng([int(t_us[0]) & 0xFFFFFFFF, 0x5D21F7])
    n = len(t_us)
    shifted = np.where(after, np.round(amount * AMOUNT_FACTOR, 2), amount)
    moved = after & (rng.random(n) < NEW_COUNTRY_SHARE)
    countries = np.where(moved, new_country, country)
    probabilities = np.where(after, rng.beta(1.2, 12, n), proba)
    return shifted, countries, probabilities
