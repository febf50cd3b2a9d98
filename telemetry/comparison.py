"""When a change against the previous period means something.

Two rules, shared by every page that compares a range with the period of the same length before it:

- Coverage. A comparison needs data over the previous period. A store that starts (or telemetry
  that begins) inside that period would compare a full range with a sliver of one and read as
  "↑2,532×". The previous period counts as covered when its earliest row, under the same filters,
  lies within its first tenth (`COVERED_WITHIN`); otherwise the page says "no data before <time>".
  The totals panels carry that earliest row as `first_seen` (`FIRST_SEEN`), so the rule costs no
  query of its own.
- Resolution. Percentiles come from a method with a stated resolution: the local store's log-bucket
  histogram (ratio 1.02) answers a bucket's centre, and Kusto's `percentilesw` is within about 1 %
  each side. Two percentiles less than one bucket apart (a ratio within 1.02 either way,
  `PERCENTILE_RESOLUTION`) may be the same value read twice, so such a change reads "no change".
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Final

import pandas as pd

from telemetry.filters import Window
from telemetry.model import Earliest

__all__ = ["COVERED_WITHIN", "FIRST_SEEN", "PERCENTILE_RESOLUTION", "change", "data_starts"]

COVERED_WITHIN: Final = 0.1
PERCENTILE_RESOLUTION: Final = 0.02
FIRST_SEEN: Final = Earliest("first_seen")


def data_starts(frame: pd.DataFrame, window: Window) -> datetime | None:
    """None when the previous period of `window` is covered by the rows of a Period-split panel
    with `first_seen`; otherwise the time its data starts (the range's own first row, when the
    previous period has none; the window's start when neither has any)."""
    previous = window.previous()
    first = {str(p): t for p, t in zip(frame["period"], frame["first_seen"], strict=True) if pd.notna(t)}
    if "previous" in first:
        start = pd.Timestamp(first["previous"]).to_pydatetime()
        if start.tzinfo is None:
            start = start.replace(tzinfo=previous.start.tzinfo)
        return None if start <= previous.start + previous.length * COVERED_WITHIN else start
    if "current" in first:
        start = pd.Timestamp(first["current"]).to_pydatetime()
        return start if start.tzinfo is not None else start.replace(tzinfo=window.start.tzinfo)
    return window.start


def change(current: float, previous: float | None, resolution: float = 0.0) -> float | None:
    """The relative change (0.25 = +25 %); None without a previous value to divide by; exactly 0
    when the two are within `resolution` of each other as a ratio (1.02 either way for 0.02)."""
    if previous is None or not previous or math.isnan(previous) or math.isnan(current):
        return None
    ratio = current / previous
    if resolution and ratio > 0 and abs(math.log(ratio)) <= math.log1p(resolution) + 1e-12:
        return 0.0
    return ratio - 1
