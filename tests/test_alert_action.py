"""The Alert action on the pages (AppTest on the demo store) and the `alert` command line."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from telemetry.alerts import PANEL_MEASURES
from tests.apptest import run_page, window_params
from tests.arm_schema import deployed_body, rule_validator
from tests.conftest import ROOT

WORKSPACE_ID = ("/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/ml-prod/providers/"
                "Microsoft.OperationalInsights/workspaces/ml-logs")


def _toggle(at, key: str):
    return next(t for t in at.toggle if t.key == key)


def test_the_failure_rate_panel_makes_a_rule_with_its_filters_a_preview_and_downloads(
        app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/failures.py", **window_params(demo_end - timedelta(days=1), demo_end),
                  service="churn-regressor")
    alertable = {t.key.removesuffix(".alert") for t in at.toggle if t.key and t.key.endswith(".alert")}
    assert alertable == {"failures.rate", "failures.failed"}  # the tables and code charts have none
    assert not [c for c in at.code if "AggregatedValue" in c.value]  # off: no rule, no query more

    _toggle(at, "failures.rate.alert").set_value(True)
    at.run()
    assert not at.exception and not at.error
    threshold = next(n for n in at.number_input if n.key.startswith("failures.rate.alert.threshold"))
    assert 0 < threshold.value < 1  # a failure rate, from the worst 5-minute window shown
    kql = next(c.value for c in at.code if c.language == "kql" and "AggregatedValue" in c.value)
    assert 'where cloud_RoleName in ("churn-regressor")' in kql and "bin(timestamp, 5m)" in kql
    template = json.loads(next(c.value for c in at.code if c.language == "json"))
    body = deployed_body(template, location="westeurope", scopeResourceId=WORKSPACE_ID.replace(
        "Microsoft.OperationalInsights/workspaces/ml-logs", "microsoft.insights/components/ml"))
    rule_validator().validate(body)
    assert "panel=failures.rate" in body["properties"]["description"]
    assert "service=churn-regressor" in body["properties"]["description"]
    assert any("Would not have fired" in s.value for s in at.success)  # past the worst window: quiet
    assert {b.label for b in at.get("download_button")} >= {"Download ARM JSON", "Download Bicep"}

    # Below the worst window, the preview says when it would have fired; the workspace scope
    # switches the dialect of the rule.
    threshold.set_value(round(threshold.value / 4, 4))
    next(r for r in at.radio if r.key == "failures.rate.alert.scope").set_value("workspace")
    at.run()
    assert any("Would have fired at" in w.value for w in at.warning)
    kql = next(c.value for c in at.code if c.language == "kql" and "AggregatedValue" in c.value)
    assert kql.startswith("AppRequests") and "bin(TimeGenerated, 5m)" in kql


def test_one_alert_per_service_splits_the_rule_and_its_preview(app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/requests.py", **window_params(demo_end - timedelta(days=1), demo_end))
    _toggle(at, "requests.rate.alert").set_value(True)
    at.run()
    next(c for c in at.checkbox if c.key == "requests.rate.alert.per_service").check()
    at.run()
    assert not at.exception and not at.error
    kql = next(c.value for c in at.code if c.language == "kql" and "AggregatedValue" in c.value)
    assert "service = cloud_RoleName" in kql and kql.endswith("| project timestamp, service, AggregatedValue")
    template = json.loads(next(c.value for c in at.code if c.language == "json"))
    (condition,) = template["resources"][0]["properties"]["criteria"]["allOf"]
    assert condition["dimensions"] == [{"name": "service", "operator": "Include", "values": ["*"]}]
    assert any("each service apart" in c.value for c in at.caption)


def test_a_bad_action_group_is_said_on_the_form_and_the_page_still_works(app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/latency.py", **window_params(demo_end - timedelta(days=1), demo_end))
    _toggle(at, "latency.over_time.alert").set_value(True)
    at.run()
    next(t for t in at.text_input if t.key == "latency.over_time.alert.action_group").set_value("on-call team")
    at.run()
    assert not at.exception
    assert any("action group must be a resource id" in e.value for e in at.error)
    assert any("p95" in s for s in (m.value for m in at.markdown)) or at.get("plotly_chart")


def test_the_exception_groups_panel_alerts_on_new_groups(app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/exceptions.py", **window_params(demo_end - timedelta(days=2), demo_end))
    _toggle(at, "exceptions.groups.alert").set_value(True)
    at.run()
    assert not at.exception and not at.error
    kql = next(c.value for c in at.code if c.language == "kql" and "AggregatedValue" in c.value)
    assert "min(timestamp) by problem = problemId, service = cloud_RoleName" in kql
    template = json.loads(next(c.value for c in at.code if c.language == "json"))
    assert template["resources"][0]["properties"]["overrideQueryTimeRange"] == "P1DT5M"
    assert at.success or at.warning  # the preview's verdict


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "telemetry", "alert", *args], cwd=ROOT, capture_output=True,
                          text=True)


@pytest.mark.parametrize("panel", sorted(PANEL_MEASURES))
def test_the_command_line_writes_a_valid_template_for_every_alertable_panel(panel: str) -> None:
    done = _cli(panel, "--above", "3", "--window", "15m", "--frequency", "5m", "--periods", "3", "--failing", "2",
                "--severity", "1", "--scope", "workspace", "--scope-id", WORKSPACE_ID, "--service", "churn-regressor",
                "--dashboard-url", "https://monitor.example/")
    assert done.returncode == 0, done.stderr
    body = deployed_body(json.loads(done.stdout), location="westeurope")
    rule_validator().validate(body)
    assert body["properties"]["scopes"] == [WORKSPACE_ID]
    assert "https://monitor.example/" in body["properties"]["description"]
    assert f"panel={panel}" in body["properties"]["description"]


def test_the_command_line_writes_bicep_and_the_az_command_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "rule.bicep"
    done = _cli("latency.over_time", "--measure", "p99_ms", "--below", "2.5", "--scope", "classic", "--format",
                "bicep", "--out", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "resource rule 'Microsoft.Insights/scheduledQueryRules@2023-12-01'" in text
    assert "threshold: json('2.5')" in text and "operator: 'LessThan'" in text
    assert "param scopeResourceId string\n" in text  # no scope given: a parameter without a default
    done = _cli("requests.rate", "--above", "1000", "--format", "az", "--resource-group", "ml-prod", "--per-service")
    assert done.returncode == 0 and done.stdout.startswith("az monitor scheduled-query create")
    assert "where service includes *" in done.stdout
    assert "--resource-group ml-prod" in done.stdout


def test_the_command_line_refuses_a_bad_rule_with_a_message() -> None:
    done = _cli("failures.rate", "--above", "0.05", "--periods", "2", "--failing", "4")
    assert done.returncode == 2 and "failing periods must be at least 1 and at most" in done.stderr
    done = _cli("failures.rate", "--above", "0.05", "--service", "x" * 300)
    assert done.returncode == 2 and "Ignored `service`" in done.stderr
    assert _cli("latency.slowest", "--above", "1").returncode == 2  # not alertable
