"""Where the session's telemetry comes from: the local store, or Application Insights through the
Azure Monitor Logs API.

The Logs API is configured in the environment (ENDPOINT_MONITOR_*) or in `.streamlit/secrets.toml`
([logs_api]), see telemetry/config.py for the precedence, and can be picked at run time in the
sidebar's "Data source" form. The pick belongs to the session (st.session_state), never to the
URL: a link must not point the server's Azure identity at another workspace.

Nothing secret passes through here: credentials come from `DefaultAzureCredential` (az login,
managed identity, service principal or workload identity environment variables) and stay inside
azure-identity; the settings shown are ids and URLs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Final

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from telemetry.config import (
    CLOUDS,
    DEFAULT_ENDPOINT,
    ENV_VARS,
    SECRETS_TABLE,
    ConfigError,
    LogsApiSettings,
    is_loopback_http,
    load_configuration,
    parse_settings,
)
from telemetry.endpoint_logs import ENDPOINT_LOG_TABLES
from telemetry.errors import TelemetryError
from telemetry.filters import Window
from telemetry.portal import logs_portal_url

__all__ = ["chosen_settings", "connect_sidebar", "https_enforced", "portal_link_button"]

README: Final = Path(__file__).resolve().parents[1] / "README.md"
README_SECTION: Final = "Connect to Azure"

_CHOICE: Final = "connect.choice"  # this session's pick: LogsApiSettings, _LOCAL, or absent (the configuration)
_NOTE: Final = "connect.note"  # what the last "Connect" found, or why it failed
_LOCAL: Final = "local"
_KINDS: Final = {"local": "Local store", "logs_api": "Azure Monitor Logs API"}
_FORM_FIELDS: Final = {  # where a form value came from, for ConfigError's messages
    "workspace_id": "The workspace or resource ID",
    "resource_id": "The workspace or resource ID",
    "workspace_resource_id": "The workspace resource ID",
    "tenant_id": "The tenant",
    "endpoint": "The cloud's endpoint",
}
_DETECTION_DAYS: Final = 7
# Service principals and workload or managed identities are sent to the cloud's own sign-in host
# (telemetry.sources.logs_api.default_credential); the Azure CLI keeps its own cloud setting.
_SOVEREIGN_SIGN_IN: Final = "Signing in with `az login`? Point the CLI at the cloud you pick first: " + "; ".join(
    f"{cloud.label}: `az cloud set --name {cloud.cli_name}`"
    for cloud in CLOUDS.values() if cloud.endpoint != DEFAULT_ENDPOINT) + "."


# --- the settings in force ---------------------------------------------------------------------

def _secrets() -> Mapping[str, Any]:
    try:
        table = st.secrets.get(SECRETS_TABLE)
    except (StreamlitSecretNotFoundError, FileNotFoundError):
        return {}
    return {SECRETS_TABLE: table.to_dict() if hasattr(table, "to_dict") else table} if table is not None else {}


@dataclass(frozen=True)
class Configured:
    """What the server's environment and secrets.toml say."""

    settings: LogsApiSettings | None = None  # the scope to read; None: the local store
    defaults: Mapping[str, Any] = field(default_factory=dict)  # validated values the form starts from
    problem: str | None = None  # why the configuration cannot be used


def configured() -> Configured:
    try:
        settings, defaults = load_configuration(os.environ, _secrets())
    except ConfigError as error:
        return Configured(problem=str(error))
    return Configured(settings, defaults)


def chosen_settings() -> LogsApiSettings | None:
    """The Logs API scope this session reads, or None for the local store."""
    choice = st.session_state.get(_CHOICE)
    if choice == _LOCAL:
        return None
    if isinstance(choice, LogsApiSettings):
        return choice
    return configured().settings


def https_enforced(settings: LogsApiSettings) -> bool:
    """Tokens go over HTTPS only; the settings admit plain HTTP only on this machine (the tests' fake)."""
    return not is_loopback_http(settings.endpoint)


def portal_link_button(kql: str, window: Window) -> None:
    """"Open in Azure Logs" for a panel's query, when the session reads the Logs API."""
    settings = chosen_settings()
    if settings is None:
        return
    url = logs_portal_url(settings, kql, window)
    if url is not None:
        st.link_button("Open in Azure Logs", url, icon=":material/open_in_new:",
                       help="This query and time range in the Azure portal's Logs blade.")
    else:
        st.caption(f"For an *Open in Azure Logs* link, set the workspace's resource id "
                   f"({ENV_VARS['workspace_resource_id']}, or workspace_resource_id in [{SECRETS_TABLE}]): the "
                   "portal opens a workspace by its resource id.")


# --- the sidebar -------------------------------------------------------------------------------

def connect_sidebar(source_label: str) -> None:
    """The source in use, how to connect when nothing is configured, and the "Data source" form."""
    config = configured()
    st.sidebar.caption(f"Source: **{source_label}**")
    if config.problem:
        st.sidebar.error(f"The Logs API settings cannot be used, so the app reads the local store. {config.problem}",
                         icon=":material/settings_alert:")
    elif config.settings is None and chosen_settings() is None:
        st.sidebar.caption(
            f"To see your own endpoints, set {ENV_VARS['workspace_id']} (or {ENV_VARS['resource_id']}) or "
            f"[{SECRETS_TABLE}] in .streamlit/secrets.toml, or connect below.")
        _how_to_connect()
    with st.sidebar.expander("Data source", icon=":material/database:", expanded=_NOTE in st.session_state):
        _form(config)
        _show_note()


def _how_to_connect() -> None:
    with st.sidebar.popover("How to connect to Azure", icon=":material/help:"):
        st.markdown(readme_section(README_SECTION) or
                    "See the README's *Connect to Azure*: the role to ask for (Log Analytics Reader on the "
                    "workspace, or Monitoring Reader on the Application Insights resource), signing in (az login, "
                    "managed identity, service principal, workload identity) and the settings.")


@cache
def readme_section(title: str) -> str | None:
    """A `## title` section of the README, so the app shows the same instructions the README gives."""
    try:
        lines = README.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    start = next((i for i, line in enumerate(lines) if line.strip() == f"## {title}"), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[start + 1:end]).strip() or None


def _form(config: Configured) -> None:
    current = chosen_settings()
    clouds = _cloud_choices(config.defaults.get("endpoint"), current.endpoint if current else None)
    endpoint = current.endpoint if current else config.defaults.get("endpoint", DEFAULT_ENDPOINT)
    tenant = current.tenant_id if current else config.defaults.get("tenant_id")
    with st.form("connect.form", border=False):
        st.radio("Read from", list(_KINDS), format_func=_KINDS.__getitem__, key="connect.kind",
                 index=0 if current is None else 1, horizontal=True)
        st.text_input("Workspace ID or Application Insights resource ID", key="connect.id",
                      value=(current.workspace_id or current.resource_id or "") if current else "",
                      placeholder="GUID, or /subscriptions/…/components/…",
                      help="A Log Analytics workspace's Workspace ID (workspace tables AppRequests…), or a "
                           "classic Application Insights resource's id (tables requests…).")
        st.selectbox("Cloud", list(clouds), format_func=clouds.__getitem__, key="connect.endpoint",
                     index=list(clouds).index(endpoint), help=_SOVEREIGN_SIGN_IN)
        st.text_input("Tenant (optional)", key="connect.tenant", value=tenant or "",
                      placeholder="GUID or contoso.onmicrosoft.com",
                      help="Ask tokens of this Microsoft Entra tenant (for guests in several tenants).")
        st.text_input("Workspace resource ID (optional)", key="connect.portal_id",
                      value=(current.workspace_resource_id or "") if current else "",
                      placeholder="/subscriptions/…/workspaces/…",
                      help="Only for the 'Open in Azure Logs' links of a workspace: the portal opens a "
                           "workspace by its resource id.")
        st.form_submit_button("Connect", icon=":material/cable:", on_click=_on_connect,
                              args=(config.defaults,), width="stretch")
    if _CHOICE in st.session_state and config.settings is not None:
        st.button("Back to the configured source", key="connect.reset", on_click=_on_reset)


def _cloud_choices(*known: str | None) -> dict[str, str]:
    """Endpoint -> label: the three clouds, and a configured endpoint that is none of them."""
    choices = {cloud.endpoint: f"{cloud.label} · {cloud.endpoint.removeprefix('https://')}"
               for cloud in CLOUDS.values()}
    for endpoint in known:
        if endpoint and endpoint not in choices:
            choices[endpoint] = f"Configured · {endpoint}"
    return choices


def _form_settings(defaults: Mapping[str, Any]) -> LogsApiSettings:
    ident = str(st.session_state.get("connect.id") or "").strip()
    endpoint = st.session_state.get("connect.endpoint")
    values = {
        "resource_id" if ident.startswith("/") else "workspace_id": ident,
        "workspace_resource_id": str(st.session_state.get("connect.portal_id") or "").strip(),
        "tenant_id": str(st.session_state.get("connect.tenant") or "").strip(),
        "endpoint": endpoint,
        # A configured audience goes with the configured endpoint; the timeout is the server's.
        "audience": defaults.get("audience") if endpoint == defaults.get("endpoint") else None,
        "server_timeout_s": defaults.get("server_timeout_s"),
    }
    return parse_settings(values, _FORM_FIELDS)


def _on_connect(defaults: Mapping[str, Any]) -> None:
    st.session_state.pop(_NOTE, None)
    if st.session_state.get("connect.kind") == "local":
        st.session_state[_CHOICE] = _LOCAL
        return
    try:
        settings = _form_settings(defaults)
    except ConfigError as error:
        st.session_state[_NOTE] = ("error", str(error))
        return
    try:
        found = _detect(settings)
    except TelemetryError as error:
        st.session_state[_NOTE] = ("error", f"Not connected: {error}")
        return
    st.session_state[_CHOICE] = settings
    st.session_state[_NOTE] = found


def _detect(settings: LogsApiSettings) -> tuple[str, str]:
    """Ask the scope what App Insights data it holds (one request): a note for the form."""
    from telemetry.sources.logs_api import detect_services  # imports azure-monitor-query: only when used

    detection = detect_services(settings, enforce_https=https_enforced(settings), days=_DETECTION_DAYS)
    endpoints = endpoint_logs_note(detection.endpoint_tables, workspace=bool(settings.workspace_id))
    if not detection.has_app_insights:
        return ("warning", f"Connected, but no Application Insights table has rows in the last {_DETECTION_DAYS} "
                           "days here. Is this the workspace your Application Insights resource sends to?" + endpoints)
    services = ", ".join(detection.services[:10]) + (" …" if len(detection.services) > 10 else "")
    return ("success", f"Connected. In the last {_DETECTION_DAYS} days: {', '.join(detection.tables)}; "
                       f"services reporting: {services or 'none named'}." + endpoints)


def endpoint_logs_note(found: tuple[str, ...], *, workspace: bool) -> str:
    """What the check says of Azure ML online endpoint logs (the Deployments page's tables)."""
    if not workspace:
        return ""  # a classic resource cannot hold them: the Deployments page says so
    if not found:
        return (" No Azure ML online endpoint logs (AmlOnlineEndpoint…): the Deployments page says which "
                "diagnostic setting turns them on.")
    missing = [t for t in ENDPOINT_LOG_TABLES if t not in found]
    return (f" Online endpoint logs: {', '.join(found)}"
            + (f"; none in {', '.join(missing)}." if missing else "."))


def _on_reset() -> None:
    st.session_state.pop(_CHOICE, None)
    st.session_state.pop(_NOTE, None)


def _show_note() -> None:
    note = st.session_state.get(_NOTE)
    if note is None:
        return
    kind, text = note
    {"error": st.error, "warning": st.warning, "success": st.success}[kind](text)
