"""Every page through AppTest over the Azure Monitor Logs API: the real azure-monitor-query client
and the real DefaultAzureCredential (signed in through a stand-in `az`) against the fake Logs API
answering from the demo store, in both scopes (workspace tables / classic resource tables).

A page shows the same numbers as over the local store, a page view is one HTTP request, a re-run
within the cache TTL makes none, a failed sub-query stays in its panel, and secrets never reach
the page, the URL or the logs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from components.navigation import PAGES
from telemetry.filters import Filters, TimeRange
from telemetry.kql import render_kql
from telemetry.model import RenderContext
from telemetry.queries import panel
from telemetry.queries.pages import PAGE_VIEWS
from telemetry.sources.logs_api import STATEMENT_SEPARATOR
from tests.apptest import run_page, texts
from tests.azure_login import configure, day, fake, signed_in  # noqa: F401 (fixtures)
from tests.fake_logs_api import RESOURCE_ID, WORKSPACE_ID, FakeLogsApi, Fault, semantic_error

PAGE_FILES = [path for path, *_ in PAGES]
# Pages of tables only a workspace has: a classic resource scope is told so and asked nothing
# (tests/test_deployments_page.py), so it cannot show the local store's numbers.
WORKSPACE_ONLY = {"pages/deployments.py"}
SCOPES = ("workspace", "resource")
SECRET = "Xq8~client-secret.value_for-this-test"


def connect(monkeypatch: pytest.MonkeyPatch, fake: FakeLogsApi, scope: str) -> None:
    configure(monkeypatch, fake, **({"workspace_id": WORKSPACE_ID} if scope == "workspace" else
                                    {"resource_id": RESOURCE_ID}))


def shown(at: AppTest) -> dict[str, list[Any]]:
    """What the page's main area shows: figures, tables, charts' data and layout, texts and messages
    (captions and code are left out: they say where the data came from, and how long it took)."""
    main = at.main
    return {
        "metrics": [(m.label, m.value, m.delta) for m in main.metric],
        "dataframes": [frame.value for frame in main.dataframe],
        "charts": [json.loads(chart.proto.spec) for chart in main.get("plotly_chart")],
        "markdown": [m.value for m in main.markdown],
        "json": [str(j.proto) for j in main.json],
        "errors": [e.value for e in main.error],
        "warnings": [w.value for w in main.warning],
        "infos": [i.value for i in main.info],
    }


def assert_same_page(over_api: dict[str, list[Any]], local: dict[str, list[Any]]) -> None:
    for kind, expected in local.items():
        got = over_api[kind]
        assert len(got) == len(expected), f"{kind}: {len(got)} shown over the Logs API, {len(expected)} locally"
        if kind == "dataframes":
            for a, b in zip(got, expected, strict=True):
                pd.testing.assert_frame_equal(a, b)
        else:
            assert got == expected, kind


@pytest.fixture(scope="module")
def local_pages() -> dict[str, dict[str, list[Any]]]:
    return {}  # page -> what it shows over the local store, rendered once for both scopes


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def page_views(page: str) -> int:
    """run_page opens the default page first, then switches: one view, or two."""
    return 1 if page == PAGE_FILES[0] else 2


def statements_of(request: Any) -> list[str]:
    """The sub-queries of one recorded request: batch items, or a multi-statement query's statements."""
    return [statement for text in request.queries for statement in text.split(STATEMENT_SEPARATOR)]


def day_ctx(demo_end: datetime) -> RenderContext:
    """The render context of the `day` URL parameters, as the page builds it."""
    return RenderContext.of(Filters(TimeRange(None, demo_end - timedelta(days=1), demo_end)))


def schema_of(scope: str) -> str:
    return "workspace" if scope == "workspace" else "classic"


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("page", PAGE_FILES)
def test_every_page_shows_the_numbers_the_local_store_gives(
    fake: FakeLogsApi, signed_in: Path, monkeypatch: pytest.MonkeyPatch, day: dict[str, str],
    local_pages: dict[str, dict[str, list[Any]]], page: str, scope: str,
) -> None:
    if scope == "resource" and page in WORKSPACE_ONLY:
        pytest.skip("a workspace-only page over a classic resource says so instead")
    if page not in local_pages:
        at = run_page(page, **day)
        no_exception(at)
        assert any("Source: **local" in c for c in texts(at, "caption"))
        local_pages[page] = shown(at)
    local = local_pages[page]
    assert local["charts"] or local["metrics"] or local["dataframes"], "the demo day should fill the page"
    assert not local["errors"]

    connect(monkeypatch, fake, scope)
    before, unanswered = len(fake.requests), len(fake.unanswered)
    at = run_page(page, **day)
    no_exception(at)
    assert any(f"Source: **Logs API, {'workspace' if scope == 'workspace' else 'Application Insights'}" in c
               for c in texts(at, "caption"))
    assert len(fake.requests) > before and len(fake.unanswered) == unanswered, fake.unanswered[unanswered:]
    assert_same_page(shown(at), local)


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("page", PAGE_FILES)
def test_a_page_view_is_one_http_request_and_a_rerun_within_the_ttl_makes_none(
    fake: FakeLogsApi, signed_in: Path, monkeypatch: pytest.MonkeyPatch, day: dict[str, str],
    demo_end: datetime, page: str, scope: str,
) -> None:
    if scope == "resource" and page in WORKSPACE_ONLY:
        pytest.skip("a workspace-only page over a classic resource asks only for the sidebar's services")
    connect(monkeypatch, fake, scope)
    before = len(fake.requests)
    at = run_page(page, **day)
    no_exception(at)
    sent = fake.requests[before:]
    assert len(sent) == page_views(page)
    expected_path = "/v1/$batch" if scope == "workspace" else f"/v1{RESOURCE_ID}/query"
    assert all(r.path == expected_path and r.status == 200 for r in sent)
    # The sidebar's services rode in the first view's batch (the second found them in the cache).
    services = render_kql(panel("services"), day_ctx(demo_end), schema_of(scope))
    statements = [statement for r in sent for statement in statements_of(r)]
    assert statements.count(services) == 1, "the services list is asked once, never in a request of its own"
    assert not any(statements_of(r) == [services] for r in sent), "never in a request of its own"
    stem = Path(page).stem
    if stem in PAGE_VIEWS:
        assert len(statements) >= len(PAGE_VIEWS[stem]()) + 1

    at.run()
    no_exception(at)
    assert len(fake.requests) == before + len(sent), "answers within the TTL come from the shared cache"


@pytest.mark.parametrize("scope", SCOPES)
def test_the_sidebar_lists_the_services_that_report_to_the_logs_api(
    fake: FakeLogsApi, signed_in: Path, monkeypatch: pytest.MonkeyPatch, day: dict[str, str],
    demo_frames: dict[str, pd.DataFrame], demo_end: datetime, scope: str,
) -> None:
    connect(monkeypatch, fake, scope)
    at = run_page("pages/requests.py", **day)
    requests = demo_frames["requests"]
    in_day = requests[(requests["timestamp"] >= demo_end - timedelta(days=1)) & (requests["timestamp"] < demo_end)]
    assert at.sidebar.multiselect(key="f.services").options == sorted(set(in_day["cloud_RoleName"]))


def _failing(scope: str, kql: str) -> Fault:
    if scope == "workspace":  # one item of the batch fails, the batch itself answers 200
        return Fault(status=500, match=kql, times=1)
    # A multi-statement query fails whole on a semantic error; asked alone, the statement fails again.
    return Fault(status=400, body=semantic_error("Failed to resolve column 'Nope'"), match=kql, times=2)


@pytest.mark.parametrize("scope", SCOPES)
def test_a_failed_sub_query_shows_its_message_on_its_panel_while_the_others_render_and_the_next_run_recovers(
    fake: FakeLogsApi, signed_in: Path, monkeypatch: pytest.MonkeyPatch, day: dict[str, str], demo_end: datetime,
    scope: str,
) -> None:
    connect(monkeypatch, fake, scope)
    fake.fail_queries(_failing(scope, render_kql(panel("requests.operations"), day_ctx(demo_end), schema_of(scope))))
    at = run_page("pages/requests.py", **day)
    no_exception(at)
    errors = [e.value for e in at.main.error]
    assert len(errors) == 1 and errors[0].startswith("Operations could not be loaded.")
    assert ("The Logs API failed" if scope == "workspace" else "rejected this panel's query") in errors[0]
    assert len(at.main.metric) == 3 and len(at.main.get("plotly_chart")) == 2, "the other panels render"
    assert not at.main.dataframe

    at.run()
    no_exception(at)
    assert not at.main.error and len(at.main.dataframe) == 1, "the fault cleared: the panel is back"


def everything_shown(at: AppTest) -> str:
    """Every element of the page and the sidebar, as its protobuf text, and the URL's parameters."""
    def walk(node: Any) -> Iterator[Any]:
        yield node
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    protos = [str(node.proto) for node in walk(at._tree) if getattr(node, "proto", None) is not None]
    return "\n".join([*protos, repr(at.query_params.to_dict() if hasattr(at.query_params, "to_dict")
                                    else dict(at.query_params))])


@pytest.mark.parametrize("page", PAGE_FILES)
def test_secrets_never_reach_the_page_the_url_or_the_logs(
    fake: FakeLogsApi, signed_in: Path, monkeypatch: pytest.MonkeyPatch, day: dict[str, str],
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str], page: str,
) -> None:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)  # set, though the CLI sign-in is the one used
    connect(monkeypatch, fake, "workspace")
    caplog.set_level(logging.DEBUG)
    at = run_page(page, **day)
    no_exception(at)
    assert not at.main.error and at.main.get("plotly_chart"), "the page drew its data over the Logs API"
    output = capfd.readouterr()
    for secret in (SECRET, fake.token):
        assert secret not in everything_shown(at)
        assert secret not in caplog.text and secret not in output.out + output.err


def test_a_service_principal_that_cannot_sign_in_is_explained_without_its_secret(
    fake: FakeLogsApi, signed_in: Path, monkeypatch: pytest.MonkeyPatch, day: dict[str, str],
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
) -> None:
    # A complete service principal: DefaultAzureCredential uses it first; its authority refuses.
    monkeypatch.setenv("AZURE_TENANT_ID", "11111111-2222-4333-8444-555555555555")
    monkeypatch.setenv("AZURE_CLIENT_ID", "66666666-7777-4888-9999-000000000000")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", "https://127.0.0.1:9")
    connect(monkeypatch, fake, "workspace")
    caplog.set_level(logging.DEBUG)
    before = len(fake.requests)
    at = run_page(PAGE_FILES[0], **day)
    no_exception(at)
    errors = [e.value for e in at.main.error]
    assert errors and all("No Azure token for the Logs API" in e and "AZURE_CLIENT_SECRET" in e for e in errors)
    assert len(fake.requests) == before, "no request goes out without a token"
    output = capfd.readouterr()
    assert SECRET not in everything_shown(at)
    assert SECRET not in caplog.text and SECRET not in output.out + output.err
