"""Line charts join their points in time order, whatever order the rows came in (the Logs API
does not promise one)."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd

from components.charts import percentile_panels, series_chart, sparkline

BINS = pd.date_range("2026-11-20T10:00Z", periods=24, freq="5min")


def _shuffled() -> pd.DataFrame:
    frame = pd.DataFrame([{"bucket": b, "series": s, "requests": i + 1, "p50_ms": 1.0 + i, "p95_ms": 2.0 + i,
                           "p99_ms": 3.0 + i, "mean_ms": 1.5 + i} for s in ("a", "b") for i, b in enumerate(BINS)])
    return frame.sample(frac=1, random_state=3).reset_index(drop=True)


def _values(array: object) -> list[float]:
    """A trace's values, as given or as Plotly's base64 typed array (figures come back from a cache)."""
    if isinstance(array, dict) and "bdata" in array:
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)  # type: ignore[call-overload]


def _in_time_order(figure: object) -> bool:
    return all(np.all(np.diff(pd.to_datetime(trace.x).asi8) > 0) for trace in figure.data)  # type: ignore[attr-defined]


def test_series_lines_and_percentile_panels_draw_their_points_in_time_order() -> None:
    frame = _shuffled()
    assert _in_time_order(series_chart(frame, "requests", y_title="requests", kind="line"))
    assert _in_time_order(series_chart(frame, "requests", y_title="requests"))
    assert _in_time_order(percentile_panels(frame))


def test_a_sparkline_draws_its_points_in_time_order_with_their_own_values() -> None:
    frame = _shuffled()
    frame = frame[frame["series"] == "a"]
    figure = sparkline(frame["bucket"], frame["requests"])
    assert _in_time_order(figure)
    assert _values(figure.data[0].y) == list(range(1, 25))
