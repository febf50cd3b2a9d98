#!/usr/bin/env bash
# Start Endpoint Monitor on the local demo data: venv, install, demo store (built when missing
# or more than a few hours old), then the dashboard on http://127.0.0.1:8501.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is needed" >&2; exit 1; }
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
store=${ENDPOINT_MONITOR_STORE:-data/demo.duckdb}
.venv/bin/python -m telemetry demo --store "$store" --if-stale
export ENDPOINT_MONITOR_STORE=$store
exec .venv/bin/python scripts/run_app.py --server.address 127.0.0.1 --server.port "${PORT:-8501}" "$@"
