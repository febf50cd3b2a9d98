"""Signing in as DefaultAzureCredential does on a developer's machine: through the Azure CLI.

A stand-in `az` on PATH answers `az account get-access-token` with the fake Logs API's token, so
the app's real credential chain (environment, managed identity, ..., Azure CLI) runs unchanged and
no test reaches Azure. Each call is logged, so a test can see which resource and tenant the
token was asked for.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st

from telemetry.config import ENV_VARS
from tests.apptest import window_params
from tests.fake_logs_api import FakeLogsApi, serve

_SCRIPT = """#!/bin/sh
printf '%s\\n' "$*" >> "{log}"
cat <<'JSON'
{answer}
JSON
"""


def signed_in_with_az(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token: str) -> Path:
    """Put an `az` that hands out `token` first on PATH; returns the file its calls are logged in."""
    bin_dir = tmp_path / "az-bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "az-calls.log"
    answer = json.dumps({"accessToken": token, "expiresOn": "2099-01-01 00:00:00.000000", "expires_on": 4070908800,
                         "subscription": "00000000-0000-0000-0000-000000000000", "tenant": "fake-tenant",
                         "tokenType": "Bearer"})
    az = bin_dir / "az"
    az.write_text(_SCRIPT.format(log=log, answer=answer))
    az.chmod(az.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_USERNAME",
                 "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT", "MSI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)  # the developer's own sign-in must not come first
    return log


# --- the app over the fake Logs API, as fixtures (import them into a test module to use them) ----

@pytest.fixture(scope="module")
def fake(demo_store: Path) -> Iterator[FakeLogsApi]:
    with serve(demo_store) as running:
        yield running


@pytest.fixture
def signed_in(fake: FakeLogsApi, app_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The app signed in to Azure through the CLI, no Logs API configured yet, empty caches.
    Yields the log of the `az` calls."""
    log = signed_in_with_az(tmp_path, monkeypatch, fake.token)
    for var in ENV_VARS.values():
        monkeypatch.delenv(var, raising=False)
    st.cache_resource.clear()
    yield log
    fake.clear_faults()
    st.cache_resource.clear()


@pytest.fixture
def day(demo_end: datetime) -> dict[str, str]:
    """URL parameters of the demo's last day."""
    return window_params(demo_end - timedelta(days=1), demo_end)


def configure(monkeypatch: pytest.MonkeyPatch, fake: FakeLogsApi, **settings: str) -> None:
    """Configure the app as a user would, through ENDPOINT_MONITOR_* variables, on the fake's
    endpoint (http:// is admitted for 127.0.0.1 only)."""
    monkeypatch.setenv(ENV_VARS["endpoint"], fake.endpoint)
    for name, value in settings.items():
        monkeypatch.setenv(ENV_VARS[name], value)
