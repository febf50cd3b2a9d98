"""Run the app through Streamlit's AppTest, on one page with the given URL parameters."""

from __future__ import annotations

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
