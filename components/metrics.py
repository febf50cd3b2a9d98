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
    where.metric(
        label,
        fmt.format(current),
        delta=_change(current, previous),
        delta_color="inverse" if higher_is_worse else "normal",
        help=f"Previous period (same length, just before): {fmt.format(previous)}",
    )


def _change(current: float, previous: float) -> str | None:
    """The change as a percentage; past tenfold as a multiple, which reads better than +22400.0 %.
    None when the previous period had none: no percentage of zero means anything."""
    if not previous:
        return None
    ratio = current / previous
    if ratio >= 10:
        return f"{ratio:,.0f}× previous period"
    return f"{ratio - 1:+.1%} vs previous period"
