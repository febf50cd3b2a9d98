#!/usr/bin/env bash
# Install what the tests need (Python packages, Kusto's language service from npm, Debian's
# Chromium for the browser tests) and run every test. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is needed" >&2; exit 1; }
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-test.txt
npm ci --prefix tests/kql --no-audit --no-fund --silent
if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium for the browser tests (playwright install cannot download here)"
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -q && $sudo_ apt-get install -y -q chromium
fi
exec .venv/bin/python -m pytest "$@"
