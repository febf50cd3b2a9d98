"""Azure ML managed online endpoints' own resource logs, and what to say when they are missing.

A diagnostic setting on the endpoint (resource type
Microsoft.MachineLearningServices/workspaces/onlineEndpoints) sends three log categories, each to
the Log Analytics table of the same name; App Insights need not be on:

    AmlOnlineEndpointTrafficLog   one row a request, with the platform's view of its time
    AmlOnlineEndpointConsoleLog   the containers' console: what score.py prints
    AmlOnlineEndpointEventLog     container life-cycle events (BackOff, Killing, probe failures…)

They live only in workspaces: a classic Application Insights resource cannot be asked for them.
"""

from __future__ import annotations

from typing import Final

from telemetry.errors import WorkspaceOnlyError
from telemetry.filters import Window
from telemetry.kql_literals import datetime_literal
from telemetry.schema import ENDPOINT_TABLES, Schema

__all__ = [
    "CONSOLE_LOG",
    "ENDPOINT_LOG_TABLES",
    "EVENT_LOG",
    "TRAFFIC_LOG",
    "detection_kql",
    "diagnostic_setting_hint",
    "workspace_only",
    "workspace_only_message",
]

TRAFFIC_LOG: Final = "AmlOnlineEndpointTrafficLog"
CONSOLE_LOG: Final = "AmlOnlineEndpointConsoleLog"
EVENT_LOG: Final = "AmlOnlineEndpointEventLog"
ENDPOINT_LOG_TABLES: Final = (TRAFFIC_LOG, CONSOLE_LOG, EVENT_LOG)
assert set(ENDPOINT_LOG_TABLES) == set(ENDPOINT_TABLES)

_WHAT: Final = {
    TRAFFIC_LOG: "requests as the endpoint saw them",
    CONSOLE_LOG: "the scoring script's console output",
    EVENT_LOG: "container life-cycle events",
}


def workspace_only_message(table: str) -> str:
    return (f"{table} lives in a Log Analytics workspace, not in a classic Application Insights resource. "
            "Connect to the workspace the endpoint's diagnostic setting sends to (its Workspace ID) "
            "to see this panel.")


def workspace_only(table: str, schema: Schema) -> str:
    """The table's KQL name in `schema`; a classic resource scope has none (WorkspaceOnlyError)."""
    if schema == "classic":
        raise WorkspaceOnlyError(workspace_only_message(table))
    return table


def diagnostic_setting_hint(tables: tuple[str, ...] | list[str]) -> str:
    """How to turn on the missing tables, for a panel whose table has no rows."""
    listed = ", ".join(f"{t} ({_WHAT[t]})" for t in tables)
    return (f"No rows in {listed}. Turn them on with a diagnostic setting on the online endpoint: in the Azure "
            "portal, the endpoint's Monitoring › Diagnostic settings › Add diagnostic setting, tick the log "
            f"categories {', '.join(tables)} and send them to a Log Analytics workspace (or `az monitor "
            "diagnostic-settings create --resource <endpoint resource id> --workspace <workspace resource id> "
            "--logs '[{\"category\": \"" + tables[0] + "\", \"enabled\": true}]'`). Rows appear a few minutes "
            "after requests reach the endpoint.")


def detection_kql(window: Window) -> str:
    """Rows per endpoint log table in `window`, for the connect check (workspace scope only; no
    user values). `isfuzzy` lets a workspace lack some of the tables; lacking all, Kusto fails it."""
    return "\n".join([
        f"union isfuzzy=true withsource=table_ {', '.join(ENDPOINT_LOG_TABLES)}",
        f"| where TimeGenerated >= {datetime_literal(window.start)} and TimeGenerated < {datetime_literal(window.end)}",
        "| summarize rows = count() by table_",
        "| order by table_ asc",
    ])
