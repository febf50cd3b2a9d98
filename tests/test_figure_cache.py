"""A figure is built once per content of its data: another frame with the same values gets the same
figure without building it again, other values build anew, and a page changing its copy of a
figure does not change the next viewer's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import plotly.graph_objects as go

from components.charts import percentile_panels, series_chart
from components.figure_cache import cached_figure

BUILT: list[str] = []


@cached_figure
def _bars(frame: pd.DataFrame, *, title: str, colours: dict[str, str] | None = None) -> go.Figure:
    BUILT.append(title)
    return go.Figure(go.Bar(x=frame["x"], y=frame["y"], marker_color=(colours or {}).get("bar")),
                     layout={"title": title})


def _frame(y: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"x": ["a", "b", "c"], "y": y})


def test_equal_data_in_another_frame_reuses_the_figure_built_for_the_first() -> None:
    BUILT.clear()
    first = _bars(_frame([1.0, 2.0, 3.0]), title="once")
    again = _bars(_frame([1.0, 2.0, 3.0]), title="once")
    assert BUILT == ["once"]
    assert again.to_json() == first.to_json() and again is not first


def test_other_values_dtypes_columns_or_arguments_build_a_new_figure() -> None:
    BUILT.clear()
    _bars(_frame([1.0, 2.0, 3.0]), title="t")
    _bars(_frame([1.0, 2.0, 4.0]), title="t")
    _bars(_frame([1.0, 2.0, 3.0]).astype({"y": "float32"}), title="t")
    _bars(_frame([1.0, 2.0, 3.0]).rename(columns={"x": "x"}).assign(z=1), title="t")
    _bars(_frame([1.0, 2.0, 3.0]), title="t", colours={"bar": "#d62728"})
    _bars(_frame([1.0, 2.0, 3.0]), title="other")
    assert len(BUILT) == 6


def test_a_page_setting_properties_on_its_figure_leaves_the_next_one_as_built() -> None:
    mine = _bars(_frame([5.0, 6.0, 7.0]), title="shared")
    mine.update_layout(height=360).update_yaxes(type="log").update_traces(marker_color="red")
    theirs = _bars(_frame([5.0, 6.0, 7.0]), title="shared")
    assert theirs.layout.height is None and theirs.layout.yaxis.type is None
    assert theirs.data[0].marker.color is None


def test_arguments_without_a_content_key_build_every_time() -> None:
    BUILT.clear()

    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

    @cached_figure
    def with_object(frame: pd.DataFrame, thing: object) -> go.Figure:
        BUILT.append("built")
        return go.Figure()

    with_object(_frame([1.0, 2.0, 3.0]), Unhashable())
    with_object(_frame([1.0, 2.0, 3.0]), Unhashable())
    assert BUILT == ["built", "built"]


def _percentiles() -> pd.DataFrame:
    start = datetime(2026, 11, 20, tzinfo=UTC)
    rows = [{"bucket": start + timedelta(minutes=5 * i), "series": s, "requests": 10 + i,
             "p50_ms": 10.0 + i, "p95_ms": 50.0 + i, "p99_ms": 90.0 + i, "mean_ms": 20.0 + i}
            for i in range(12) for s in ("churn-regressor", "fraud-scorer")]
    return pd.DataFrame(rows)


def test_the_chart_builders_draw_the_same_figure_from_the_cache_as_built_fresh() -> None:
    frame = _percentiles()
    fresh = percentile_panels.__wrapped__(frame, max_series=6)  # type: ignore[attr-defined]
    percentile_panels(frame.copy(), max_series=6)
    assert _spec(percentile_panels(frame.copy(), max_series=6)) == _spec(fresh)
    bars = frame.rename(columns={"p50_ms": "value"})
    assert _spec(series_chart(bars, "value", y_title="ms")) == \
        _spec(series_chart.__wrapped__(bars, "value", y_title="ms"))  # type: ignore[attr-defined]


def _spec(figure: go.Figure) -> object:
    """What st.plotly_chart sends of a figure, as data (property order aside)."""
    return json.loads(figure.to_json())
