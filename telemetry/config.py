"""Where the telemetry comes from: settings for the Azure Monitor Logs API, read from the
environment or from Streamlit's secrets (passed in as a mapping: this package imports no Streamlit).

Nothing here is a secret: credentials come from `azure-identity` (az login, managed identity,
service principal or workload identity environment variables), never from these settings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import urlsplit

__all__ = [
    "CLOUDS",
    "DEFAULT_ENDPOINT",
    "ENV_PREFIX",
    "ENV_VARS",
    "Cloud",
    "ConfigError",
    "LogsApiSettings",
    "is_loopback_http",
    "load_configuration",
    "parse_settings",
]

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
    # The workspace's ARM id, only for "Open in Azure Logs" links: the portal opens a workspace by
    # its resource id, which the workspace GUID the Logs API takes does not give.
    workspace_resource_id: str | None = None

    @property
    def scope(self) -> Scope:
        return "workspace" if self.workspace_id else "resource"

    @property
    def schema_name(self) -> Literal["workspace", "classic"]:
        """The KQL dialect follows the scope: users never pick it."""
        return "workspace" if self.workspace_id else "classic"


# --- loading and validation ------------------------------------------------------------------
#
# Where settings come from, highest first (README, "Connect to Azure"):
#   1. the sidebar's "Data source" form, for the session that filled it in (components/connect.py);
#   2. environment variables ENDPOINT_MONITOR_*;
#   3. the [logs_api] table of .streamlit/secrets.toml.
# Keys merge one by one, except the scope: an id set in a higher place replaces both ids of a
# lower one, so a workspace id in the environment is never paired with a secrets.toml resource id.
# Nothing configured anywhere: the app reads the local store.


@dataclass(frozen=True)
class Cloud:
    label: str
    endpoint: str  # the Logs API; the token audience is the same URL
    portal: str  # where "Open in Azure Logs" links go
    authority: str  # AZURE_AUTHORITY_HOST for sign-in in this cloud
    cli_name: str  # `az cloud set --name …`


CLOUDS: Final[dict[str, Cloud]] = {
    "public": Cloud("Azure (public)", DEFAULT_ENDPOINT, "https://portal.azure.com",
                    "https://login.microsoftonline.com", "AzureCloud"),
    "usgov": Cloud("Azure US Government", "https://api.loganalytics.us", "https://portal.azure.us",
                   "https://login.microsoftonline.us", "AzureUSGovernment"),
    "china": Cloud("Azure China (21Vianet)", "https://api.loganalytics.azure.cn", "https://portal.azure.cn",
                   "https://login.chinacloudapi.cn", "AzureChinaCloud"),
}

FIELDS: Final = ("workspace_id", "resource_id", "workspace_resource_id", "endpoint", "audience", "tenant_id",
                 "server_timeout_s")
ENV_VARS: Final[dict[str, str]] = {
    "workspace_id": f"{ENV_PREFIX}WORKSPACE_ID",
    "resource_id": f"{ENV_PREFIX}RESOURCE_ID",
    "workspace_resource_id": f"{ENV_PREFIX}WORKSPACE_RESOURCE_ID",
    "endpoint": f"{ENV_PREFIX}ENDPOINT",
    "audience": f"{ENV_PREFIX}AUDIENCE",
    "tenant_id": f"{ENV_PREFIX}TENANT_ID",
    "server_timeout_s": f"{ENV_PREFIX}SERVER_TIMEOUT",
}
SECRETS_TABLE: Final = "logs_api"
SERVER_TIMEOUT_RANGE: Final = (10, 600)  # seconds; 600 is the Logs API's own limit
_IDS: Final = ("workspace_id", "resource_id")
_SCOPE: Final = (*_IDS, "workspace_resource_id")  # replaced as one by a layer that sets an id
_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})

_GUID: Final = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Resource group and resource names: letters, digits, '-', '_', '.', '(', ')' (Azure's own rules
# are close to this); nothing that could change the meaning of the URL the id is put into.
_NAME: Final = r"[\w.()-]{1,255}"
_ARM_PREFIX: Final = rf"/subscriptions/{_GUID}/resourcegroups/{_NAME}/providers/"
_PATTERNS: Final[dict[str, re.Pattern[str]]] = {
    "workspace_id": re.compile(rf"{_GUID}\Z", re.IGNORECASE),
    "resource_id": re.compile(rf"{_ARM_PREFIX}microsoft\.insights/components/{_NAME}\Z", re.IGNORECASE),
    "workspace_resource_id": re.compile(rf"{_ARM_PREFIX}microsoft\.operationalinsights/workspaces/{_NAME}\Z",
                                        re.IGNORECASE),
    "tenant_id": re.compile(rf"(?:{_GUID}|[a-z0-9-]{{1,63}}(?:\.[a-z0-9-]{{1,63}})+)\Z", re.IGNORECASE),
}
# What a valid value looks like. Rejected values are never repeated back: someone may have pasted
# a client secret into the wrong field, and messages reach the page and the logs.
_EXPECTED: Final[dict[str, str]] = {
    "workspace_id": "a GUID such as 6f1e2d3c-0000-4000-8000-00000000a1a1: the Workspace ID on the Log "
                    "Analytics workspace's Overview page (not its name or resource id)",
    "resource_id": "/subscriptions/<subscription GUID>/resourceGroups/<group>/providers/microsoft.insights/"
                   "components/<name>: the Application Insights resource's id, from its JSON View",
    "workspace_resource_id": "/subscriptions/<subscription GUID>/resourceGroups/<group>/providers/"
                             "Microsoft.OperationalInsights/workspaces/<name>: the workspace's id, from its JSON View",
    "tenant_id": "a tenant GUID or a domain such as contoso.onmicrosoft.com",
}


class ConfigError(ValueError):
    """Settings that cannot be used; `problems` says what is wrong with each, and where it was set."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(" ".join(self.problems))


def env_values(environ: Mapping[str, str]) -> dict[str, str]:
    """The settings set in the environment (empty variables count as unset)."""
    return {name: environ[var].strip() for name, var in ENV_VARS.items() if environ.get(var, "").strip()}


def secrets_values(secrets: Mapping[str, Any]) -> dict[str, Any]:
    """The settings in secrets.toml's [logs_api] table; a key the app does not know is an error
    (a typo there would otherwise leave the app silently on the local store)."""
    table = secrets.get(SECRETS_TABLE) or {}
    if not isinstance(table, Mapping):
        raise ConfigError([f"[{SECRETS_TABLE}] in .streamlit/secrets.toml must be a table of settings."])
    unknown = sorted(str(key) for key in table if key not in FIELDS)
    if unknown:
        raise ConfigError([f"Unknown key(s) {', '.join(unknown)} in [{SECRETS_TABLE}] of .streamlit/secrets.toml; "
                           f"the known keys are {', '.join(FIELDS)}."])
    return {key: value for key, value in table.items() if not (isinstance(value, str) and not value.strip())}


def where_env(name: str) -> str:
    return ENV_VARS[name]


def where_secrets(name: str) -> str:
    return f"{name} in [{SECRETS_TABLE}] of .streamlit/secrets.toml"


def merged(*layers: tuple[Mapping[str, Any], Callable[[str], str]]) -> tuple[dict[str, Any], dict[str, str]]:
    """Layers, highest first, merged key by key (the scope as one): values and where each came from."""
    values: dict[str, Any] = {}
    where: dict[str, str] = {}
    for layer, describe in reversed(layers):
        if any(layer.get(key) for key in _IDS):
            for key in _SCOPE:
                values.pop(key, None)
                where.pop(key, None)
        for key, value in layer.items():
            values[key], where[key] = value, describe(key)
    return values, where


def load_configuration(environ: Mapping[str, str],
                       secrets: Mapping[str, Any]) -> tuple[LogsApiSettings | None, dict[str, Any]]:
    """The configured Logs API scope (None when no id is set anywhere: the app reads the local
    store), and every validated value, which the sidebar's form starts from (an endpoint or tenant
    may be set for the form without a scope). Raises ConfigError, naming each variable or key at
    fault, when a value is unusable."""
    values, where = merged((env_values(environ), where_env), (secrets_values(secrets), where_secrets))
    found = parse_values(values, where)
    if not any(key in found for key in _IDS):
        return None, found
    return parse_settings(values, where), found


def parse_settings(values: Mapping[str, Any], where: Mapping[str, str]) -> LogsApiSettings:
    """Validated settings of one scope from raw values (strings, or a number for the timeout).
    `where` names the place each value came from, for the messages."""
    problems: list[str] = []
    ids = [key for key in _IDS if values.get(key)]
    if len(ids) != 1:
        named = " and ".join(where.get(key, key) for key in ids) if ids else (
            f"{ENV_VARS['workspace_id']} or {ENV_VARS['resource_id']} (or workspace_id / resource_id "
            f"in [{SECRETS_TABLE}] of .streamlit/secrets.toml)")
        problems.append(f"Set exactly one Logs API scope: {named}" + (" are both set." if ids else " is needed."))
    try:
        found = parse_values(values, where)
    except ConfigError as error:
        raise ConfigError([*problems, *error.problems]) from None
    if found.get("workspace_resource_id") and "workspace_id" not in found and not problems:
        problems.append(f"{where['workspace_resource_id']} only serves a workspace scope: set the workspace's "
                        "GUID as its workspace id too.")
    if problems:
        raise ConfigError(problems)
    return LogsApiSettings(**found)


def parse_values(values: Mapping[str, Any], where: Mapping[str, str]) -> dict[str, Any]:
    """Each value set, validated and normalised; ConfigError lists every one that is not."""
    problems: list[str] = []
    found: dict[str, Any] = {}
    for key in FIELDS:
        if values.get(key) in (None, ""):
            continue
        try:
            found[key] = _parse(key, values[key], where.get(key, key))
        except ValueError as error:
            problems.append(str(error))
    if problems:
        raise ConfigError(problems)
    return found


def _parse(key: str, value: Any, where: str) -> Any:
    if key == "server_timeout_s":
        return _timeout(value, where)
    if not isinstance(value, str):
        raise ValueError(f"{where} must be text.")
    text = value.strip()
    if key in ("endpoint", "audience"):
        return base_url(text, where)
    if key in ("resource_id", "workspace_resource_id"):
        text = text.rstrip("/")
    if not _PATTERNS[key].match(text):
        raise ValueError(f"{where} is not valid{_mistake(key, text)}. Expected {_EXPECTED[key]}.")
    return text.lower() if key == "workspace_id" else text


def _mistake(key: str, text: str) -> str:
    """The likely mix-up, when the value is another kind of id."""
    if key == "workspace_id" and _PATTERNS["resource_id"].match(text.rstrip("/")):
        return f": that is an Application Insights resource id, which goes in {ENV_VARS['resource_id']} / resource_id"
    if key == "workspace_id" and _PATTERNS["workspace_resource_id"].match(text.rstrip("/")):
        return ": that is the workspace's resource id; its Workspace ID is the GUID on its Overview page"
    if key == "resource_id" and _PATTERNS["workspace_id"].match(text):
        return f": that is a GUID, which goes in {ENV_VARS['workspace_id']} / workspace_id"
    if key == "resource_id" and _PATTERNS["workspace_resource_id"].match(text.rstrip("/")):
        return (": that is a Log Analytics workspace's resource id; set its Workspace ID (a GUID) as the "
                "workspace id instead")
    return ""


def _timeout(value: Any, where: str) -> int:
    low, high = SERVER_TIMEOUT_RANGE
    try:
        seconds = int(str(value).strip()) if not isinstance(value, bool) else None
    except ValueError:
        seconds = None
    if seconds is None or not low <= seconds <= high:
        raise ValueError(f"{where} must be a whole number of seconds from {low} to {high} "
                         "(the Logs API stops queries at 600 s).")
    return seconds


def base_url(text: str, where: str) -> str:
    """An https:// endpoint or audience as scheme://host[:port]; http:// only on this machine (the
    tests' fake Logs API): an Azure token must never travel in clear."""
    try:
        url = urlsplit(text)
        port = url.port
    except ValueError:
        url, port = None, None
    if url is None or url.scheme.lower() not in ("https", "http") or not url.hostname:
        raise ValueError(f"{where} is not a URL. Expected https://<host>, e.g. {_cloud_list()}.")
    host = url.hostname.lower()
    if url.username is not None or url.password is not None or url.query or url.fragment \
            or url.path.rstrip("/") not in ("", "/v1"):
        raise ValueError(f"{where} must be just https://<host> (no path, query or user name), e.g. {_cloud_list()}.")
    if url.scheme.lower() == "http" and host not in _LOOPBACK:
        raise ValueError(f"{where} must use https://: an Azure token is never sent over plain HTTP "
                         "(http:// is accepted for 127.0.0.1 and localhost only, for tests).")
    netloc = f"[{host}]" if ":" in host else host
    return f"{url.scheme.lower()}://{netloc}" + (f":{port}" if port is not None else "")


def is_loopback_http(endpoint: str) -> bool:
    """An http:// endpoint on this machine (only the tests' fake Logs API is one)."""
    url = urlsplit(endpoint)
    return url.scheme == "http" and (url.hostname or "") in _LOOPBACK


def cloud_of(endpoint: str) -> Cloud | None:
    return next((cloud for cloud in CLOUDS.values() if cloud.endpoint == endpoint), None)


def _cloud_list() -> str:
    return ", ".join(f"{cloud.endpoint} ({cloud.label})" for cloud in CLOUDS.values())
