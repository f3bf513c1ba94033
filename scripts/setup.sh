#!/usr/bin/env bash
# Create the project's virtual environment (.venv) and install talos-platform into it,
# with the test dependencies. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip setuptools wheel
.venv/bin/python -m pip install --quiet -e '.[test]'
