"""Who may see the data, and secrets that never leak into the page, the URL or the logs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from components.navigation import PAGES
from tests.apptest import APP

SECRET = "s3cr3t-client-secret-7f1e"
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "cookie-" + SECRET,
    "microsoft": {
        "client_id": "00000000-0000-0000-0000-000000000001",
        "client_secret": SECRET,
        "server_metadata_url": "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration",
    },
}


def _app(secrets: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    for key, value in (secrets or {}).items():
        at.secrets[key] = value
    return at


def _everything_shown(at: AppTest) -> str:
    parts = [repr(dict(at.query_params))]
    for node in at.main, at.sidebar:
        parts.append(repr(node))
        for kind in ("markdown", "caption", "code", "error", "warning", "info", "text", "title", "metric"):
            parts += [str(getattr(e, "value", "")) for e in getattr(node, kind, [])]
    return "\n".join(parts)


def test_without_sign_in_the_sidebar_warns_that_anyone_with_the_url_sees_the_data(app_env: Path) -> None:
    at = _app().run()
    assert not at.exception
    assert any("anyone who can reach this URL" in c.value for c in at.sidebar.caption)


def test_with_entra_configured_a_signed_out_viewer_sees_only_the_sign_in_screen(app_env: Path) -> None:
    at = _app({"auth": AUTH}).run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in with Microsoft"]
    assert not at.metric and not at.dataframe, "no telemetry before sign-in"


@pytest.mark.parametrize("page", [path for path, *_ in PAGES])
def test_secrets_never_reach_the_page_the_url_or_the_logs(
    page: str, app_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    at = _app({"auth": AUTH, "azure": {"client_secret": SECRET}})
    at.run()
    at.switch_page(page).run()
    assert SECRET not in _everything_shown(at)
    assert SECRET not in caplog.text


def test_xsrf_protection_stays_on() -> None:
    config = (Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text()
    assert "enableXsrfProtection = false" not in config
    assert "enableCORS = false" not in config
