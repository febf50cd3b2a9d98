#!/usr/bin/env bash
# Start Endpoint Monitor on the local demo data: venv, install, demo store (built when missing
# or more than a few hours old), then the dashboard on http://127.0.0.1:8501.
# With INGEST_PORT=N it also runs the ingestion endpoint on 127.0.0.1:N beside the dashboard, into
# data/live.duckdb (or ENDPOINT_MONITOR_STORE), which the dashboard then reads; INGEST_IKEYS=a,b
# accepts only those instrumentation keys.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is needed" >&2; exit 1; }
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
if [ -n "${INGEST_PORT:-}" ]; then
  store=${ENDPOINT_MONITOR_STORE:-data/live.duckdb}
  keys=()
  INGEST_IKEYS=${INGEST_IKEYS:-}
  for key in ${INGEST_IKEYS//,/ }; do keys+=(--ikey "$key"); done
  .venv/bin/python -m telemetry ingest --store "$store" --port "$INGEST_PORT" "${keys[@]}" &
  ingest_pid=$!
  # Stopped with the dashboard: SIGTERM lets it merge what it took in into the store.
  trap 'kill -TERM "$ingest_pid" 2>/dev/null || true; wait "$ingest_pid" || true' EXIT
  export ENDPOINT_MONITOR_STORE=$store
  .venv/bin/python scripts/run_app.py --server.address 127.0.0.1 --server.port "${PORT:-8501}" "$@"
  exit
fi
store=${ENDPOINT_MONITOR_STORE:-data/demo.duckdb}
.venv/bin/python -m telemetry demo --store "$store" --if-stale
export ENDPOINT_MONITOR_STORE=$store
exec .venv/bin/python scripts/run_app.py --server.address 127.0.0.1 --server.port "${PORT:-8501}" "$@"
