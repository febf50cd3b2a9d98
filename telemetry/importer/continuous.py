"""Where each classic column comes from in a legacy continuous-export item.

Continuous export is another model, not renamed columns: one item a line, the event in a list
under its kind (`{"request": [{...}], "context": {...}, "internal": {...}}`), durations in
100 ns ticks, severity as a word, custom dimensions as a list of one-key objects.
"""

from __future__ import annotations

from typing import Final

from telemetry.importer.columns import Source

__all__ = ["CONTINUOUS_KEYS", "CONTINUOUS_SOURCES"]

CONTINUOUS_KEYS: Final = {
    "request": "requests", "remoteDependency": "dependencies", "basicException": "exceptions", "message": "traces",
}

_TICKS_TO_MS: Final = "CAST(TRY_CAST({} AS DOUBLE) / 10000 AS VARCHAR)"
_SEVERITY: Final = (
    "CASE lower({0}) WHEN 'verbose' THEN '0' WHEN 'information' THEN '1' WHEN 'warning' THEN '2' "
    "WHEN 'error' THEN '3' WHEN 'critical' THEN '4' ELSE {0} END"
)
# the store keeps custom dimensions as one object
_MERGED: Final = (
    "CASE WHEN json_type({0}) = 'ARRAY' THEN CASE WHEN json_array_length({0}) > 0 THEN "
    "CAST(list_reduce(json_extract({0}, '$[*]'), lambda a, b: json_merge_patch(a, b)) AS VARCHAR) END "
    "ELSE {0} END"
)
_CONTEXT: Final[dict[str, Source]] = {
    column: Source((path,))
    for column, path in {
        "timestamp": "$.context.data.eventTime",
        "operation_Id": "$.context.operation.id",
        "operation_ParentId": "$.context.operation.parentId",
        "operation_Name": "$.context.operation.name",
        "session_Id": "$.context.session.id",
        "user_Id": "$.context.user.anonId",
        "user_AuthenticatedId": "$.context.user.authId",
        "user_AccountId": "$.context.user.accountId",
        "application_Version": "$.context.application.version",
        "client_Type": "$.context.device.type",
        "client_Model": "$.context.device.deviceModel",
        "client_OS": "$.context.device.osVersion",
        "client_Browser": "$.context.device.browser",
        "client_IP": "$.context.location.clientip",
        "client_City": "$.context.location.city",
        "client_StateOrProvince": "$.context.location.province",
        "client_CountryOrRegion": "$.context.location.country",
        "cloud_RoleName": "$.context.device.roleName",
        "cloud_RoleInstance": "$.context.device.roleInstance",
        "itemId": "$.internal.data.id",
    }.items()
} | {"customDimensions": Source(("$.context.custom.dimensions",), _MERGED)}


def _item(key: str, fields: dict[str, str | Source]) -> dict[str, Source]:
    """Sources inside the item list `key` (a field name means `key[0].name`), with the context's."""
    item = {c: s if isinstance(s, Source) else Source((f"$.{key}[0].{s}",)) for c, s in fields.items()}
    return _CONTEXT | item


def _first_of(key: str, *fields: str, convert: str = "{}") -> Source:
    return Source(tuple(f"$.{key}[0].{f}" for f in fields), convert)


def _innermost(key: str, *fields: str) -> Source:
    return Source(tuple(f"$.{key}[#-1].{f}" for f in fields))


_CALL: Final[dict[str, str | Source]] = {"id": "id", "name": "name", "success": "success", "itemCount": "count"}
_EXCEPTION: Final = "basicException"

CONTINUOUS_SOURCES: Final[dict[str, dict[str, Source]]] = {
    "requests": _item("request", {
        **_CALL, "url": "url", "resultCode": "responseCode",
        "duration": _first_of("request", "durationMetric.value", convert=_TICKS_TO_MS),
    }),
    "dependencies": _item("remoteDependency", {
        **_CALL, "resultCode": "resultCode", "target": "urlData.host",
        "type": _first_of("remoteDependency", "dependencyTypeName", "type"),
        "data": _first_of("remoteDependency", "commandName", "url"),
        "duration": _first_of("remoteDependency", "durationMetric.value", convert=_TICKS_TO_MS),
    }),
    "exceptions": _item(_EXCEPTION, {
        "type": _first_of(_EXCEPTION, "exceptionType", "typeName"),
        "message": "message", "assembly": "assembly", "method": "method", "handledAt": "handledAt",
        "problemId": _first_of(_EXCEPTION, "problemId", "exceptionGroup"),
        "outerType": "outerExceptionType", "outerMessage": "outerExceptionMessage",
        "outerAssembly": "outerExceptionThrownAtAssembly", "outerMethod": "outerExceptionThrownAtMethod",
        "innermostType": _innermost(_EXCEPTION, "exceptionType", "typeName"),
        "innermostMessage": _innermost(_EXCEPTION, "message"),
        "innermostAssembly": _innermost(_EXCEPTION, "assembly"),
        "innermostMethod": _innermost(_EXCEPTION, "method"),
        "details": Source((f"$.{_EXCEPTION}",)),
        "itemCount": "count",
    }),
    "traces": _item("message", {
        "message": "raw", "severityLevel": _first_of("message", "severityLevel", convert=_SEVERITY), "itemCount": "count",
    }),
}
