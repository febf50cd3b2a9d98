"""Headline numbers with their change against the previous period."""

from __future__ import annotations

from streamlit.delta_generator import DeltaGenerator


def change_metric(
    where: DeltaGenerator,
    label: str,
    current: float,
    previous: float,
    *,
    fmt: str = "{:,.0f}",
    higher_is_worse: bool = False,
) -> None:
    delta = f"{(current - previous) / previous:+.1%} vs previous period" if previous else None
    where.metric(
        label,
        fmt.format(current),
        delta=delta,
        delta_color="inverse" if higher_is_worse else "normal",
        help=None if previous else "No data in the previous period to compare with.",
    )
