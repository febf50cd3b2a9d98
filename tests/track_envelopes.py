"""Track-protocol envelopes in the shapes real exporters send (see the captures described in
tests/test_ingest_real_clients.py), and a small client that posts them to an endpoint."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

IKEY = "5f2c0c52-8f4e-4f0a-9b7e-3c1d2a7e9b10"


def envelope(base_type: str, base_data: dict[str, Any], *, time: str | None = None, ikey: str = IKEY,
             tags: dict[str, str] | None = None, sample_rate: float | None = None) -> dict[str, Any]:
    kind = base_type.removesuffix("Data")
    item: dict[str, Any] = {
        "ver": 1, "name": f"Microsoft.ApplicationInsights.{kind}",
        "time": time or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "iKey": ikey,
        "tags": {"ai.cloud.role": "churn-scorer", "ai.cloud.roleInstance": "vm-1",
                 "ai.internal.sdkVersion": "ulm_py3.11.7:otel1.33.0:ext1.0.0b40", **(tags or {})},
        "data": {"baseType": base_type, "baseData": {"ver": 2, **base_data}},
    }
    if sample_rate is not None:
        item["sampleRate"] = sample_rate
    return item


def request(request_id: str, *, duration: str = "0.00:00:00.120", code: str = "200", success: bool = True,
            **options: Any) -> dict[str, Any]:
    return envelope("RequestData", {"id": request_id, "name": "POST /score", "duration": duration,
                                    "responseCode": code, "success": success, "url": "http://127.0.0.1/score",
                                    "properties": options.pop("properties", {})}, **options)


def trace(message: str, *, severity: Any = 1, properties: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    return envelope("MessageData", {"message": message, "severityLevel": severity, "properties": properties or {}},
                    **options)


def post(url: str, items: list[Any] | bytes, *, ndjson: bool = False, gzipped: bool = False,
         path: str = "v2.1/track") -> tuple[int, dict[str, str], dict[str, Any]]:
    """POST items (or raw bytes) to the endpoint: (status, headers, answer)."""
    if isinstance(items, bytes):
        body = items
    elif ndjson:
        body = "\n".join(json.dumps(i) for i in items).encode()
    else:
        body = json.dumps(items).encode()
    headers = {"Content-Type": "application/x-json-stream" if ndjson else "application/json"}
    if gzipped:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    req = urllib.request.Request(url.rstrip("/") + "/" + path, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as answer:
            return answer.status, dict(answer.headers), json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"{}")
