"""What the user is looking at: a time range, a grain and filters, to and from URL parameters.

Parsing never raises on user input: an invalid parameter falls back to its default and leaves a
warning the page can show, so a garbled link still opens a working view.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from telemetry.markdown_text import plain

__all__ = [
    "GRAINS",
    "MAX_BINS",
    "PRESETS",
    "Filters",
    "Split",
    "TimeRange",
    "clean_text",
    "Window",
    "from_query_params",
    "to_query_params",
]

PRESETS: Final[dict[str, timedelta]] = {
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
DEFAULT_PRESET: Final = "24h"

# Every grain divides a day, so KQL's bin() and DuckDB's time_bucket() cut the same bins.
GRAINS: Final[dict[str, timedelta]] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "10m": timedelta(minutes=10),
    "15m": timedelta(minutes=15),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "2h": timedelta(hours=2),
    "3h": timedelta(hours=3),
    "6h": timedelta(hours=6),
    "12h": timedelta(hours=12),
    "1d": timedelta(days=1),
}
MAX_BINS: Final = 300
MAX_LIST_VALUES: Final = 20
MAX_VALUE_LENGTH: Final = 256

Split = Literal["service", "operation"]
SPLITS: Final[tuple[Split, ...]] = ("service", "operation")


@dataclass(frozen=True)
class Window:
    """A resolved, half-open interval [start, end) in UTC."""

    start: datetime
    end: datetime

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def previous(self) -> Window:
        """The window of the same length just before this one."""
        return Window(self.start - self.length, self.start)


@dataclass(frozen=True)
class TimeRange:
    """Relative (`preset`, sliding with now) or absolute (`start`/`end`, frozen)."""

    preset: str | None = DEFAULT_PRESET
    start: datetime | None = None
    end: datetime | None = None

    @property
    def is_relative(self) -> bool:
        return self.preset is not None

    def resolve(self, now: datetime | None = None) -> Window:
        # A relative range ends where the current minute ends, so a re-run within the minute asks
        # the same question and hits the cache, and rows of the minute in progress show (live
        # ingestion: a request a few seconds old is on the page at the next refresh).
        if self.preset is not None:
            end = _floor_minute(now or datetime.now(UTC)) + timedelta(minutes=1)
            return Window(end - PRESETS[self.preset], end)
        assert self.start is not None and self.end is not None
        return Window(self.start, self.end)

    def label(self) -> str:
        if self.preset is not None:
            return f"last {self.preset}"
        assert self.start is not None and self.end is not None
        return f"{_iso(self.start)} → {_iso(self.end)}"


@dataclass(frozen=True)
class Filters:
    time: TimeRange = field(default_factory=TimeRange)
    services: tuple[str, ...] = ()
    operation: str | None = None
    result_code: str | None = None
    grain: str | None = None  # None: chosen from the window length
    split: Split = "service"

    def window(self, now: datetime | None = None) -> Window:
        return self.time.resolve(now)

    def grain_for(self, window: Window) -> timedelta:
        if self.grain is not None:
            return GRAINS[self.grain]
        return auto_grain(window.length)

    def with_changes(self, **changes: object) -> Filters:
        return replace(self, **changes)  # type: ignore[arg-type]


def auto_grain(length: timedelta) -> timedelta:
    """The finest grain that keeps a chart at or under MAX_BINS bins."""
    for grain in GRAINS.values():
        if length / grain <= MAX_BINS:
            return grain
    return GRAINS["1d"]


def grain_name(grain: timedelta) -> str:
    return next(name for name, value in GRAINS.items() if value == grain)


def _floor_minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


_ParamValue = str | Sequence[str]


def _first(value: _ParamValue) -> str:
    if isinstance(value, str):
        return value
    return value[0] if value else ""


def _all(value: _ParamValue) -> list[str]:
    items = [value] if isinstance(value, str) else list(value)
    # "a,b" and ?service=a&service=b both name two services; "a\,b" is one name with a comma
    return [part.strip() for item in items for part in _split_list(item) if part.strip()]


_LIST_ESCAPE: Final = re.compile(r"\\([\\,])")


def _split_list(item: str) -> list[str]:
    r"""Split at commas not escaped by a backslash; `\,` and `\\` are a comma and a backslash
    inside a name, and any other backslash is itself (old links keep their meaning)."""
    parts = re.split(r"(?<!\\)((?:\\\\)*),", item)
    # re.split keeps the captured runs of escaped backslashes: they end the part before the comma
    names = [parts[0]]
    for run, rest in zip(parts[1::2], parts[2::2], strict=True):
        names[-1] += run
        names.append(rest)
    return [_LIST_ESCAPE.sub(r"\1", name) for name in names]


def list_value(name: str) -> str:
    """One name as a URL list value: commas and backslashes escaped, so it reads back whole."""
    return name.replace("\\", "\\\\").replace(",", "\\,")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(name: str, raw: str, warnings: list[str]) -> str | None:
    text = raw.strip()
    if not text:
        return None
    if len(text) > MAX_VALUE_LENGTH or _CONTROL.search(text):
        warnings.append(f"Ignored `{name}`: not a plausible value (too long or control characters).")
        return None
    return text


def from_query_params(params: Mapping[str, _ParamValue]) -> tuple[Filters, list[str]]:
    """Filters from URL parameters, and a warning for each parameter that was ignored."""
    warnings: list[str] = []
    time = _time_from_params(params, warnings)
    services = _services_from_params(params, warnings)
    operation = clean_text("operation", _first(params.get("operation", "")), warnings)
    result_code = clean_text("code", _first(params.get("code", "")), warnings)

    grain: str | None = None
    if "grain" in params:
        raw = _first(params["grain"]).strip()
        if raw in GRAINS:
            grain = raw
        elif raw and raw != "auto":
            warnings.append(f"Ignored `grain` = {plain(raw[:40])}: use one of {', '.join(GRAINS)} or auto.")

    split: Split = "service"
    if "split" in params:
        raw = _first(params["split"]).strip()
        if raw == "operation":
            split = "operation"
        elif raw != "service":
            warnings.append(f"Ignored `split` = {plain(raw[:40])}: use service or operation.")

    filters = Filters(time, services, operation, result_code, grain, split)
    if grain is not None:
        bins = filters.window().length / GRAINS[grain]
        if bins > 5 * MAX_BINS:
            warnings.append(f"Grain {grain} would draw {bins:.0f} bins; chose one automatically.")
            filters = replace(filters, grain=None)
    return filters, warnings


def _time_from_params(params: Mapping[str, _ParamValue], warnings: list[str]) -> TimeRange:
    if "from" in params or "to" in params:
        try:
            start = _parse_instant(_first(params.get("from", "")))
            end = _parse_instant(_first(params.get("to", "")))
        except (ValueError, OverflowError):
            warnings.append("Ignored `from`/`to`: give both as ISO 8601 times, e.g. 2026-11-01T12:00Z.")
        else:
            if start < end and end - start <= timedelta(days=400):
                return TimeRange(preset=None, start=start, end=end)
            warnings.append("Ignored `from`/`to`: `from` must come before `to`, at most 400 days apart.")
    raw = _first(params.get("range", DEFAULT_PRESET)).strip()
    if raw in PRESETS:
        return TimeRange(preset=raw)
    warnings.append(f"Ignored `range` = {plain(raw[:40])}: use one of {', '.join(PRESETS)}.")
    return TimeRange()


def _services_from_params(params: Mapping[str, _ParamValue], warnings: list[str]) -> tuple[str, ...]:
    if "service" not in params:
        return ()
    names: list[str] = []
    for raw in _all(params["service"]):
        name = clean_text("service", raw, warnings)
        if name is not None and name not in names:
            names.append(name)
    if len(names) > MAX_LIST_VALUES:
        warnings.append(f"Kept the first {MAX_LIST_VALUES} services of {len(names)}.")
        names = names[:MAX_LIST_VALUES]
    return tuple(names)


def to_query_params(filters: Filters) -> dict[str, str | list[str]]:
    """URL parameters that reopen the same view; defaults are left out to keep links short."""
    params: dict[str, str | list[str]] = {}
    if filters.time.preset is not None:
        if filters.time.preset != DEFAULT_PRESET:
            params["range"] = filters.time.preset
    else:
        assert filters.time.start is not None and filters.time.end is not None
        params["from"] = _iso(filters.time.start)
        params["to"] = _iso(filters.time.end)
    if filters.services:
        params["service"] = [list_value(name) for name in filters.services]  # one parameter a service
    if filters.operation:
        params["operation"] = filters.operation
    if filters.result_code:
        params["code"] = filters.result_code
    if filters.grain:
        params["grain"] = filters.grain
    if filters.split != "service":
        params["split"] = filters.split
    return params
