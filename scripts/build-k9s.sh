#!/usr/bin/env bash
# Build k9s from its official Go module into the harness cache, for benchmarks/side_by_side.py
# only (the dashboard beside k9s on the same harness cluster). No test, CI run or harness build
# needs it: scripts/build-harness.sh and .ci/run never call this. A binary already built for the
# pinned version is reused, so only the first run is slow (10+ minutes on a busy machine).
#
# Usage: scripts/build-k9s.sh [--print-path]
#   --print-path  print where the binary lives (or will live) and exit; nothing is built
# Environment: TALOS_PLATFORM_HARNESS_CACHE (default ~/.cache/talos-platform-harness),
#              K9S_VERSION (default below).
set -euo pipefail

# The release the side-by-side benchmark was recorded with (docs/benchmarks.md).
K9S_VERSION="${K9S_VERSION:-v0.50.16}"
cache_root="${TALOS_PLATFORM_HARNESS_CACHE:-$HOME/.cache/talos-platform-harness}"
k9s_dir="$cache_root/k9s-$K9S_VERSION"
k9s_bin="$k9s_dir/k9s"

if [[ "${1:-}" == "--print-path" ]]; then
  echo "$k9s_bin"
  exit 0
fi

if [[ -x "$k9s_bin" ]]; then
  echo "build-k9s: reusing $k9s_bin"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "build-k9s: the Go toolchain ('go') is not on PATH; install Go to build k9s" >&2
  exit 1
fi

mkdir -p "$k9s_dir"
staging="$(mktemp -d "$k9s_dir/.build.XXXXXX")"
trap 'rm -rf "$staging"' EXIT

echo "build-k9s: building k9s $K9S_VERSION (first time only, takes several minutes)"
# Version stamp and stripping as the upstream release build (.goreleaser.yml) sets them; k9s's
# go.mod has no replace lines, so it installs straight from the module proxy.
CGO_ENABLED=0 GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod" GOBIN="$staging" nice -n 10 go install -trimpath \
  -ldflags "-s -w -X github.com/derailed/k9s/cmd.version=$K9S_VERSION" \
  "github.com/derailed/k9s@$K9S_VERSION"

mv -f "$staging/k9s" "$k9s_bin"
echo "build-k9s: built $k9s_bin"
