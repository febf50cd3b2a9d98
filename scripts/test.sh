#!/usr/bin/env bash
# Install what the tests need (Python packages; Node.js and Debian's Chromium when missing;
# Kusto's language service from npm) and run every test. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is needed" >&2; exit 1; }
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-test.txt
sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
missing=()
command -v npm >/dev/null || missing+=(nodejs npm)  # Kusto's language service runs on Node.js
[ -x /usr/bin/chromium ] || missing+=(chromium)    # playwright install cannot download here
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing Debian packages the tests need: ${missing[*]}"
  $sudo_ apt-get update -q && $sudo_ apt-get install -y -q "${missing[@]}"
fi
npm ci --prefix tests/kql --no-audit --no-fund --silent
exec .venv/bin/python -m pytest "$@"
