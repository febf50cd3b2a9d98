"""A JSON-schema check of scheduled query rules, built from the 2023-12-01 REST spec's definitions
(tests/fixtures/azure/, copied from Azure/azure-rest-api-specs), and ARM's own parameter handling.

Swagger 2.0 is close to JSON Schema; the conversion makes the check what a deployment needs:
- a read-only property (id, etag, createdWithApiVersion…) must not be sent: it becomes `false`;
- an object that lists its properties takes no others, so a misspelt field fails (swagger leaves
  that open, Azure ignores or rejects it later, either way the rule would not be what was meant);
- `required` beside a `$ref` is kept (JSON Schema 2020-12 honours siblings of `$ref`);
- `format: duration` is checked as an ISO 8601 duration.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

DEFINITIONS = Path(__file__).resolve().parent / "fixtures" / "azure" / "scheduledQueryRule_2023-12-01.definitions.json"
_DURATION = re.compile(r"P(?!\Z)(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?\Z")
_PARAMETER = re.compile(r"\[parameters\('([A-Za-z0-9_]+)'\)\]\Z")


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    found: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-ms-"):
            continue
        if key == "properties" and isinstance(value, dict):
            found[key] = {name: False if isinstance(sub, dict) and sub.get("readOnly") else _convert(sub)
                          for name, sub in value.items()}
        elif key == "$ref":
            found[key] = value.replace("#/definitions/", "#/$defs/")
        else:
            found[key] = _convert(value)
    if "properties" in found and "additionalProperties" not in found:
        found["additionalProperties"] = False
    return found


def rule_validator() -> Draft202012Validator:
    spec = json.loads(DEFINITIONS.read_text(encoding="utf-8"))
    schema = {"$defs": _convert(spec["definitions"]), "$ref": "#/$defs/ScheduledQueryRuleResource"}
    checker = FormatChecker()
    checker.checks("duration")(lambda value: not isinstance(value, str) or bool(_DURATION.match(value)))
    return Draft202012Validator(schema, format_checker=checker)


def resolve(value: Any, parameters: dict[str, Any]) -> Any:
    """What ARM deploys for a template value: `[parameters('x')]` takes the parameter's value, a
    leading `[[` is a literal `[`, and any other string starting with `[` would be an expression
    (which a rule made from telemetry must never contain)."""
    if isinstance(value, dict):
        return {k: resolve(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, parameters) for v in value]
    if isinstance(value, str) and value.startswith("[") and not value.startswith("[["):
        matched = _PARAMETER.match(value)
        if matched is None:
            raise AssertionError(f"unexpected ARM expression {value[:80]!r}")
        return parameters[matched.group(1)]
    if isinstance(value, str) and value.startswith("[["):
        return value[1:]
    return value


def deployed_body(template: dict[str, Any], **parameters: Any) -> dict[str, Any]:
    """The REST body ARM sends for the template's one rule: parameters resolved, the template-only
    keys (type, apiVersion, name) taken off, as PUT …/scheduledQueryRules/{name} receives it."""
    values = {name: spec.get("defaultValue") for name, spec in template["parameters"].items()}
    values.update(parameters)
    missing = [name for name, value in values.items() if value is None]
    assert not missing, f"parameters without a value: {missing}"
    (resource,) = template["resources"]
    body = {k: v for k, v in resource.items() if k not in ("type", "apiVersion", "name")}
    return resolve(body, values)
