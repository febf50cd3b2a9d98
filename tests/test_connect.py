"""Connecting to Azure: settings from the environment and secrets.toml (validated, with messages
naming where each bad value was set), the "Open in Azure Logs" links, and the sidebar's "Data
source" form driven through AppTest against the fake Logs API with the real client and the real
DefaultAzureCredential (signing in through a stand-in `az` command)."""

from __future__ import annotations

import base64
import gzip
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from components.navigation import PAGES
from telemetry.config import CLOUDS, ENV_VARS, ConfigError, LogsApiSettings, load_configuration, parse_settings
from telemetry.filters import Filters, TimeRange, Window
from telemetry.kql import render_kql
from telemetry.model import RenderContext
from telemetry.portal import logs_portal_url
from telemetry.queries import panel
from tests.apptest import run_page, texts
from tests.azure_login import configure, day, fake, signed_in  # noqa: F401 (fixtures)
from tests.fake_logs_api import RESOURCE_ID, WORKSPACE_ID, FakeLogsApi, Fault

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


# --- the app: the sidebar's source and its "Data source" form -------------------------------------

def source_caption(at: AppTest) -> str:
    return next(c for c in texts(at, "caption") if c.startswith("Source: "))


def fill_form(at: AppTest, kind: str, ident: str = "", endpoint: str | None = None, tenant: str = "") -> AppTest:
    at.sidebar.radio(key="connect.kind").set_value(kind)
    at.sidebar.text_input(key="connect.id").input(ident)
    if endpoint is not None:
        at.sidebar.selectbox(key="connect.endpoint").set_value(endpoint)
    at.sidebar.text_input(key="connect.tenant").input(tenant)
    next(b for b in at.sidebar.button if b.label == "Connect").click()
    return at.run()


def sidebar_says(at: AppTest, kind: str) -> list[str]:
    return [str(e.value) for e in at.sidebar.get(kind)]


def test_without_configuration_the_app_reads_the_local_store_and_says_how_to_connect(signed_in: Path, day: dict[str, str]) -> None:
    at = run_page(PAGES[0][0], **day)
    assert not at.exception
    assert source_caption(at) == "Source: **local demo data**"
    assert any("set ENDPOINT_MONITOR_WORKSPACE_ID (or ENDPOINT_MONITOR_RESOURCE_ID)" in c for c in texts(at, "caption"))
    how = " ".join(sidebar_says(at, "markdown"))
    assert "az login" in how and "Log Analytics Reader" in how, "the README's instructions, or where to find them"
    assert at.main.get("plotly_chart") and not at.main.error


def test_an_unusable_configuration_is_explained_and_the_app_stays_on_the_local_store(
    signed_in: Path, monkeypatch: pytest.MonkeyPatch, day: dict[str, str]
) -> None:
    monkeypatch.setenv(ENV_VARS["workspace_id"], "ml-logs")
    at = run_page("pages/requests.py", **day)
    assert not at.exception and source_caption(at) == "Source: **local demo data**"
    (error,) = sidebar_says(at, "error")
    assert "cannot be used, so the app reads the local store" in error and "ENDPOINT_MONITOR_WORKSPACE_ID" in error
    assert at.main.get("plotly_chart") and not at.main.error


def expected_detection(frames: dict[str, pd.DataFrame], now: datetime) -> list[str]:
    """Services with items in the last 7 days in any App Insights table, most items first."""
    rows = pd.concat([f[["timestamp", "cloud_RoleName", "itemCount"]] for name, f in frames.items()
                      if name in ("requests", "dependencies", "exceptions", "traces")])
    recent = rows[(rows["timestamp"] >= now - timedelta(days=7)) & (rows["timestamp"] < now)]
    totals = recent.groupby("cloud_RoleName")["itemCount"].sum()
    return list(totals[totals > 0].sort_values(ascending=False, kind="stable").index)


def test_the_form_connects_to_a_classic_resource_and_says_which_services_report(
    fake: FakeLogsApi, signed_in: Path, monkeypatch: pytest.MonkeyPatch, demo_frames: dict[str, pd.DataFrame],
    day: dict[str, str],
) -> None:
    configure(monkeypatch, fake)  # the endpoint is offered in the form; no scope configured
    at = run_page("pages/requests.py", **day)
    assert source_caption(at) == "Source: **local demo data**"
    before = len(fake.requests)
    fill_form(at, "logs_api", RESOURCE_ID, fake.endpoint)
    now = datetime.now(UTC)
    assert not at.exception
    assert source_caption(at) == f"Source: **Logs API, Application Insights {RESOURCE_ID.rsplit('/', 1)[-1]}**"
    sent = fake.requests[before:]
    assert [r.path for r in sent] == [f"/v1{RESOURCE_ID}/query"] * 2, "the detection, then the page's batch"
    assert sent[0].queries[0].startswith("union isfuzzy=true withsource=table_ requests, dependencies")
    services = expected_detection(demo_frames, now)
    note = " ".join(sidebar_says(at, "success") + sidebar_says(at, "warning"))
    if services:
        assert note.startswith("Connected. In the last 7 days: requests") and ", ".join(services) in note
    else:
        assert note.startswith("Connected, but no Application Insights table has rows")
    assert f"--resource {fake.endpoint}" in signed_in.read_text(), "the token is asked for the endpoint's audience"


def test_the_form_names_a_bad_id_and_keeps_the_source(fake: FakeLogsApi, signed_in: Path,
                                                       monkeypatch: pytest.MonkeyPatch, day: dict[str, str]) -> None:
    configure(monkeypatch, fake)
    at = fill_form(run_page("pages/requests.py", **day), "logs_api", "ml-logs", fake.endpoint)
    assert not at.exception and source_caption(at) == "Source: **local demo data**"
    (error,) = sidebar_says(at, "error")
    assert error.startswith("The workspace or resource ID is not valid") and "GUID" in error


def test_the_form_says_why_it_could_not_connect_and_keeps_the_source(
    fake: FakeLogsApi, signed_in: Path, monkeypatch: pytest.MonkeyPatch, day: dict[str, str]
) -> None:
    configure(monkeypatch, fake)
    at = run_page("pages/requests.py", **day)
    fake.fail_requests(Fault(status=403))
    fill_form(at, "logs_api", WORKSPACE_ID, fake.endpoint)
    assert not at.exception and source_caption(at) == "Source: **local demo data**"
    (error,) = sidebar_says(at, "error")
    assert error.startswith(f"Not connected: Access to workspace {WORKSPACE_ID} was denied (403")
    assert "Log Analytics Reader" in error


def test_a_session_can_go_back_to_the_local_store_and_then_to_the_configured_source(
    fake: FakeLogsApi, signed_in: Path, monkeypatch: pytest.MonkeyPatch, day: dict[str, str]
) -> None:
    configure(monkeypatch, fake, workspace_id=WORKSPACE_ID)
    at = run_page("pages/requests.py", **day)
    assert source_caption(at) == f"Source: **Logs API, workspace {WORKSPACE_ID}**"
    fill_form(at, "local")
    assert source_caption(at) == "Source: **local demo data**" and at.main.get("plotly_chart")
    next(b for b in at.sidebar.button if b.label == "Back to the configured source").click().run()
    assert source_caption(at) == f"Source: **Logs API, workspace {WORKSPACE_ID}**" and not at.main.error


def test_a_configured_tenant_is_the_one_tokens_are_asked_of(
    fake: FakeLogsApi, signed_in: Path, monkeypatch: pytest.MonkeyPatch, day: dict[str, str]
) -> None:
    configure(monkeypatch, fake, workspace_id=WORKSPACE_ID, tenant_id="contoso.onmicrosoft.com")
    at = run_page("pages/requests.py", **day)
    assert not at.exception and not at.main.error
    assert "--tenant contoso.onmicrosoft.com" in signed_in.read_text()


def kql_blocks(at: AppTest) -> list[str]:
    return [c.value for c in at.main.code if c.language == "kql"]


def test_each_panel_opens_its_query_in_azure_logs_when_connected_to_a_resource(
    fake: FakeLogsApi, signed_in: Path, monkeypatch: pytest.MonkeyPatch, day: dict[str, str]
) -> None:
    configure(monkeypatch, fake, resource_id=RESOURCE_ID)
    at = run_page("pages/requests.py", **day)
    links = [b.proto.url for b in at.main.get("link_button") if b.proto.label == "Open in Azure Logs"]
    blocks = kql_blocks(at)
    assert blocks and len(links) == len(blocks)
    for url, kql in zip(links, blocks, strict=True):
        portal, resource, decoded, _ = decoded_link(url)
        assert (portal, resource, decoded) == ("https://portal.azure.com", RESOURCE_ID, kql)


def test_a_workspace_gets_portal_links_once_its_resource_id_is_set(
    fake: FakeLogsApi, signed_in: Path, monkeypatch: pytest.MonkeyPatch, day: dict[str, str]
) -> None:
    configure(monkeypatch, fake, workspace_id=WORKSPACE_ID)
    at = run_page("pages/requests.py", **day)
    assert not at.main.get("link_button")
    assert any("ENDPOINT_MONITOR_WORKSPACE_RESOURCE_ID" in c for c in texts(at, "caption"))
    configure(monkeypatch, fake, workspace_resource_id=WORKSPACE_ARM_ID)
    at.run()
    links = [b.proto.url for b in at.main.get("link_button")]
    assert links and all(decoded_link(url)[1] == WORKSPACE_ARM_ID for url in links)
    assert {decoded_link(url)[2] for url in links} <= set(kql_blocks(at))


def test_no_portal_link_on_the_local_store(signed_in: Path, day: dict[str, str]) -> None:
    at = run_page("pages/requests.py", **day)
    assert kql_blocks(at) and not at.main.get("link_button")
