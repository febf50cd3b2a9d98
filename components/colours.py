"""Colours that carry meaning, the same on every page and in light and dark.

Red is failure only. Result codes take their class's colour (2xx green, 3xx grey, 4xx amber,
5xx red, a shade per code within the class); severities run from grey to dark red in their order;
any other series (a service, an operation, a dependency) takes a colour from a palette without red
or amber, chosen by a stable hash of its name, so a service looks the same on every chart.
"""

from __future__ import annotations

import hashlib
from typing import Final, Literal

__all__ = ["Palette", "SEVERITY_COLOURS", "code_colour", "colour", "series_colour", "series_order"]

Palette = Literal["series", "codes", "severity"]

# Tableau-like hues with red, orange and amber left out (they mean failure and warning here).
_SERIES: Final = ("#1f77b4", "#17becf", "#9467bd", "#8c564b", "#e377c2", "#2ca089", "#7f7f7f", "#bcbd22",
                  "#3f5fa8", "#a05195", "#5b8e7d", "#6b6ecf")
_CLASSES: Final = {"2": ("#2e8540", "#4caf50", "#81c784"), "3": ("#7f7f7f", "#a0a0a0", "#5f5f5f"),
                   "4": ("#e69f00", "#f5b942", "#c98500"), "5": ("#d62728", "#a50f15", "#ef6461")}
SEVERITY_COLOURS: Final = {"Verbose": "#9e9e9e", "Information": "#1f77b4", "Warning": "#e69f00",
                           "Error": "#d62728", "Critical": "#7f0000"}


def _stable(name: str, choices: tuple[str, ...]) -> str:
    digest = hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=4).digest()
    return choices[int.from_bytes(digest, "big") % len(choices)]


def series_colour(name: str) -> str:
    return _stable(name, _SERIES)


def code_colour(code: str) -> str:
    """A result code's colour: its class's hue, a shade per code; anything else grey."""
    shades = _CLASSES.get(code.strip()[:1]) if code.strip()[:3].isdigit() else None
    return _stable(code, shades) if shades else "#7f7f7f"


def colour(name: str, palette: Palette = "series") -> str:
    if palette == "codes":
        return code_colour(name)
    if palette == "severity":
        return SEVERITY_COLOURS.get(name, "#7f7f7f")
    return series_colour(name)


def series_order(name: str, palette: Palette = "series") -> tuple[int, str]:
    """Where a series goes in a legend and a stack: severities in their order, others by name."""
    if palette == "severity":
        return (list(SEVERITY_COLOURS).index(name) if name in SEVERITY_COLOURS else len(SEVERITY_COLOURS), name)
    return (0, name)
