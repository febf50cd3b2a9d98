"""An exception's `details` (JSON text App Insights keeps) as readable stack traces.

`details` is a list of exceptions, outermost first, each {"id", "outerId", "type", "message",
"hasFullStack", "parsedStack": [{"level", "method", "assembly", "fileName", "line"}], "rawStack"}.
It may be cut at the item limit or be something else entirely; then the raw text is all we have,
and `Details.status` says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from telemetry.payloads import Parsed, clean_text, parse_json

__all__ = ["Details", "ExceptionPart", "RAW_SHOWN", "parse_details", "telling_line"]

RAW_SHOWN: Final = 20_000  # characters of unparsable details shown as they are


@dataclass(frozen=True)
class ExceptionPart:
    type: str
    message: str
    frames: tuple[str, ...]  # 'File "score.py", line 47, in run', innermost call last
    raw_stack: str  # the runtime's own traceback text, when it sent one

    @property
    def stack_text(self) -> str:
        """The traceback to show: the runtime's own, else one built from the parsed frames."""
        if self.raw_stack:
            return self.raw_stack
        lines = [f"  {frame}" for frame in self.frames]
        return "\n".join(["Stack (most recent call last):", *lines, f"{self.type}: {self.message}"])


@dataclass(frozen=True)
class Details:
    status: str  # ok | empty | not_json | truncated | too_deep | too_large | not_a_list
    parts: tuple[ExceptionPart, ...] = ()
    raw: str = ""  # the text (capped at RAW_SHOWN) when it did not parse
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _frame(frame: object) -> str | None:
    if not isinstance(frame, dict):
        return None
    where = clean_text(frame.get("fileName")) or clean_text(frame.get("assembly")) or "?"
    line = frame.get("line")
    method = clean_text(frame.get("method")) or "?"
    line_text = f", line {line}" if isinstance(line, int) and not isinstance(line, bool) else ""
    return f'File "{where}"{line_text}, in {method}'


def _level(frame: object) -> int:
    level = frame.get("level") if isinstance(frame, dict) else None
    return level if isinstance(level, int) and not isinstance(level, bool) else 0


def _part(entry: Mapping[str, object]) -> ExceptionPart:
    stack = entry.get("parsedStack")
    frames = sorted(stack, key=_level, reverse=True) if isinstance(stack, list) else []
    shown = tuple(f for f in map(_frame, frames) if f is not None)
    return ExceptionPart(clean_text(entry.get("type")) or "?", clean_text(entry.get("message")), shown,
                         clean_text(entry.get("rawStack")))


def parse_details(text: object) -> Details:
    parsed: Parsed = parse_json(text)
    if not parsed.ok:
        raw = clean_text(text)
        note = parsed.detail or "no details were logged"
        if len(raw) > RAW_SHOWN:
            note += f"; showing the first {RAW_SHOWN:,} of {len(raw):,} characters"
        return Details(parsed.status, raw=raw[:RAW_SHOWN], note=note)
    value = parsed.value
    entries = value if isinstance(value, list) else [value]
    parts = tuple(_part(entry) for entry in entries if isinstance(entry, dict))
    if not parts:
        return Details("not_a_list", raw=clean_text(text)[:RAW_SHOWN],
                       note="details is JSON but not a list of exceptions")
    return Details("ok", parts)


_NOT_SAYING: Final = ("traceback (most recent call last):", "during handling of the above exception",
                      "the above exception was the direct cause")


def telling_line(text: str) -> str:
    """The first line of a logged text that says something: of a Python traceback, its exception
    line ("ValueError: bad input", the last unindented line), not "Traceback (most recent call
    last):"; otherwise the first line that is not blank."""
    lines = [line.rstrip() for line in clean_text(text).splitlines() if line.strip()]
    if not lines:
        return ""
    if lines[0].strip().lower().startswith(_NOT_SAYING[0]):
        said = [line for line in lines if not line[:1].isspace() and not line.lower().startswith(_NOT_SAYING)]
        if said:
            return said[-1]
    return lines[0].strip()
