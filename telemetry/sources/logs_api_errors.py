"""What a Logs API failure means to the person looking at the panel: what failed, why, what to do.

Two kinds of failure reach us: the whole HTTP request failed (`azure.core` exceptions: a status
with an `error` body, no connection, no answer in time, a body that is not JSON), or one query of
a batch failed (`LogsQueryError`: the service's error code and its innermost message, without the
HTTP status). Both become the `TelemetryError` subclass a page shows in the panel's box.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    DecodeError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.monitor.query import LogsQueryError

from telemetry.config import LogsApiSettings
from telemetry.errors import (
    AuthError,
    BadQueryError,
    NotFoundError,
    QueryTimeoutError,
    SourceUnavailableError,
    TelemetryError,
    ThrottledError,
)

__all__ = [
    "DEFAULT_THROTTLE_WAIT_S", "from_azure_error", "from_query_error", "partial_warning", "plain_http_error", "scope_name",
]

# The Logs API counts 200 queries per user per 30 s: a throttled user can try again after that.
DEFAULT_THROTTLE_WAIT_S: Final = 30.0

_ROLE_HINT: Final = (
    "The signed-in identity needs the Log Analytics Reader role on the workspace "
    "(or Monitoring Reader on the Application Insights resource); ask its owner to grant it."
)
_SIGN_IN_HINT: Final = (
    "Sign in again (`az login`, or check the managed identity / AZURE_CLIENT_ID, AZURE_TENANT_ID "
    "and AZURE_CLIENT_SECRET of a service principal), then reload the page."
)

# Error codes the service puts in a failed batch item (no HTTP status reaches us there).
_CODE_KINDS: Final[dict[str, str]] = {
    "badargumenterror": "bad_query",
    "semanticerror": "bad_query",
    "syntaxerror": "bad_query",
    "queryvalidationerror": "bad_query",
    "pathnotfounderror": "not_found",
    "workspacenotfounderror": "not_found",
    "itemnotfounderror": "not_found",
    "resourcenotfound": "not_found",
    "failedtoresolveresource": "not_found",
    "failedtoresolveresourceerror": "not_found",
    "workspacenotplacederror": "not_found",
    "authenticationfailed": "auth_expired",
    "invalidtokenerror": "auth_expired",
    "expiredauthenticationtoken": "auth_expired",
    "insufficientaccesserror": "forbidden",
    "invalidauthenticationtoken": "forbidden",
    "invalidauthenticationtokenaudience": "forbidden",
    "authorizationfailed": "forbidden",
    "forbidden": "forbidden",
    "throttlederror": "throttled",
    "toomanyrequests": "throttled",
    "gatewaytimeout": "timeout",
    "querytimeout": "timeout",
    "serviceunavailable": "unavailable",
    "serviceerror": "server",
    "internalservererror": "server",
}
_STATUS_KINDS: Final[dict[int, str]] = {
    400: "bad_query", 401: "auth_expired", 403: "forbidden", 404: "not_found", 429: "throttled",
    500: "server", 502: "server", 503: "unavailable", 504: "timeout",
}


def scope_name(settings: LogsApiSettings) -> str:
    if settings.workspace_id:
        return f"workspace {settings.workspace_id}"
    return f"Application Insights resource {settings.resource_id}"


def _clip(text: str, limit: int = 600) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _wait_text(seconds: float) -> str:
    until = datetime.fromtimestamp(time.time() + seconds, UTC).strftime("%H:%M:%S")
    return f"Try again in about {seconds:.0f} s (after {until} UTC)."


def _message(kind: str, settings: LogsApiSettings, detail: str, *, retry_after: float | None,
             retried: bool = True) -> TelemetryError:
    """`retried`: the request went through azure-core's retries (a batch item's failure did not:
    the batch as a whole succeeded)."""
    scope = scope_name(settings)
    detail = _clip(detail) or "no details given"
    after_retries = ", still after retries" if retried else ""
    match kind:
        case "auth_expired":
            return AuthError(f"The Logs API did not accept the sign-in for {scope} (401: {detail}). "
                             f"The Azure token is missing or expired. {_SIGN_IN_HINT}")
        case "forbidden":
            return AuthError(f"Access to {scope} was denied (403: {detail}). {_ROLE_HINT}")
        case "not_found":
            what = ("Check the workspace id: it is the Workspace ID (a GUID) on the workspace's Overview page, "
                    "not its name or resource id." if settings.workspace_id else
                    "Check the resource id: /subscriptions/<id>/resourceGroups/<group>/providers/"
                    "microsoft.insights/components/<name>, from the resource's JSON view.")
            return NotFoundError(f"The Logs API could not find {scope} (404: {detail}). {what}")
        case "bad_query":
            return BadQueryError(f"The Logs API rejected this panel's query: {detail}. This is a bug in "
                                 "Endpoint Monitor's query, or a table this workspace does not have yet; "
                                 "the query is shown below.")
        case "throttled":
            wait = retry_after if retry_after is not None else DEFAULT_THROTTLE_WAIT_S
            retrying = "; retrying did not get through" if retried else ""
            return ThrottledError(f"The Logs API is throttling queries for {scope} (429: {detail}){retrying}. "
                                  f"A user may run 200 queries per 30 s and 5 at once. "
                                  f"{_wait_text(wait)}", retry_after=wait)
        case "timeout":
            return QueryTimeoutError(f"The query ran past the Logs API's time limit and was stopped ({detail}). "
                                     "Pick a shorter time range or fewer services, or raise the server timeout "
                                     "setting (at most 600 s).")
        case "unavailable":
            return SourceUnavailableError(f"The Logs API is unavailable (503: {detail}){after_retries}. "
                                          "This is on Azure's side; try again in a minute or two.")
        case _:
            return SourceUnavailableError(f"The Logs API failed ({detail}){after_retries}. This is on "
                                          "Azure's side; try again in a minute, and check status.azure.com if "
                                          "it lasts.")


def from_query_error(error: LogsQueryError, settings: LogsApiSettings) -> TelemetryError:
    """One failed query of a batch (batch items are not retried: the batch itself succeeded)."""
    code = str(error.code or "")
    kind = _CODE_KINDS.get(code.lower(), "server")
    detail = ": ".join(part for part in (code, str(error.message or "")) if part)
    return _message(kind, settings, detail, retry_after=None, retried=False)


# Kusto's own codes in a partial answer's details, and what helps (https://aka.ms/kustoqueryfailures)
_PARTIAL_ADVICE: Final[dict[str, str]] = {
    "E_OVERFLOW": "Kusto's weighted percentiles overflowed on large itemCount weights: this panel's percentiles "
                  "may be wrong over any time range; read them as approximate.",
    "E_QUERY_RESULT_SET_TOO_LARGE": "The answer passed the Logs API's result limit (500,000 rows or 64 MB): a "
                                    "shorter time range or fewer services gets a complete answer.",
    "E_LOW_MEMORY_CONDITION": "The service ran short of memory for this query: a shorter time range usually "
                              "gets a complete answer.",
    "E_RUNAWAY_QUERY": "The query used more of the service's resources than it allows: a shorter time range usually "
                       "gets a complete answer.",
}
_KUSTO_CODE: Final = re.compile(r"\bE_[A-Z_]+\b")


def partial_warning(error: LogsQueryError | None) -> str:
    """The warning for partial data: the service's own reason (the innermost message of each
    detail, which names Kusto's E_… code), and advice that fits that code."""
    reasons: list[str] = []
    for detail in (error.details or []) if error is not None else []:
        inner = detail if isinstance(detail, Mapping) else {}  # the client's models are mappings, not dicts
        while isinstance(inner.get("innererror"), Mapping):
            inner = inner["innererror"]
        if text := str(inner.get("message") or (detail.get("message") if isinstance(detail, Mapping) else "") or ""):
            reasons.append(text)
    if not reasons and error is not None:
        reasons.append(": ".join(part for part in (str(error.code or ""), str(error.message or "")) if part))
    reason = _clip("; ".join(r for r in reasons if r), 400) or "no reason given"
    codes = _KUSTO_CODE.findall(reason)
    advice = " ".join(dict.fromkeys(_PARTIAL_ADVICE[c] for c in codes if c in _PARTIAL_ADVICE)) or \
        "A shorter time range usually gets a complete answer."
    return f"The Logs API returned partial data ({reason}); numbers may be incomplete. {advice}"


def _retry_after(error: HttpResponseError) -> float | None:
    headers = getattr(error.response, "headers", None) or {}
    raw = headers.get("Retry-After")  # seconds; an HTTP-date form falls back to the default wait
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def _detail(error: HttpResponseError) -> str:
    model = error.model
    if isinstance(model, LogsQueryError):  # azure-monitor-query keeps the innermost message
        return f"{model.code}: {model.message}" if model.code else str(model.message)
    body = _body_error(error)
    if body:
        return body
    first_line = error.message.splitlines()[0] if error.message else ""
    return first_line or str(error.reason or "")


def _body_error(error: HttpResponseError) -> str:
    """The code and innermost message of an `error` body the client did not parse into a model."""
    try:
        found = json.loads(error.response.text()) if error.response is not None else None
    except (ValueError, TypeError, AttributeError):
        return ""
    if not isinstance(found, dict) or not isinstance(found.get("error"), dict):
        return ""
    top = inner = found["error"]
    while isinstance(inner.get("innererror"), dict):
        inner = inner["innererror"]
    return f"{top.get('code', '')}: {inner.get('message') or top.get('message', '')}".strip(": ")


def plain_http_error(settings: LogsApiSettings) -> TelemetryError:
    return SourceUnavailableError(
        f"The Logs API endpoint {settings.endpoint} is not HTTPS, and Azure tokens are only sent over "
        "HTTPS. Set an https:// endpoint (https://api.loganalytics.io, or your cloud's).")


def from_azure_error(error: Exception, settings: LogsApiSettings, *, read_timeout_s: float) -> TelemetryError:
    """A failed HTTP request (every query in it fails the same way)."""
    # azure-monitor-query re-raises a DecodeError as a plain HttpResponseError, status 200 and all.
    undecodable = isinstance(error, HttpResponseError) and error.status_code is not None and error.status_code < 300
    if isinstance(error, DecodeError | ValueError | KeyError | TypeError) or undecodable:
        return SourceUnavailableError(
            f"The Logs API answered with a body that is not a Logs API answer ({_clip(str(error), 200)}). "
            "Try again; if it lasts, a proxy between here and Azure may be rewriting responses.")
    if isinstance(error, HttpResponseError) and error.status_code:
        kind = _STATUS_KINDS.get(error.status_code, "server")
        detail = f"{error.status_code} {_detail(error)}" if kind == "server" else _detail(error)
        return _message(kind, settings, detail, retry_after=_retry_after(error))
    if isinstance(error, ClientAuthenticationError):  # no response: the credential gave no token
        return AuthError(f"No Azure token for the Logs API: {_clip(str(error).splitlines()[0], 300)}. {_SIGN_IN_HINT}")
    if isinstance(error, ServiceResponseTimeoutError):
        return QueryTimeoutError(
            f"No answer from the Logs API at {settings.endpoint} within {read_timeout_s:.0f} s "
            f"({_clip(str(error), 200)}). Pick a shorter time range, or try again: the service may be slow.")
    if isinstance(error, ServiceResponseError):
        return SourceUnavailableError(
            f"The connection to the Logs API at {settings.endpoint} broke before the answer was complete "
            f"({_clip(str(error), 200)}). Try again; the panels come back by themselves when it answers.")
    if isinstance(error, ServiceRequestError):
        return SourceUnavailableError(
            f"Could not connect to the Logs API at {settings.endpoint} ({_clip(str(error), 200)}). Check the "
            "network, proxy and the endpoint setting; the panels come back by themselves when it answers.")
    if isinstance(error, AzureError):
        return SourceUnavailableError(f"The Logs API request failed: {_clip(str(error), 300)}.")
    raise error

