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
from pathlib import Path

import pytest

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
