"""Drive the real azure-monitor-opentelemetry-exporter as hard as it goes: N scoring calls, each a
SERVER span (RequestData) and a log line with its input and output (MessageData), exported in
batches of 512. Run in the distro's venv by bench/ingest_bench.py:

    python exporter_load.py N    (the connection string from APPLICATIONINSIGHTS_CONNECTION_STRING)

Prints one JSON line: {"calls", "envelopes", "seconds"} from the first call to the last export.
"""

import json
import logging
import sys
import time

from azure.monitor.opentelemetry.exporter import AzureMonitorLogExporter, AzureMonitorTraceExporter
from opentelemetry import trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

calls = int(sys.argv[1])
resource = Resource.create({"service.name": "bench-scorer"})
batch = {"max_queue_size": calls + 1, "max_export_batch_size": 512, "schedule_delay_millis": 200}
traces = TracerProvider(resource=resource)
traces.add_span_processor(BatchSpanProcessor(AzureMonitorTraceExporter(disable_offline_storage=True), **batch))
logs = LoggerProvider(resource=resource)
logs.add_log_record_processor(BatchLogRecordProcessor(AzureMonitorLogExporter(disable_offline_storage=True), **batch))
set_logger_provider(logs)
log = logging.getLogger("scoring")
log.setLevel(logging.INFO)
log.addHandler(LoggingHandler(logger_provider=logs))
log.propagate = False
tracer = traces.get_tracer("bench")
started = time.perf_counter()
for n in range(calls):
    with tracer.start_as_current_span("POST /score", kind=trace.SpanKind.SERVER) as span:
        span.set_attribute("http.method", "POST")
        span.set_attribute("http.status_code", 200)
        log.info(json.dumps({"input": [[n, 2.0, 3.0]], "output": [n * 0.5]}))
traces.force_flush(600_000)
logs.force_flush(600_000)
print(json.dumps({"calls": calls, "envelopes": 2 * calls, "seconds": time.perf_counter() - started}), flush=True)
traces.shutdown()
logs.shutdown()
