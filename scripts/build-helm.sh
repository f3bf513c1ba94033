#!/usr/bin/env bash
# Build the pinned `helm` binary from its official Go module into the harness cache, for the
# render tests (`kubectl kustomize --enable-helm`) and for local installs. A binary already
# built for the pinned version is reused, so only the first run is slow.
#
# Usage: scripts/build-helm.sh [--print-path]
#   --print-path  print where the binary lives (or will live) and exit; nothing is built
# Environment: TALOS_PLATFORM_HARNESS_CACHE (default ~/.cache/talos-platform-harness).
set -euo pipefail

repo_root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=../tests/harness/versions.env
source "$repo_root/tests/harness/versions.env"  # HELM_VERSION, pinned with the harness versions
cache_root="${TALOS_PLATFORM_HARNESS_CACHE:-$HOME/.cache/talos-platform-harness}"
helm_dir="$cache_root/helm-$HELM_VERSION"
helm_bin="$helm_dir/helm"

if [[ "${1:-}" == "--print-path" ]]; then
  echo "$helm_bin"
  exit 0
fi

if [[ -x "$helm_bin" ]] && "$helm_bin" version --short 2>/dev/null | grep -q "^$HELM_VERSION"; then
  echo "build-helm: reusing $helm_bin"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "build-helm: the Go toolchain ('go') is not on PATH; install Go to build helm" >&2
  exit 1
fi

mkdir -p "$helm_dir"
staging="$(mktemp -d "$helm_dir/.build.XXXXXX")"
trap 'rm -rf "$staging"' EXIT

echo "build-helm: building helm $HELM_VERSION (first time only, takes a few minutes)"
# The version string helm reports is set by the linker, as upstream's own build does.
CGO_ENABLED=0 GOBIN="$staging" nice -n 10 go install -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"

"$staging/helm" version --short >/dev/null
mv -f "$staging/helm" "$helm_bin"
echo "build-helm: built $helm_bin"
