"""Links that open a panel's KQL in the Azure portal's Logs blade ("Open in Azure Logs").

The portal's share-link format: the query gzip-compressed, base64-encoded and URL-encoded into the
path after `/q/`, the time range as an ISO 8601 `start/end` interval after `/timespan/`, on the
blade of an Azure resource (an Application Insights component, or a Log Analytics workspace by its
ARM id):

    {portal}/#@{tenant}/blade/Microsoft_Azure_Monitoring_Logs/LogsBlade/resourceId/{resource id}
        /source/LogsBlade.AnalyticsShareLinkToQuery/q/{query}/timespan/{start/end}
"""

from __future__ import annotations

import base64
import gzip
from datetime import UTC, datetime
from typing import Final
from urllib.parse import quote

from telemetry.config import CLOUDS, LogsApiSettings, cloud_of
from telemetry.filters import Window

__all__ = ["encode_query", "logs_portal_url"]

_BLADE: Final = "blade/Microsoft_Azure_Monitoring_Logs/LogsBlade"
_SOURCE: Final = "source/LogsBlade.AnalyticsShareLinkToQuery"


def encode_query(kql: str) -> str:
    """gzip + base64 + URL encoding, as the portal's share links carry a query. mtime=0 keeps the
    bytes, and so the link, the same for the same query."""
    packed = base64.b64encode(gzip.compress(kql.encode("utf-8"), mtime=0)).decode("ascii")
    return quote(packed, safe="")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def logs_portal_url(settings: LogsApiSettings, kql: str, window: Window) -> str | None:
    """The Logs blade of the configured resource with `kql` over `window`; None when the portal
    cannot be pointed at the scope (a workspace given by its GUID alone, without its resource id)."""
    resource = settings.resource_id or settings.workspace_resource_id
    if not resource:
        return None
    portal = (cloud_of(settings.endpoint) or CLOUDS["public"]).portal
    tenant = f"@{settings.tenant_id}" if settings.tenant_id else ""
    timespan = quote(f"{_iso(window.start)}/{_iso(window.end)}", safe="")
    return (f"{portal}/#{tenant}/{_BLADE}/resourceId/{quote(resource, safe='')}/{_SOURCE}"
            f"/q/{encode_query(kql)}/timespan/{timespan}")
