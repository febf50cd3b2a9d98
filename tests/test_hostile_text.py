"""Telemetry, URL parameters and file names are written by strangers: wherever the app shows them
inside Markdown or a Plotly chart they read as themselves, never as a link, an image, code,
emphasis, a line break or a style."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from components.charts import operation_timeline, percentile_panels, plotly_text, ranking_bars, raw_text, series_chart
from components.deployment_charts import per_deployment_chart
from telemetry.markdown_text import plain
from tests.apptest import run_page
from tests.test_import import FIXTURES, ROOT

HOSTILE = (
    "[phish](https://evil.example/login)", "![pix](https://evil.example/p.png)", "`code` [x](https://e.example)",
    '<a href="https://evil.example">a</a>', "two<br>lines", '<span style="font-size:60px">big</span>',
    "**bold** _it_ ~~gone~~ $x^2$ :red[alarm] :material/warning:", "www.evil.example and me@evil.example",
    "# heading", "1. list", "&lt;entity&gt; &#91;x&#93;(https://e.example)",
)

# GFM as Streamlit renders it: links bare URLs and e-mail addresses, but not "example.com" alone.
_MD = MarkdownIt("gfm-like")
_MD.linkify.set({"fuzzy_link": False})
_TEXT_TOKENS = {"text", "text_special", "softbreak", "hardbreak"}  # breaks: the messages' own lines


def markup_in(markdown: str) -> list[str]:
    """The tokens of `markdown` that are more than text (links, images, code, emphasis, HTML…)."""
    found = []
    for block in _MD.parse(markdown):
        if block.type == "html_block" or block.type.startswith(("heading", "bullet", "ordered", "table", "code")):
            found.append(block.type)
        found += [t.type for t in block.children or [] if t.type not in _TEXT_TOKENS]
    return found


def shown_text(markdown: str) -> str:
    """What a reader sees of `markdown` (its text), zero-width spaces taken out."""
    return "".join(t.content for b in _MD.parse(markdown) for t in b.children or []
                   if t.type in _TEXT_TOKENS).replace("\u200b", "")


def _unescaped(markdown: str, char: str) -> bool:
    """Whether `char` occurs in `markdown` without a backslash before it (Streamlit's own syntax,
    `:red[…]`, `:material/…:`, `$…$`, which CommonMark parsers do not know)."""
    return re.search(rf"(?<!\\){re.escape(char)}", markdown.replace("\\\\", "")) is not None


@pytest.mark.parametrize("text", HOSTILE)
def test_plain_text_in_markdown_shows_as_itself(text: str) -> None:
    markdown = plain(text)
    assert markup_in(markdown) == []
    assert shown_text(markdown) == text
    assert not _unescaped(markdown, ":") and not _unescaped(markdown, "$")


@settings(max_examples=400, deadline=None)
@given(st.text(st.sampled_from(list("[]()!<>`*_~:$&@#\\|-+.=/ \n1aéhtpsw")) | st.characters(exclude_categories=("Cs",)),
               max_size=60))
def test_any_text_in_markdown_shows_as_itself_on_one_line(text: str) -> None:
    markdown = plain(text)
    assert markup_in(markdown) == []
    expected = " ".join(text.split()).replace("\x00", "\ufffd").replace("\u200b", "")  # CommonMark shows NUL so
    assert shown_text(markdown) == expected


def _strings(node: object, path: str = "") -> list[tuple[str, str]]:
    if isinstance(node, str):
        return [(path, node)]
    if isinstance(node, dict):
        return [s for key, value in node.items() if key not in ("template", "hovertemplate")
                for s in _strings(value, f"{path}.{key}")]
    if isinstance(node, list | tuple) or hasattr(node, "tolist"):
        items = node.tolist() if hasattr(node, "tolist") else node
        return [s for i, value in enumerate(items) for s in _strings(value, f"{path}[{i}]")]
    return []


def _plotly_markup(figure: object) -> list[tuple[str, str]]:
    """Strings in the figure Plotly would read as HTML: a tag, or an entity it would decode."""
    return [(path, text) for path, text in _strings(figure.to_plotly_json())  # type: ignore[attr-defined]
            if "<" in text or re.search(r"&(?!amp;|lt;)", text)]


def test_charts_show_telemetry_labels_as_text() -> None:
    bins = pd.to_datetime(["2026-11-20T10:00Z", "2026-11-20T10:05Z"])
    frame = pd.DataFrame([{"bucket": b, "series": s, "requests": 5, "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0,
                           "mean_ms": 1.5} for s in HOSTILE for b in bins])
    labels, values = pd.Series(HOSTILE), pd.Series(range(len(HOSTILE)))
    start = pd.Timestamp("2026-11-20T10:00Z")
    events = pd.DataFrame({"kind": ["requests", "dependencies", "traces", "exceptions"],
                           "label": list(HOSTILE[:4]), "detail": list(HOSTILE[4:8]),
                           "start": [start] * 4, "end": [start + pd.Timedelta(seconds=1)] * 4,
                           "failed": [False, True, False, True]})
    figures = [series_chart(frame, "requests", y_title=HOSTILE[3]), series_chart(frame, "requests", y_title="x",
                                                                                 kind="line"),
               ranking_bars(labels, values, x_title="calls", text=labels),
               percentile_panels(frame, max_series=len(HOSTILE)), operation_timeline(events),
               per_deployment_chart(frame.rename(columns={"series": "deployment"}), "requests", y_title="requests")]
    for figure in figures:
        assert _plotly_markup(figure) == []
    names = [trace.name for trace in figures[0].data]
    assert [raw_text(name) for name in names] == sorted(HOSTILE), "a clicked series gives back its own value"


@given(st.text())
def test_a_plotly_label_gives_back_its_value(text: str) -> None:
    assert raw_text(plotly_text(text)) == text


_SHOWN_AS_MARKDOWN = ("markdown", "caption", "info", "warning", "error", "success", "title", "subheader")


def _markdown_shown(at: AppTest) -> list[str]:
    return [str(e.value) for kind in _SHOWN_AS_MARKDOWN for e in at.get(kind)] + \
        [str(e.label) for e in at.get("expander")]


def _hostile_shown(at: AppTest, marker: str) -> list[str]:
    shown = [text for text in _markdown_shown(at) if marker in shown_text(text)]
    assert shown, f"the page shows the value with {marker!r} somewhere"
    return shown


@pytest.mark.parametrize("page", ["pages/requests.py", "pages/latency.py", "pages/traces.py"])
def test_url_values_in_a_pages_messages_show_as_text(page: str, app_env: Path) -> None:
    at = run_page(page, service=[HOSTILE[0], HOSTILE[1]], grain="`x`[l](https://e.example)",
                  range="<br>![pix](https://x.example)", severity="`[s](https://e.example)`",
                  pg="[p](https://e.example)")
    assert not at.exception
    for marker in ("phish", "pix", "l](https"):
        for text in _hostile_shown(at, marker):
            assert markup_in(text) in ([], ["strong"], ["code_inline"]), text  # the message's own bold or code


def test_an_import_summary_shows_file_names_record_types_and_keys_as_text(
    demo_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = tmp_path / "demo.duckdb"
    shutil.copy(demo_store, demo)
    monkeypatch.setenv("ENDPOINT_MONITOR_STORE", str(demo))
    monkeypatch.chdir(ROOT)
    good = (FIXTURES / "data_export_PT1H.json").read_text().splitlines()[0]
    odd_type = json.loads(good) | {"Type": "[t](https://evil.example)", "_ItemId": "odd"}
    not_exports = json.dumps({'<a href="https://evil.example">k</a>': 1, "[key](https://evil.example)": 2})
    at = run_page("pages/requests.py")
    at.file_uploader[0].set_value([
        ("PT1H.json", "\n".join([good, json.dumps(odd_type)]).encode(), "application/json"),
        ("[phish](javascript:x)`n`<br>.json", not_exports.encode(), "application/json"),
    ]).run()
    next(b for b in at.button if b.label == "Import").click().run()
    assert not at.exception
    for marker in ("[t](https://evil.example)", "[key](https://evil.example)", "[phish](javascript:x)`n`<br>.json"):
        for text in _hostile_shown(at, marker):
            assert markup_in(text) == [], text
