"""User text inside Markdown: the one way a telemetry value, a URL parameter or a file name goes
into a message, caption or label that Streamlit renders as Markdown.

Anyone who calls a scoring service writes telemetry, and anyone can send a link, so such text must
show as itself: never a link, an image, emphasis, code, a Streamlit directive (`:red[…]`,
`:material/…:`), LaTeX or HTML.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["plain"]

# Every ASCII punctuation character CommonMark, GFM or Streamlit gives a meaning to; a backslash
# makes each one literal.
_MARKDOWN: Final = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:&@])")
# GFM links a bare "https://…", "www.…" or e-mail address by itself (no brackets needed): a
# zero-width space after the scheme, or before the "@", keeps it text.
_AUTOLINK: Final = re.compile(r"(?i)(https?|ftp|www|mailto|xmpp)(?=\\?[:.])")
_EMAIL_AT: Final = re.compile(r"(?<=[\w.+-])\\@")


def plain(text: object) -> str:
    """`text` for a place that renders Markdown, shown as itself on one line (whitespace and line
    breaks collapse to single spaces, so it cannot start a heading, a list or a table)."""
    from telemetry.payloads import clean_text  # here: payloads imports filters, whose notes use plain()

    escaped = _MARKDOWN.sub(r"\\\1", " ".join(clean_text(text).split()))
    return _EMAIL_AT.sub("\u200b\\\\@", _AUTOLINK.sub("\\1\u200b", escaped))
