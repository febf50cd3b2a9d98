"""Sign-in holds however the app is started: plain `streamlit run app.py` included.

A fresh Streamlit server with a pages/ folder beside app.py runs its first sessions in the legacy
multipage mode, where `/latency` runs pages/latency.py alone, without app.py. Every page must still
stop at the sign-in screen for a signed-out viewer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from components.navigation import PAGES
from scripts.run_app import served
from tests.browser.conftest import settle
from tests.test_access import AUTH

pytestmark = pytest.mark.browser


def _toml(section: dict, prefix: str = "") -> str:
    plain = [f"{k} = {v!r}".replace("'", '"') for k, v in section.items() if not isinstance(v, dict)]
    lines = ([f"[{prefix}]"] if prefix else []) + plain
    for key, value in section.items():
        if isinstance(value, dict):
            lines.append(_toml(value, f"{prefix}.{key}" if prefix else key))
    return "\n".join(lines)


@pytest.fixture
def plain_streamlit_run(live_store: Path, tmp_path: Path) -> Iterator[str]:
    """`streamlit run app.py` exactly as its docstring says, fresh, with Entra sign-in configured."""
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(_toml({"auth": AUTH}) + "\n")
    with served(live_store, start=("-m", "streamlit", "run", "app.py"), args=("--secrets.files", str(secrets))) as (base, _):
        yield base


def test_a_signed_out_viewer_of_plain_streamlit_run_sees_only_the_sign_in_screen_on_every_page(
    page: Page, plain_streamlit_run: str
) -> None:
    # The page files' own URLs first, before anyone opens "/": the legacy routing's window.
    for path, *_ in PAGES:
        page.goto(f"{plain_streamlit_run}/{Path(path).stem}")
        settle(page)
        expect(page.get_by_role("button", name="Sign in with Microsoft")).to_be_visible(timeout=30_000)
        expect(page.locator('[data-testid="stMetric"]')).to_have_count(0)
        expect(page.locator('[data-testid="stDataFrame"]')).to_have_count(0)
        expect(page.locator(".js-plotly-plot")).to_have_count(0)
