"""Figures built once per answer, shared by every session and rerun that draws the same data.

Building a Plotly figure validates every property of every trace: 80 ms of CPU for the latency
page's small multiples, more than the rest of a cached page view. The answers behind the charts
come from the shared answer cache, so most views draw figures already drawn for another viewer.
`cached_figure` keeps a builder's figure, as a plain dict, under its arguments' content (a
frame's values, columns and dtypes, not its identity: pages hand builders frames they derive on
each run); each call gets a new Figure made from that dict without validating it again (2 ms),
so a page may still set properties on its own copy. The theme is not part of the figure
(st.plotly_chart applies it in the browser), so one entry serves light and dark.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Final, ParamSpec

import pandas as pd
import plotly.graph_objects as go
from cachetools import LRUCache

__all__ = ["cached_figure", "content_key"]

P = ParamSpec("P")

MAX_FIGURES: Final = 512  # a few hundred KB each at most: a bounded share of the server's memory
_figures: LRUCache[Hashable, dict[str, Any]] = LRUCache(maxsize=MAX_FIGURES)
_lock = threading.Lock()


class Uncacheable(TypeError):
    """An argument whose content cannot be keyed: the figure is built every time."""


def _digest(values: pd.DataFrame | pd.Series) -> str:
    hashed = pd.util.hash_pandas_object(values, index=True).to_numpy()
    return hashlib.blake2b(hashed.tobytes(), digest_size=16).hexdigest()


def content_key(value: object) -> Hashable:
    """A hashable key that is equal for equal content: frames and series by their values, index,
    names and dtypes; mappings and sequences by their items; anything else hashable as itself."""
    if isinstance(value, pd.DataFrame):
        return ("frame", tuple(map(str, value.columns)), tuple(map(str, value.dtypes)), _digest(value))
    if isinstance(value, pd.Series):
        return ("series", str(value.name), str(value.dtype), _digest(value))
    if isinstance(value, Mapping):
        return ("mapping", tuple((content_key(k), content_key(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(content_key(v) for v in value))
    try:
        hash(value)
    except TypeError as error:
        raise Uncacheable(f"no content key for {type(value).__name__}") from error
    return (type(value).__name__, value)


def cached_figure(build: Callable[P, go.Figure]) -> Callable[P, go.Figure]:
    """`build`, with its figure kept per content of its arguments (see the module's docstring)."""
    name = f"{build.__module__}.{build.__qualname__}"

    @functools.wraps(build)
    def cached(*args: P.args, **kwargs: P.kwargs) -> go.Figure:
        try:
            key = (name, content_key(args), content_key(dict(sorted(kwargs.items()))))
        except Uncacheable:
            return build(*args, **kwargs)
        with _lock:
            spec = _figures.get(key)
        if spec is None:
            spec = build(*args, **kwargs).to_dict()
            with _lock:
                _figures[key] = spec
        return go.Figure(spec, _validate=False)

    return cached
