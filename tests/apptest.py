"""Run the app through Streamlit's AppTest, on one page with the given URL parameters."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from streamlit.testing.v1 import AppTest

from components.navigation import PAGES

APP = Path(__file__).resolve().parents[1] / "app.py"


def run_page(page: str, **params: str | list[str]) -> AppTest:
    """`page` is a file under pages/ (e.g. "pages/requests.py"); params become the URL's.

    The app runs once first: AppTest resolves a page to the url path st.navigation registers
    only after a run, and switching by file name alone would run the page without app.py.
    """
    at = AppTest.from_file(str(APP), default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    if page == PAGES[0][0]:
        return at  # the default page is where the first run lands
    at.switch_page(page)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def window_params(start: datetime, end: datetime) -> dict[str, str]:
    """URL parameters of the absolute range [start, end)."""
    return {"from": start.strftime("%Y-%m-%dT%H:%MZ"), "to": end.strftime("%Y-%m-%dT%H:%MZ")}


def texts(at: AppTest, kind: str) -> list[str]:
    """What the elements of `kind` ("info", "warning", "markdown"…) say, markdown escapes taken out."""
    return [str(e.value).replace("\\", "") for e in at.get(kind)]
