"""Where the telemetry comes from: settings for the Azure Monitor Logs API, read from the
environment or from Streamlit's secrets (passed in as a mapping: this package imports no Streamlit).

Nothing here is a secret: credentials come from `azure-identity` (az login, managed identity,
service principal or workload identity environment variables), never from these settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["DEFAULT_ENDPOINT", "ENV_PREFIX", "LogsApiSettings"]

DEFAULT_ENDPOINT: Final = "https://api.loganalytics.io"
ENV_PREFIX: Final = "ENDPOINT_MONITOR_"

Scope = Literal["workspace", "resource"]


@dataclass(frozen=True)
class LogsApiSettings:
    """One Logs API scope: a Log Analytics workspace (workspace tables) or a classic Application
    Insights component by resource id (classic tables). Exactly one of the two ids is set."""

    workspace_id: str | None = None
    resource_id: str | None = None
    endpoint: str = DEFAULT_ENDPOINT  # sovereign clouds: https://api.loganalytics.us, China's
    audience: str | None = None  # token audience when it differs from the endpoint
    tenant_id: str | None = None
    server_timeout_s: int = 180  # the Logs API's own limit is 10 minutes

    @property
    def scope(self) -> Scope:
        return "workspace" if self.workspace_id else "resource"

    @property
    def schema_name(self) -> Literal["workspace", "classic"]:
        """The KQL dialect follows the scope: users never pick it."""
        return "workspace" if self.workspace_id else "classic"
