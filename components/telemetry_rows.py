"""One telemetry row read by a person: a trace with its printed JSON as a tree, an exception's
stack. Whatever the row holds (cut JSON, a megabyte of text, bytes that were not UTF-8), it is
shown with a note, never raised."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

import pandas as pd
import streamlit as st

from telemetry.markdown_text import plain
from telemetry.payloads import ITEM_LIMIT, MESSAGE_LIMIT, PROPERTY_LIMIT, Parsed, clean_text, parse_json, size_guard
from telemetry.queries.traces import SEVERITIES
from telemetry.stacks import Details, parse_details, telling_line

__all__ = ["SHOWN_CHARS", "capped", "plain", "show_details", "show_json_text", "show_trace", "trace_title"]

SHOWN_CHARS: Final = 20_000  # characters of one text shown as it is; more is cut with a note
_TREE_DEPTH: Final = 2  # levels of a JSON tree open at first


def capped(text: object, limit: int = SHOWN_CHARS) -> tuple[str, str]:
    """(text to show, note) with the note saying how much was left out."""
    value = clean_text(text)
    if len(value) <= limit:
        return value, ""
    return value[:limit], f"Showing the first {limit:,} of {len(value):,} characters."


def show_text(text: object, *, language: str | None = None) -> None:
    shown, note = capped(text)
    # A long text (8 KB of base64, a megabyte message) scrolls in its box instead of filling the page.
    st.code(shown, language=language, wrap_lines=True, height=320 if shown.count("\n") > 40 or len(shown) > 4_000
            else "content")
    if note:
        st.caption(note)


def _problem_note(parsed: Parsed, text: str, what: str) -> None:
    if parsed.truncated:
        limit = size_guard(text)
        where = f" at the {limit}" if limit else ""
        st.warning(f"{what} was cut{where} ({len(text):,} characters): the JSON no longer parses.",
                   icon=":material/content_cut:")
    elif parsed.status in ("too_deep", "too_large"):
        st.warning(f"{what} is not shown as a tree: {parsed.detail}.", icon=":material/warning:")


def show_json_text(text: object, *, what: str = "The payload") -> Parsed:
    """JSON text as a tree; a print that is not JSON as text; cut or huge JSON as text with a note."""
    value = clean_text(text)
    parsed = parse_json(value)
    if parsed.ok and isinstance(parsed.value, dict | list):
        st.json(parsed.value, expanded=_TREE_DEPTH)
    else:
        _problem_note(parsed, value, what)
        show_text(value)
    return parsed


def _severity(level: object) -> str:
    try:
        number = int(level)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return "?"
    return f"{SEVERITIES.get(number, 'level')} ({number})"


def _printed(row: Mapping[str, object]) -> str:
    """What a print or data collection logged (the message is only "STDOUT"), for a title."""
    dims = parse_json(row.get("customDimensions"))
    if not (dims.ok and isinstance(dims.value, dict)):
        return ""
    return clean_text(dims.value.get("Contents") or dims.value.get("Content") or "")


def trace_title(row: Mapping[str, object], match: str | None = None) -> str:
    """A trace's line in a list: time, severity, service, message and the first line of what it
    printed that says something; `match` (the search text) in bold where it occurs, as text."""
    stamp = pd.Timestamp(row["timestamp"]).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    first_line, _ = capped(telling_line(_printed(row) or clean_text(row.get("message"))), 100)
    message = clean_text(row.get("message"))
    return marked(f"{stamp} · {_severity(row.get('severityLevel'))} · {clean_text(row.get('cloud_RoleName'))} · "
                  f"{message[:40]}: {first_line}", match)


def marked(text: str, match: str | None) -> str:
    """`text` as Markdown that shows itself, with each case-insensitive occurrence of `match` in
    bold. The pieces are escaped one by one, so the text never formats, links or styles."""
    if not match or not match.strip():
        return plain(text)
    pieces = re.split(f"({re.escape(match.strip())})", " ".join(text.split()), flags=re.IGNORECASE)
    def kept(piece: str) -> str:  # plain() trims: the spaces around a match stay
        return (" " if piece[:1].isspace() else "") + plain(piece) + (" " if piece[-1:].isspace() else "")

    return "".join(f"**{plain(piece)}**" if i % 2 else kept(piece) for i, piece in enumerate(pieces) if piece)


def _sizes(message: str, dims: str, props: Mapping[str, object] | None) -> str:
    """The row's sizes against App Insights' limits, naming each limit reached."""
    reached = [f"the {MESSAGE_LIMIT:,}-character message limit"] if len(message) >= MESSAGE_LIMIT else []
    reached += [f"the {PROPERTY_LIMIT:,}-character limit in {plain(key)}" for key, value in (props or {}).items()
                if len(clean_text(value)) >= PROPERTY_LIMIT]
    if len(message) + len(dims) >= ITEM_LIMIT:
        reached.append(f"the {ITEM_LIMIT // 1024} KB item limit")
    note = f" · reached {', '.join(reached)}" if reached else ""
    return f"Message {len(message):,} characters · customDimensions {len(dims):,}{note}"


def show_trace(row: Mapping[str, object]) -> None:
    """A trace's message, severity and customDimensions: the printed text (`Contents`) as a JSON
    tree when it is JSON, model data collection's `Content` as its input or prediction."""
    op = f" · **operation** {plain(row['operation_Id']) or '—'}" if "operation_Id" in row else ""
    st.markdown(f"**Severity** {_severity(row.get('severityLevel'))}{op}")
    show_text(row.get("message"))
    dims_text = clean_text(row.get("customDimensions"))
    dims = parse_json(dims_text)
    props = dims.value if dims.ok and isinstance(dims.value, dict) else None
    st.caption(_sizes(clean_text(row.get("message")), dims_text, props))
    if props is None:
        if dims_text:
            st.caption("customDimensions")
            show_json_text(dims_text, what="customDimensions")
        return
    if "Contents" in props:
        st.caption("Printed (`Contents`)")
        show_json_text(props["Contents"], what="The printed text")
    if "Content" in props:
        which = clean_text(props.get("Prediction/Input")) or "content"
        st.caption(f"Model data collection: **{plain(which)}**")
        show_json_text(props["Content"], what=f"The {plain(which)}")
    rest = {k: v for k, v in props.items() if k not in ("Contents", "Content")}
    if rest:
        st.caption("Other properties")
        st.json(rest, expanded=False)


def show_details(details: Details) -> None:
    """An exception's stack traces, outermost first; unparsable details as text with why."""
    if not details.ok:
        st.warning(f"The stack trace could not be read ({details.status}): {details.note}.",
                   icon=":material/warning:")
        if details.raw:
            show_text(details.raw)
        return
    for part in details.parts:
        st.markdown(f"**{plain(part.type)}**")
        if not part.raw_stack:  # the runtime's own traceback ends with the message already
            st.text(capped(part.message, 2_000)[0])
        show_text(part.stack_text, language="python")


def show_exception_details(details_text: object) -> None:
    show_details(parse_details(details_text))
