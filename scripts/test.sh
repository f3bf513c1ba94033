#!/usr/bin/env bash
# Set up, build the rehearsal harness and helm (cached after the first build, see
# docs/harness.md), and run the whole test suite. The harness tests must run, not skip.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build-harness.sh
./scripts/build-helm.sh
export TALOS_PLATFORM_REQUIRE_HARNESS=1
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
