"""`python -m telemetry alert PANEL --above N …`: an alert rule for teams that keep rules in git.

    python -m telemetry alert failures.rate --above 0.05 --window 5m --periods 3 --failing 2 \\
        --service churn-regressor --scope workspace --format bicep > failure-rate.bicep
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

from telemetry.alerts import (
    FREQUENCIES,
    MEASURES,
    PANEL_MEASURES,
    WINDOWS,
    Condition,
    arm_json,
    az_command,
    bicep,
    make_rule,
)
from telemetry.filters import Filters, from_query_params, to_query_params

__all__ = ["add_parser", "run"]

# Where each alertable panel lives in the dashboard (the url paths of components/navigation.py).
_PAGE_PATHS = {"requests": "request-rate", "failures": "failure-rate", "latency": "response-times",
               "dependencies": "dependency-calls", "exceptions": "exception-groups", "overview": ""}


def add_parser(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("alert", help="write an Azure Monitor log alert rule for a panel (ARM, Bicep or az)")
    sub.add_argument("panel", choices=sorted(PANEL_MEASURES), metavar="PANEL",
                     help=f"an alertable panel: {', '.join(sorted(PANEL_MEASURES))}")
    when = sub.add_mutually_exclusive_group(required=True)
    when.add_argument("--above", type=float, metavar="N", help="fire when the value is above N")
    when.add_argument("--below", type=float, metavar="N", help="fire when the value is below N")
    sub.add_argument("--measure", choices=sorted(MEASURES), help="what to watch (default: the panel's first)")
    sub.add_argument("--window", default="5m", choices=list(WINDOWS), help="aggregation window (default 5m)")
    sub.add_argument("--frequency", choices=list(FREQUENCIES), help="how often it runs (default: the window)")
    sub.add_argument("--periods", type=int, default=1, help="windows each evaluation looks at (1-6, default 1)")
    sub.add_argument("--failing", type=int, default=1, help="of those, how many must violate (default 1)")
    sub.add_argument("--severity", type=int, default=2, help="0 (critical) … 4 (verbose), default 2")
    sub.add_argument("--scope", choices=("classic", "workspace"), default="workspace",
                     help="the rule's scope: a classic Application Insights resource or a workspace")
    sub.add_argument("--scope-id", default="", help="the scope's resource id (else a template parameter)")
    sub.add_argument("--action-group", default="", help="action group resource id to notify")
    sub.add_argument("--service", action="append", default=[], help="cloud_RoleName; repeat for several")
    sub.add_argument("--operation", help="operation_Name")
    sub.add_argument("--code", help="request result code")
    sub.add_argument("--per-service", action="store_true",
                     help="one alert per service (split by the service dimension) instead of one for them all")
    sub.add_argument("--name", default="", help="the rule's resource name (default: from the panel and filters)")
    sub.add_argument("--dashboard-url", default="http://127.0.0.1:8501/",
                     help="where the dashboard is served, for the link in the rule's description")
    sub.add_argument("--resource-group", default="<resource group>", help="for --format az")
    sub.add_argument("--format", choices=("arm", "bicep", "az"), default="arm")
    sub.add_argument("--out", type=Path, help="write to this file instead of standard output")


def _filters(args: argparse.Namespace) -> Filters:
    params: dict[str, str | list[str]] = {}
    if args.service:
        params["service"] = args.service
    for key, value in (("operation", args.operation), ("code", args.code)):
        if value is not None:
            params[key] = value
    filters, warnings = from_query_params(params)
    if warnings:
        raise ValueError(" ".join(warnings))
    return filters


def _link(base: str, panel: str, filters: Filters) -> str:
    parts = urlsplit(base if "://" in base else f"http://{base}")
    path = parts.path.rstrip("/") + "/" + _PAGE_PATHS[panel.split(".")[0]]
    query = urlencode([*to_query_params(filters).items(), ("panel", panel)], doseq=True)
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def run(args: argparse.Namespace) -> int:
    try:
        filters = _filters(args)
        condition = Condition("above" if args.above is not None else "below",
                              args.above if args.above is not None else args.below, window=args.window,
                              frequency=args.frequency or args.window, periods=args.periods, failing=args.failing,
                              severity=args.severity)
        rule = make_rule(args.panel, condition=condition, filters=filters, schema=args.scope, measure=args.measure,
                         name=args.name, link=_link(args.dashboard_url, args.panel, filters), scope_id=args.scope_id,
                         action_group=args.action_group, per_service=args.per_service)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = {"arm": arm_json, "bicep": bicep}.get(args.format, lambda r: az_command(r, args.resource_group) + "\n")(rule)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out} ({rule.name}: {rule.display_name})", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
