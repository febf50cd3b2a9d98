"""Connecting to Azure: settings from the environment and secrets.toml (validated, with messages
naming where each bad value was set), the "Open in Azure Logs" links, and the sidebar's "Data
source" form driven through AppTest against the fake Logs API with the real client and the real
DefaultAzureCredential (signing in through a stand-in `az` command)."""

from __future__ import annotations

import base64
import gzip
import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from telemetry.config import CLOUDS, ConfigError, LogsApiSettings, load_configuration, parse_settings
from telemetry.filters import Filters, TimeRange, Window
from telemetry.kql import render_kql
from telemetry.model import RenderContext
from telemetry.portal import logs_portal_url
from telemetry.queries import panel
from tests.fake_logs_api import RESOURCE_ID, WORKSPACE_ID

ROOT = Path(__file__).resolve().parents[1]
WORKSPACE_ARM_ID = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ml-serving"
                    "/providers/Microsoft.OperationalInsights/workspaces/ml-logs")


def env(**values: str) -> dict[str, str]:
    return {f"ENDPOINT_MONITOR_{name.upper()}": value for name, value in values.items()}


def problems_of(environ: dict[str, str], secrets: dict[str, Any] | None = None) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as raised:
        load_configuration(environ, secrets or {})
    return raised.value.problems


# --- configuration -------------------------------------------------------------------------------

def test_nothing_configured_means_the_local_store() -> None:
    assert load_configuration({"PATH": "/usr/bin", "ENDPOINT_MONITOR_WORKSPACE_ID": "  "}, {}) == (None, {})


def test_environment_variables_give_a_workspace_scope_with_endpoint_tenant_and_timeout() -> None:
    settings, _ = load_configuration(env(workspace_id=WORKSPACE_ID.upper(), endpoint="https://api.loganalytics.us/",
                                         tenant_id="contoso.onmicrosoft.com", server_timeout="300"), {})
    assert settings == LogsApiSettings(workspace_id=WORKSPACE_ID, endpoint="https://api.loganalytics.us",
                                       tenant_id="contoso.onmicrosoft.com", server_timeout_s=300)
    assert settings.schema_name == "workspace"


def test_the_secrets_table_gives_a_classic_resource_scope() -> None:
    settings, _ = load_configuration({}, {"logs_api": {"resource_id": RESOURCE_ID + "/", "server_timeout_s": 600}})
    assert settings == LogsApiSettings(resource_id=RESOURCE_ID, server_timeout_s=600)
    assert settings.schema_name == "classic"


def test_the_environment_overrides_secrets_key_by_key_and_the_scope_as_a_whole() -> None:
    secrets = {"logs_api": {"resource_id": RESOURCE_ID, "tenant_id": "contoso.onmicrosoft.com",
                            "endpoint": "https://api.loganalytics.azure.cn"}}
    settings, _ = load_configuration(env(workspace_id=WORKSPACE_ID, endpoint="https://api.loganalytics.io"), secrets)
    assert settings == LogsApiSettings(workspace_id=WORKSPACE_ID, tenant_id="contoso.onmicrosoft.com")


def test_an_endpoint_or_tenant_without_a_scope_keeps_the_local_store_and_preselects_the_form() -> None:
    settings, defaults = load_configuration(env(endpoint="https://api.loganalytics.us/v1"), {})
    assert settings is None and defaults == {"endpoint": "https://api.loganalytics.us"}


def test_the_secrets_example_is_a_valid_configuration() -> None:
    example = tomllib.loads((ROOT / ".streamlit" / "secrets.toml.example").read_text())
    settings, _ = load_configuration({}, example)
    assert settings is not None and settings.scope == "workspace"


@pytest.mark.parametrize(("environ", "secrets", "says"), [
    (env(workspace_id="my-workspace"), None, ["ENDPOINT_MONITOR_WORKSPACE_ID is not valid", "GUID"]),
    (env(workspace_id=RESOURCE_ID), None, ["an Application Insights resource id", "ENDPOINT_MONITOR_RESOURCE_ID"]),
    (env(workspace_id=WORKSPACE_ARM_ID), None, ["workspace's resource id", "GUID on its Overview page"]),
    (env(resource_id=WORKSPACE_ID), None, ["ENDPOINT_MONITOR_RESOURCE_ID", "that is a GUID"]),
    (env(resource_id=WORKSPACE_ARM_ID), None, ["Log Analytics workspace's resource id"]),
    (env(resource_id=RESOURCE_ID + "/../../x?y"), None, ["ENDPOINT_MONITOR_RESOURCE_ID is not valid"]),
    (env(workspace_id=WORKSPACE_ID, resource_id=RESOURCE_ID), None, ["exactly one Logs API scope", "both set"]),
    (env(workspace_id=WORKSPACE_ID, endpoint="http://api.loganalytics.io"), None, ["must use https://"]),
    (env(workspace_id=WORKSPACE_ID, endpoint="https://api.loganalytics.io/v1/query?x=1"), None, ["just https://<host>"]),
    (env(workspace_id=WORKSPACE_ID, endpoint="https://user:pw@api.loganalytics.io"), None, ["no path, query or user"]),
    (env(workspace_id=WORKSPACE_ID, endpoint="api.loganalytics.io"), None, ["is not a URL"]),
    (env(workspace_id=WORKSPACE_ID, audience="http://evil.example"), None, ["ENDPOINT_MONITOR_AUDIENCE must use https"]),
    (env(workspace_id=WORKSPACE_ID, tenant_id="not a tenant!"), None, ["ENDPOINT_MONITOR_TENANT_ID", "domain"]),
    (env(workspace_id=WORKSPACE_ID, server_timeout="0"), None, ["from 10 to 600"]),
    (env(workspace_id=WORKSPACE_ID, server_timeout="601"), None, ["from 10 to 600"]),
    (env(workspace_id=WORKSPACE_ID, server_timeout="3m"), None, ["whole number of seconds"]),
    (env(resource_id=RESOURCE_ID, workspace_resource_id=WORKSPACE_ARM_ID), None, ["only serves a workspace scope"]),
    ({}, {"logs_api": {"workspaceid": WORKSPACE_ID}}, ["Unknown key(s) workspaceid", "workspace_id"]),
    ({}, {"logs_api": {"workspace_id": "nope"}}, ["workspace_id in [logs_api] of .streamlit/secrets.toml"]),
    ({}, {"logs_api": {"workspace_id": WORKSPACE_ID, "server_timeout_s": True}}, ["server_timeout_s in [logs_api]"]),
    ({}, {"logs_api": "workspace"}, ["[logs_api] in .streamlit/secrets.toml must be a table"]),
    (env(tenant_id="contoso.onmicrosoft.com", endpoint="ftp://x"), None, ["ENDPOINT_MONITOR_ENDPOINT is not a URL"]),
])
def test_each_unusable_value_is_named_with_where_it_was_set(
    environ: dict[str, str], secrets: dict[str, Any] | None, says: list[str]
) -> None:
    message = " ".join(problems_of(environ, secrets))
    for part in says:
        assert part in message, message


def test_every_problem_is_listed_at_once_and_no_rejected_value_is_repeated() -> None:
    secret_looking = "Xq8~s3cr3t.Value_that-was-pasted-in-the-wrong-place"
    problems = problems_of(env(workspace_id=secret_looking, tenant_id=secret_looking + "!", server_timeout="x"))
    assert len(problems) == 3
    assert secret_looking not in " ".join(problems)


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:8123", "http://localhost:9", "http://[::1]:80"])
def test_plain_http_is_accepted_only_on_this_machine(endpoint: str) -> None:
    settings, _ = load_configuration(env(workspace_id=WORKSPACE_ID, endpoint=endpoint), {})
    assert settings is not None and settings.endpoint == endpoint
    assert "must use https" in " ".join(problems_of(env(workspace_id=WORKSPACE_ID, endpoint="http://10.0.0.1:80")))


def test_the_form_names_its_own_fields_in_its_messages() -> None:
    with pytest.raises(ConfigError, match="The tenant is not valid"):
        parse_settings({"workspace_id": WORKSPACE_ID, "tenant_id": "a b"}, {"tenant_id": "The tenant"})


# --- "Open in Azure Logs" ------------------------------------------------------------------------

def decoded_link(url: str) -> tuple[str, str, str, str]:
    """(portal, resource id, KQL, timespan) of a share link, decoded the way the portal does."""
    parts = urlsplit(url)
    path = parts.fragment.split("/")
    resource = unquote(path[path.index("resourceId") + 1])
    kql = gzip.decompress(base64.b64decode(unquote(path[path.index("q") + 1]))).decode()
    return f"{parts.scheme}://{parts.netloc}", resource, kql, unquote(path[path.index("timespan") + 1])


@pytest.mark.parametrize("schema", ["classic", "workspace"])
def test_the_portal_link_decodes_back_to_the_panels_kql_and_window(demo_end: datetime, schema: str) -> None:
    settings = (LogsApiSettings(resource_id=RESOURCE_ID) if schema == "classic" else
                LogsApiSettings(workspace_id=WORKSPACE_ID, workspace_resource_id=WORKSPACE_ARM_ID))
    ctx = RenderContext.of(Filters(TimeRange(None, demo_end - timedelta(days=1), demo_end), services=("a'b",)))
    query = panel("requests.totals")
    kql = render_kql(query, ctx, schema)
    url = logs_portal_url(settings, kql, ctx.read_window(query))
    assert url is not None and url.startswith("https://portal.azure.com/#/blade/Microsoft_Azure_Monitoring_Logs/")
    assert "/source/LogsBlade.AnalyticsShareLinkToQuery/q/" in url
    portal, resource, decoded_kql, timespan = decoded_link(url)
    assert (resource, decoded_kql) == (settings.resource_id or WORKSPACE_ARM_ID, kql)
    assert timespan == "2026-11-18T12:00:00.000Z/2026-11-20T12:00:00.000Z"  # the totals read the period before too
    assert " " not in url and "'" not in url  # the query is inside the encoding, not in the URL's text


@pytest.mark.parametrize("cloud", list(CLOUDS))
def test_a_sovereign_cloud_links_to_its_own_portal_and_the_tenant_is_kept(cloud: str) -> None:
    settings = LogsApiSettings(resource_id=RESOURCE_ID, endpoint=CLOUDS[cloud].endpoint, tenant_id="contoso.com")
    window = Window(datetime.fromisoformat("2026-11-19T00:00:00+00:00"), datetime.fromisoformat("2026-11-20T00:00:00+00:00"))
    url = logs_portal_url(settings, "requests | take 1", window)
    assert url is not None and url.startswith(f"{CLOUDS[cloud].portal}/#@contoso.com/blade/")


def test_a_workspace_known_only_by_its_guid_gets_no_portal_link() -> None:
    window = Window(datetime.fromisoformat("2026-11-19T00:00:00+00:00"), datetime.fromisoformat("2026-11-20T00:00:00+00:00"))
    assert logs_portal_url(LogsApiSettings(workspace_id=WORKSPACE_ID), "AppRequests | take 1", window) is None
