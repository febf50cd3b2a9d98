"""Headline numbers with their change against the previous period.

What a change may claim is decided in telemetry.comparison: nothing where the previous period is
not covered by data ("no data before <time>"), "no change" inside a percentile's resolution.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from components.telemetry_rows import plain
from telemetry.comparison import change


def change_metric(
    where: DeltaGenerator,
    label: str,
    current: float,
    previous: float | None,
    *,
    fmt: str = "{:,.0f}",
    higher_is_worse: bool = False,
    data_starts: datetime | None = None,
    resolution: float = 0.0,
) -> None:
    """`data_starts`: when the data begins, if it does not cover the previous period (then no
    change is claimed); `resolution`: the relative difference below which two values read the same."""
    if data_starts is not None:
        # short enough for a fifth of the page: the day (the time, year and "UTC" are in the help)
        where.metric(label, fmt.format(current), delta=f"no data before {data_starts:%d %b}",
                     delta_color="off", delta_arrow="off",
                     help=f"The data starts at {data_starts:%Y-%m-%d %H:%M} UTC: it does not cover the period of "
                          "the same length before this range, so no change against it is shown.")
        return
    relative = change(current, previous, resolution)
    where.metric(
        label,
        fmt.format(current),
        delta=_change(relative),
        delta_color="off" if relative == 0 else "inverse" if higher_is_worse else "normal",
        delta_arrow="off" if relative == 0 else "auto",
        help=f"Previous period (same length, just before): {fmt.format(previous or 0.0)}"
             + (f"; changes within ±{resolution:.0%} (the percentile method's resolution) read as no change"
                if resolution else ""),
    )


def _change(relative: float | None) -> str | None:
    """The change as a percentage; past tenfold as a multiple, which reads better than +22400.0 %.
    None when the previous period had none: no percentage of zero means anything."""
    if relative is None:
        return None
    if relative == 0:
        return "no change"
    if relative + 1 >= 10:
        return f"{relative + 1:,.0f}× previous period"
    return f"{relative:+.1%} vs previous period"


def explain_failure_rate(result_code: str | None) -> None:
    """Say what a failure rate means once the result-code filter narrows its requests: the share of
    that code's requests that failed (all or none of them, as a code decides failure), not of all."""
    if result_code:
        st.caption(f"Only requests with result code {plain(result_code)} are counted, so the failure rate is the share of "
                   f"those that failed (all or none of them), not of all requests. Clear the result code for that.")
