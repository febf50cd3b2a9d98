"""Live telemetry into a local store: an Application Insights ingestion endpoint.

    python -m telemetry ingest --store data/live.duckdb --port 8502 [--ikey GUID ...]

Scoring services send to it with the connection string
`InstrumentationKey=<guid>;IngestionEndpoint=http://127.0.0.1:8502/`: the OpenTelemetry distro and
exporters, Azure ML's inference server (1.4.x OpenCensus, 1.5.x OpenTelemetry), any SDK speaking
the track protocol. The pieces:

- `envelopes`: a body's items and each item's store row (classic columns, App Insights' limits);
- `segments`: how accepted rows become durable before the answer, readable by the dashboard while
  the endpoint runs, and merged into the store now and then;
- `server`: the HTTP endpoint, its answers and its back-pressure (429/503 with Retry-After).
"""

from __future__ import annotations

from telemetry.ingest.server import TRACK_PATHS, IngestServer, IngestStats

__all__ = ["TRACK_PATHS", "IngestServer", "IngestStats"]
