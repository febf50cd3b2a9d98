"""A small Flask scoring app instrumented with the azure-monitor-opentelemetry distro, as an ML
engineer would write one; the tests run it in its own virtual environment with the real packages.

    POST /score {"data": [[1, 2, 3]]}            -> 200 and a prediction per row, a printed JSON line
    POST /score {"data": ..., "fail": "raise"}   -> the handler raises (Flask answers 500)
    POST /score {"data": ..., "fail": "500"}     -> a 500 answered by the handler itself
    POST /score {"data": ..., "dependency": URL} -> first GETs URL (a dependency call)

Started as `python distro_app.py PORT`; the connection string comes from
APPLICATIONINSIGHTS_CONNECTION_STRING, as a deployment would set it.
"""

import json
import logging
import signal
import sys
import urllib.request

from azure.monitor.opentelemetry import configure_azure_monitor

configure_azure_monitor(
    logger_name="scoring",  # the app's own logger; prints are routed to it below
    disable_offline_storage=True,  # a refused item must show as refused, not resent minutes later
    enable_live_metrics=False,  # on by default, and sent to rt.services.visualstudio.com whatever the endpoint
)

from flask import Flask, jsonify, request  # noqa: E402  (instrumented after configure)

app = Flask(__name__)
log = logging.getLogger("scoring")
log.setLevel(logging.INFO)
WEIGHTS = [0.5, -1.0, 2.0]


@app.post("/score")
def score():
    body = request.get_json(force=True)
    rows = body["data"]
    if body.get("dependency"):
        with urllib.request.urlopen(body["dependency"], timeout=10) as answer:
            answer.read()
    if body.get("fail") == "raise":
        try:
            raise ValueError(f"cannot score {len(rows)} rows: feature 3 is out of range")
        except ValueError:
            log.exception("scoring failed")
            raise
    output = [sum(w * x for w, x in zip(WEIGHTS, row)) for row in rows]
    log.info(json.dumps({"input": rows, "output": output}), extra={"model": "seed-model:1"})
    if body.get("fail") == "500":
        return jsonify({"error": "model refused the input"}), 500
    return jsonify(output)


@app.get("/")
def health():
    return "Healthy"


if __name__ == "__main__":
    # SIGTERM's default kills without atexit; exiting normally lets the distro flush what it holds.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log.info("model initialized: %d weights", len(WEIGHTS))
    app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
