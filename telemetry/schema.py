"""The Application Insights tables, in the classic schema the local store keeps.

Every other schema is derived from this one module: the DuckDB DDL, the workspace-based
column names (`AppRequests.TimeGenerated` for `requests.timestamp`) and the schema files the
tests hand to Kusto's language service. Types are Kusto type names.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "CLASSIC_TABLES",
    "ENDPOINT_TABLES",
    "WORKSPACE_TABLES",
    "Schema",
    "columns",
    "workspace_column",
    "workspace_schema",
    "classic_schema",
    "is_endpoint_table",
]

Schema = Literal["classic", "workspace"]

_COMMON_TAIL: Final[dict[str, str]] = {
    "customDimensions": "dynamic",
    "customMeasurements": "dynamic",
    "operation_Name": "string",
    "operation_Id": "string",
    "operation_ParentId": "string",
    "operation_SyntheticSource": "string",
    "session_Id": "string",
    "user_Id": "string",
    "user_AuthenticatedId": "string",
    "user_AccountId": "string",
    "application_Version": "string",
    "client_Type": "string",
    "client_Model": "string",
    "client_OS": "string",
    "client_IP": "string",
    "client_City": "string",
    "client_StateOrProvince": "string",
    "client_CountryOrRegion": "string",
    "client_Browser": "string",
    "cloud_RoleName": "string",
    "cloud_RoleInstance": "string",
    "appId": "string",
    "appName": "string",
    "iKey": "string",
    "sdkVersion": "string",
    "itemId": "string",
    "itemType": "string",
    "itemCount": "int",
}

_CALL_COLUMNS: Final[dict[str, str]] = {
    "success": "string",
    "resultCode": "string",
    "duration": "real",
    "performanceBucket": "string",
}

CLASSIC_TABLES: Final[dict[str, dict[str, str]]] = {
    "requests": {
        "timestamp": "datetime",
        "id": "string",
        "source": "string",
        "name": "string",
        "url": "string",
        **_CALL_COLUMNS,
        **_COMMON_TAIL,
    },
    "dependencies": {
        "timestamp": "datetime",
        "id": "string",
        "target": "string",
        "type": "string",
        "name": "string",
        "data": "string",
        **_CALL_COLUMNS,
        **_COMMON_TAIL,
    },
    "exceptions": {
        "timestamp": "datetime",
        "problemId": "string",
        "handledAt": "string",
        "type": "string",
        "message": "string",
        "assembly": "string",
        "method": "string",
        "outerType": "string",
        "outerMessage": "string",
        "outerAssembly": "string",
        "outerMethod": "string",
        "innermostType": "string",
        "innermostMessage": "string",
        "innermostAssembly": "string",
        "innermostMethod": "string",
        "severityLevel": "int",
        "details": "dynamic",
        **_COMMON_TAIL,
    },
    "traces": {
        "timestamp": "datetime",
        "message": "string",
        "severityLevel": "int",
        **_COMMON_TAIL,
    },
    "customEvents": {"timestamp": "datetime", "name": "string", **_COMMON_TAIL},
}

WORKSPACE_TABLES: Final[dict[str, str]] = {
    "requests": "AppRequests",
    "dependencies": "AppDependencies",
    "exceptions": "AppExceptions",
    "traces": "AppTraces",
    "customEvents": "AppEvents",
}

# Azure ML managed online endpoints' own resource logs (a diagnostic setting sends them to a Log
# Analytics workspace, App Insights or not). They exist only in workspaces, so they have no classic
# name: the local store keeps them under their own table and column names. Columns besides the
# Log Analytics standard ones, as the table reference gives them.
_ENDPOINT_COMMON: Final[dict[str, str]] = {
    "TimeGenerated": "datetime",
    "Type": "string",
    "OperationName": "string",
    "DeploymentName": "string",
}
ENDPOINT_TABLES: Final[dict[str, dict[str, str]]] = {
    "AmlOnlineEndpointTrafficLog": {
        **_ENDPOINT_COMMON,
        "AuthType": "string",
        "AzureMLWorkspaceId": "string",
        "AzureMLWorkspaceName": "string",
        "EndpointName": "string",
        "IdentityData": "string",
        "Location": "string",
        "Method": "string",
        "ModelStatusCode": "int",
        "ModelStatusReason": "string",
        "Path": "string",
        "Protocol": "string",
        "RequestDurationMs": "int",
        "RequestPayloadSize": "int",
        "RequestThrottlingDelayMs": "int",
        "ResponseCode": "int",
        "ResponseCodeReason": "string",
        "ResponseDurationMs": "int",
        "ResponsePayloadSize": "int",
        "ResponseThrottlingDelayMs": "int",
        "TotalDurationMs": "int",
        "UserAgent": "string",
        "XMSClientRequestId": "string",
        "XRequestId": "string",
    },
    "AmlOnlineEndpointConsoleLog": {
        **_ENDPOINT_COMMON,
        "ContainerImageName": "string",
        "ContainerName": "string",
        "InstanceId": "string",
        "Message": "string",
    },
    "AmlOnlineEndpointEventLog": {
        **_ENDPOINT_COMMON,
        "InstanceId": "string",
        "Message": "string",
        "Name": "string",
    },
}
# The query model names every table's time "timestamp" and its weight "itemCount". These logs are
# not sampled (a row is one event), so their weight is the constant 1, which KQL and DuckDB both
# read as an expression wherever a column would go.
_ENDPOINT_LOGICAL: Final[dict[str, str]] = {"timestamp": "TimeGenerated", "itemCount": "1"}
_ENDPOINT_LOGICAL_TYPES: Final[dict[str, str]] = {"timestamp": "datetime", "itemCount": "int"}


def is_endpoint_table(table: str) -> bool:
    """An Azure ML online endpoint log table: workspace-only, kept locally under its own name."""
    return table in ENDPOINT_TABLES


def _endpoint_column(table: str, column: str) -> str:
    if column in _ENDPOINT_LOGICAL:
        return _ENDPOINT_LOGICAL[column]
    if column not in ENDPOINT_TABLES[table]:
        raise KeyError(f"{table} has no column {column}")
    return column

# Classic -> workspace renames that are not a plain capitalisation (convert-classic-resource docs).
_RENAMED: Final[dict[str, str | None]] = {
    "timestamp": "TimeGenerated",
    "duration": "DurationMs",
    "customDimensions": "Properties",
    "customMeasurements": "Measurements",
    "cloud_RoleName": "AppRoleName",
    "cloud_RoleInstance": "AppRoleInstance",
    "operation_Id": "OperationId",
    "operation_Name": "OperationName",
    "operation_ParentId": "ParentId",
    "operation_SyntheticSource": "SyntheticSource",
    "session_Id": "SessionId",
    "user_Id": "UserId",
    "user_AuthenticatedId": "UserAuthenticatedId",
    "user_AccountId": "UserAccountId",
    "application_Version": "AppVersion",
    "appId": "ResourceGUID",
    "iKey": "IKey",
    "sdkVersion": "SDKVersion",
    "itemType": "Type",
    "appName": None,
    "itemId": None,
}
_RENAMED_PER_TABLE: Final[dict[tuple[str, str], str]] = {
    ("dependencies", "type"): "DependencyType",
    ("exceptions", "type"): "ExceptionType",
}
# Columns only the workspace tables have (Log Analytics standard columns).
_WORKSPACE_ONLY: Final[dict[str, str]] = {
    "TenantId": "string",
    "SourceSystem": "string",
    "_ResourceId": "string",
    "_SubscriptionId": "string",
    "_BilledSize": "real",
    "_IsBillable": "string",
}
_WORKSPACE_REFERENCED: Final[dict[str, str]] = {"ReferencedItemId": "string", "ReferencedType": "string"}


def columns(table: str) -> dict[str, str]:
    """Classic column name -> Kusto type for one table."""
    if is_endpoint_table(table):
        return {**_ENDPOINT_LOGICAL_TYPES, **ENDPOINT_TABLES[table]}
    return CLASSIC_TABLES[table]


def workspace_column(table: str, column: str) -> str:
    """The workspace-based name of a classic column; KeyError when the workspace has none."""
    if is_endpoint_table(table):
        return _endpoint_column(table, column)
    if (table, column) in _RENAMED_PER_TABLE:
        return _RENAMED_PER_TABLE[(table, column)]
    if column in _RENAMED:
        renamed = _RENAMED[column]
        if renamed is None:
            raise KeyError(f"{table}.{column} has no workspace-based column")
        return renamed
    if column.startswith("client_"):
        return "Client" + column.removeprefix("client_")
    return column[0].upper() + column[1:]


def classic_schema() -> dict[str, dict[str, str]]:
    return {table: dict(cols) for table, cols in CLASSIC_TABLES.items()}


def workspace_schema() -> dict[str, dict[str, str]]:
    """Workspace table -> column -> type, as Log Analytics shows it."""
    schema: dict[str, dict[str, str]] = {}
    for table, cols in CLASSIC_TABLES.items():
        mapped: dict[str, str] = {}
        for column, kusto_type in cols.items():
            try:
                name = workspace_column(table, column)
            except KeyError:
                continue
            mapped[name] = "bool" if name == "Success" else kusto_type
        mapped.update(_WORKSPACE_ONLY)
        if table in ("requests", "dependencies", "traces"):
            mapped.update(_WORKSPACE_REFERENCED)
        schema[WORKSPACE_TABLES[table]] = mapped
    schema.update({table: {**cols, **_WORKSPACE_ONLY} for table, cols in ENDPOINT_TABLES.items()})
    return schema
