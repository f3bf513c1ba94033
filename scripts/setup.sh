#!/usr/bin/env bash
# Create the project's virtual environment (.venv) and install talos-platform into it,
# with the test dependencies. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip setuptools wheel
# constraints.txt pins the versions the suite was last run with (Textual's rendering decides the
# snapshot SVGs), so a fresh machine installs exactly what was tested.
# setuptools always adds a notice on how editable installs find the package (a UserWarning): not
# for the user to act on, so it is not printed.
PYTHONWARNINGS=ignore::UserWarning .venv/bin/python -m pip install --quiet -c constraints.txt -e '.[test]'
