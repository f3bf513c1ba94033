#!/usr/bin/env bash
# Set up, build the rehearsal harness (cached after the first build), and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
if [ -x scripts/build-harness.sh ]; then
  ./scripts/build-harness.sh
  export TALOS_PLATFORM_REQUIRE_HARNESS=1
fi
exec .venv/bin/python -m pytest -q "$@"
